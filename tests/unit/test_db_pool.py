"""Each API and worker replica sizes its PostgreSQL pool from the settings, so a deployment
with many replicas can keep under the server's connection limit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from sqlalchemy.pool import QueuePool

from config.settings import Settings, get_settings
from db.session import get_engine


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_pool_takes_its_size_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None,
) -> None:
    monkeypatch.setenv("DISPUTEFLOW_DB_POOL_SIZE", "3")
    monkeypatch.setenv("DISPUTEFLOW_DB_MAX_OVERFLOW", "4")
    # A URL of its own: no other test's engine is replaced (nothing connects here).
    engine = get_engine(f"postgresql://nobody@127.0.0.1:1/pool_{uuid.uuid4().hex[:8]}")
    assert isinstance(engine.pool, QueuePool)
    assert engine.pool.size() == 3
    assert engine.pool._max_overflow == 4  # no public reader for it


def test_defaults_leave_room_for_a_few_replicas(fresh_settings: None) -> None:
    settings = Settings()
    assert (settings.disputeflow_db_pool_size, settings.disputeflow_db_max_overflow) == (10, 20)


@pytest.mark.parametrize(("name", "value"), [
    ("disputeflow_db_pool_size", 0), ("disputeflow_db_pool_size", 1000),
    ("disputeflow_db_max_overflow", -1),
])
def test_impossible_pool_sizes_are_refused_at_start_up(name: str, value: int) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})
