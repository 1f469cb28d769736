"""Hostile input from the OpenAPI document itself: Schemathesis generates requests for every
operation with the admin, client services and auditor tokens. No 500, every response
conforms to the documented schema and status codes. Bounded example count for CI.

(Schemathesis' own pytest plugin does not run under pytest 9, so its per-operation
Hypothesis strategies are driven directly.)"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import People
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e
EXAMPLES = 12
# Business rules (unknown account, duplicate email, ...) reject schema-valid data with 422
# by design; every other check stays on.
EXCLUDED = [positive_data_acceptance]


def test_every_operation_with_three_roles(stack: Stack, people: People,
                                          admin_token: str) -> None:
    schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json")
    tokens = (admin_token, people.tokens["cs"], people.tokens["auditor"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def exercise(case: Any) -> None:
            for token in tokens:
                case.call_and_validate(base_url=stack.base_url, excluded_checks=EXCLUDED,
                                       headers={"Authorization": f"Bearer {token}"})

        try:
            exercise()
        except Exception as exc:
            raise AssertionError(f"{operation.method.upper()} {operation.path}: {exc}") from exc
