"""A write is committed before its answer leaves: a client told "created" finds it created,
and a commit that fails is never answered with a success."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def slow_commits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Every commit in this process takes 0.3 s longer; when each one ended."""
    ended: list[float] = []
    real = Session.commit
    main = threading.get_ident()

    def commit(self: Session) -> None:
        if threading.get_ident() != main:  # the API's, not the test's own setup
            time.sleep(0.3)
        real(self)
        ended.append(time.monotonic())

    monkeypatch.setattr(Session, "commit", commit)
    yield ended


def test_the_answer_waits_for_the_commit(stack: Stack, admin_token: str,
                                         slow_commits: list[float]) -> None:
    admin = stack.http(admin_token)
    r = admin.put("/api/v1/sso/group-roles", json={"finance-analysts": ["analyst"]})
    answered = time.monotonic()
    assert r.status_code == 200, r.text
    assert slow_commits and max(slow_commits) <= answered  # committed, then answered
    assert admin.get("/api/v1/sso/group-roles").json() == {"finance-analysts": ["analyst"]}
