"""How every Disputeflow activity is declared.

temporalio cancels a thread-pool activity (worker shutdown, a cancelled workflow) by raising an
exception *inside its thread*, wherever it happens to be: in the middle of a socket connect
(slack-sdk's urllib then leaks the half-open socket) or of a database transaction (the pooled
connection is left in an unknown state). Our activities are short and idempotent by key, so
letting one finish and discarding its result is always safe; an interrupted I/O is not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from temporalio import activity

F = TypeVar("F", bound=Callable[..., Any])


def defn(name: str) -> Callable[[F], F]:
    """``@activity.defn`` under our rule: never interrupted mid-I/O (see module docstring)."""
    return activity.defn(name=name, no_thread_cancel_exception=True)
