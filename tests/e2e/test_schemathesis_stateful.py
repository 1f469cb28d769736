"""Hostile sequences, not just hostile requests: Schemathesis' stateful phase chains
operations through the links it infers from the OpenAPI document (a dispute id from
``POST /disputes`` or a list page feeds ``GET /disputes/{id}``, ``/investigation``,
``/decision``, ``/withdraw``, ...) and checks every response: no 500, schema conformance,
documented status codes, and its stateful checks (a resource it just created must be there;
one it just withdrew must not misbehave). Run with the admin, client services and auditor
tokens, and the analyst's so investigations on real disputes are reached. Bounded for CI.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import People
from tests.e2e.helpers import as_user, dispute_body
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
# Business rules (unknown account, a decision out of turn, ...) refuse schema-valid data with
# 4xx by design; every other check stays on.
EXCLUDED = [positive_data_acceptance]
SCENARIOS = 10
STEPS = 6


def _machine(schema: Any, base_url: str, token: str, seen: list[tuple[str, str, int]]) -> Any:
    base = schema.as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base_url, "headers": {"Authorization": f"Bearer {token}"}}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            seen.append((case.method.upper(), case.path, response.status_code))

        def validate_response(self, response: Any, case: Any,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, excluded_checks=EXCLUDED,
                                   transport_kwargs=kwargs or None, recorder=self.recorder)

    return Machine


def test_linked_sequences_with_four_roles(stack: Stack, people: People,
                                          admin_token: str) -> None:
    # Real disputes to be found by the list operation and followed through its links.
    with as_user(stack, people, "cs") as cs:
        for invoice, line, amount in (("INV-1001", "L1", "250.00"), ("INV-OLD", "O1", "50.00")):
            r = cs.post("/api/v1/disputes", json=dispute_body(
                invoice_number=invoice, line_ids=[line], disputed_amount=amount))
            assert r.status_code == 201, r.text
    # The dispute operations, whose links chain into a dispute's life; every operation on
    # its own is fuzzed by test_schemathesis.py.
    schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json").include(
        path_regex=r"^/api/v1/disputes")
    seen: list[tuple[str, str, int]] = []
    for token in (admin_token, people.tokens["cs"], people.tokens["auditor"],
                  people.tokens["analyst"]):
        _machine(schema, stack.base_url, token, seen).run(settings=settings(
            max_examples=SCENARIOS, stateful_step_count=STEPS, deadline=None,
            derandomize=True, database=None, suppress_health_check=list(HealthCheck)))
    # The run must have gone somewhere: a dispute reached through a link, not only refusals.
    # (200, or 409 for a real dispute in the wrong state; a made-up id answers 404.)
    assert any(path.startswith("/api/v1/disputes/{dispute_id}") and status in (200, 409)
               for _, path, status in seen), sorted(set(seen))
    assert not [s for s in seen if s[2] >= 500], [s for s in seen if s[2] >= 500]
