"""How workflow inputs, results and activity arguments become Temporal payloads: pydantic
JSON (exact Decimals, timezone-aware datetimes), as temporalio's pydantic converter — with
one difference that matters for a worker holding a thousand disputes.

The SDK builds a payload converter for every workflow instance, and temporalio's pydantic
converter keeps its type adapters (a compiled pydantic schema each) per converter: every
cached dispute held its own copies, and every Update on a dispute compiled its argument's
schema again for that dispute. Here the adapters are cached once per process, shared by all
converters; a type adapter is immutable once built, so sharing it cannot leak state from
one workflow into another. The payloads are byte for byte those of
``temporalio.contrib.pydantic.pydantic_data_converter``, so saved histories replay.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

# Bounded: a type hint built per workflow run (a class of a module the sandbox re-imports)
# would otherwise add an adapter per run. Our hints are a few dozen.
_adapter = functools.lru_cache(maxsize=1024)(TypeAdapter)


def type_adapter(hint: Any) -> TypeAdapter[Any]:
    """The process-wide adapter for a type hint (a fresh one for an unhashable hint)."""
    try:
        hash(hint)
    except TypeError:
        return TypeAdapter(hint)
    return _adapter(hint)


class SharedAdapterJSONConverter(PydanticJSONPlainPayloadConverter):
    """pydantic JSON whose decoding uses the process-wide adapters."""

    def __init__(self) -> None:
        super().__init__(max_cached_type_adapters=0)  # its own cache would go unused

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        return type_adapter(Any if type_hint is None else type_hint).validate_json(payload.data)


class PayloadConverter(CompositePayloadConverter):
    """Temporal's default encodings, with pydantic JSON in place of plain JSON."""

    def __init__(self) -> None:
        super().__init__(*(
            SharedAdapterJSONConverter() if isinstance(c, JSONPlainPayloadConverter) else c
            for c in DefaultPayloadConverter.default_encoding_payload_converters))


DATA_CONVERTER = DataConverter(payload_converter_class=PayloadConverter)
