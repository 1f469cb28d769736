"""What every command runs with and what it answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.errors import AppError
from api.temporal_gateway import TemporalGateway
from config.settings import Settings
from db.session import session_scope
from domain.dispute_view import DisputeView

T = TypeVar("T")


async def in_db(settings: Settings, fn: Callable[..., T], /, *, readonly: bool = False,
                **kwargs: Any) -> T:
    """Run ``fn(session, **kwargs)`` in one transaction on a worker thread (async code)."""

    def call() -> T:
        session: Session
        with session_scope(settings.database_url, readonly=readonly) as session:
            return fn(session, **kwargs)

    return await run_in_threadpool(call)


@dataclass(frozen=True)
class Commands:
    """The database and the workflow engine, as one API process holds them."""

    settings: Settings
    gateway: TemporalGateway
    # Told how long each decision took, by channel and outcome (the API's Prometheus metrics).
    observe_decision: Callable[[str, str, float], None] | None = None

    async def in_db(self, fn: Callable[..., T], /, *, readonly: bool = False,
                    **kwargs: Any) -> T:
        """``fn(session, **kwargs)`` in one transaction, off the event loop."""
        return await in_db(self.settings, fn, readonly=readonly, **kwargs)


@dataclass(frozen=True)
class Outcome:
    """What a command did. ``view`` is the dispute afterwards, as the workflow answered it
    (no timeline: only the database has the audit events). ``processing``: accepted, so
    durable, but not finished within the wait (the ledger is slow); ``view`` is then the
    dispute as the read model has it, with what was recorded so far. ``replayed``: this
    exact request (same Idempotency-Key, or the same button on the same level) had already
    been applied; nothing new was, and ``view`` is the dispute as it is now."""

    view: DisputeView
    message: str
    processing: bool = False
    replayed: bool = False


class Refused(AppError):
    """A command refused by the dispute's state or the policy (wrong state, missing role,
    segregation of duties): nothing was changed, and the refusal is in the audit trail."""
