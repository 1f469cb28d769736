"""Sessions resolved on every page: the bootstrap admin's dies when DISPUTEFLOW_ADMIN_TOKEN
changes, a deactivated user's dies with them, an ended one never comes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db import web_sessions
from db.models import User
from db.session import session_scope
from db.users import BOOTSTRAP_ADMIN
from tests.conftest import People

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=12)


def test_bootstrap_admin_session_follows_the_admin_token(db_url: str) -> None:
    with session_scope(db_url) as s:
        secret = web_sessions.start(s, user_id="admin", via="admin_token", client="127.0.0.1",
                                    now=NOW, lifetime=DAY, credential="first-admin-secret")
    with session_scope(db_url) as s:
        live = web_sessions.resolve(s, secret=secret, now=NOW, admin_token="first-admin-secret")
        assert live is not None and live.principal == BOOTSTRAP_ADMIN
        assert web_sessions.resolve(s, secret=secret, now=NOW,
                                    admin_token="rotated-admin-secret") is None
        assert web_sessions.resolve(s, secret=secret, now=NOW, admin_token=None) is None
        assert web_sessions.resolve(s, secret=secret, now=NOW + DAY,
                                    admin_token="first-admin-secret") is None


def test_a_deactivated_user_and_an_ended_session_stay_out(db_url: str,
                                                          seeded: People) -> None:
    uid = seeded.ids["cs"]
    with session_scope(db_url) as s:
        secret = web_sessions.start(s, user_id=uid, via="sso", client="127.0.0.1", now=NOW,
                                    lifetime=DAY)
        other = web_sessions.start(s, user_id=uid, via="sso", client="127.0.0.1", now=NOW,
                                   lifetime=DAY)
    with session_scope(db_url) as s:
        live = web_sessions.resolve(s, secret=secret, now=NOW, admin_token=None)
        assert live is not None and live.principal.id == uid and live.via == "sso"
        assert web_sessions.end(s, secret=secret, actor=uid, now=NOW)
        assert not web_sessions.end(s, secret=secret, actor=uid, now=NOW)  # once
        assert web_sessions.resolve(s, secret=secret, now=NOW, admin_token=None) is None
        assert web_sessions.live_count(s, user_id=uid, now=NOW) == 1
        user = s.get(User, uid)
        assert user is not None
        user.active = False
    with session_scope(db_url) as s:
        assert web_sessions.resolve(s, secret=other, now=NOW, admin_token=None) is None
        for forged in ("", "dfs_", "dfl_" + "x" * 40, "dfs_é", "dfs_" + "x" * 200):
            assert web_sessions.resolve(s, secret=forged, now=NOW, admin_token=None) is None
