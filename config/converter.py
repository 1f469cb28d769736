"""How workflow inputs, results and activity arguments become Temporal payloads: pydantic
JSON (exact Decimals, timezone-aware datetimes), as temporalio's pydantic converter — with
one difference that matters for a worker holding a thousand disputes.

The SDK builds a payload converter for every workflow instance, and temporalio's pydantic
converter keeps its type adapters (a compiled pydantic schema each) per converter: every
cached dispute held its own copies, and every Update on a dispute compiled its argument's
schema again for that dispute. Here the adapters are cached once per process, shared by all
converters; a type adapter is immutable once built, so sharing it cannot leak state from
one workflow into another: one instance of temporalio's own JSON converter serves them all.
The payloads are byte for byte those of ``temporalio.contrib.pydantic.pydantic_data_converter``,
so saved histories replay.
"""

from __future__ import annotations

from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

# temporalio's own pydantic JSON converter, one instance for the process: its bounded cache
# of type adapters is then the one cache every workflow's converter uses.
SHARED_JSON = PydanticJSONPlainPayloadConverter()


class PayloadConverter(CompositePayloadConverter):
    """Temporal's default encodings, with the shared pydantic JSON in place of plain JSON."""

    def __init__(self) -> None:
        super().__init__(*(
            SHARED_JSON if isinstance(c, JSONPlainPayloadConverter) else c
            for c in DefaultPayloadConverter.default_encoding_payload_converters))


DATA_CONVERTER = DataConverter(payload_converter_class=PayloadConverter)
