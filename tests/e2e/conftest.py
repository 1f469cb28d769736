"""End-to-end fixtures: the real Temporal dev server for the session, and per test a fresh
database, seeded users and a running worker + API."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.processes import DevServer, free_port, start_dev_server
from tests.conftest import People, seed
from tests.support.stack import Stack


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    root: Path = tmp_path_factory.mktemp("temporal")
    server = start_dev_server(root / "temporal.db", port=free_port(), ui_port=None,
                              log_file=root / "temporal.log")
    yield server
    server.stop()


@pytest.fixture
def admin_token() -> str:
    return "adm_" + secrets.token_urlsafe(24)


@pytest.fixture
def people(db_url: str) -> People:
    return seed(db_url)


@pytest.fixture
def stack(dev_server: DevServer, db_url: str, admin_token: str, people: People) -> Iterator[Stack]:
    s = Stack.create(temporal_address=dev_server.address, db_url=db_url,
                     admin_token=admin_token)
    yield s
    s.stop()
