"""Where a decision's time goes, read from Temporal's own record rather than from timers
added to our code: each accepted Update's history holds the workflow task that ran it, with
the server's timestamps for when that task was scheduled, picked up by the worker and
completed. With the load generator's send and answer times (the same machine's clock) they
split a decision into four parts:

- *API to engine*: the API authenticates, reads the decision's inputs and sends the Update;
- *engine queue*: the task waits for the worker to pick it up;
- *worker*: the workflow code, its snapshot (the read model, audit, Slack outbox) and back;
- *engine to answer*: the server records the task, answers the API, the API reads the new
  state and answers.

Also where the arrivals of an open-loop phase bunch up: a Poisson stream at 10 a second
brings a dozen decisions within 200 ms now and then, a momentary rate far above the
average that the machine's capacity, not its latency, has to absorb.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from bench.harness import percentile

BURST_WINDOW = 0.2  # seconds: where an open-loop phase's arrivals bunch up, looked at so
SEGMENTS = ("API to engine", "engine queue", "worker", "engine to answer")
_ACCEPTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
_TASK = (EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
         EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)


@dataclass(frozen=True)
class Sent:
    """One request as the load generator saw it (wall-clock seconds, ``time.time()``)."""

    workflow_id: str
    sent: float
    answered: float


def split(events: Sequence[HistoryEvent], request: Sent, update: str,
          ) -> tuple[float, float, float, float] | None:
    """The four parts (seconds) of the first accepted Update named ``update``; None when the
    history has none (the request was refused, or answered without an Update)."""
    at = next((i for i, e in enumerate(events) if e.event_type == _ACCEPTED
               and e.workflow_execution_update_accepted_event_attributes
               .accepted_request.input.name == update), None)
    if at is None:
        return None
    times: dict[int, float] = {}
    for e in reversed(events[:at]):  # the task that accepted it: completed, started, scheduled
        if e.event_type in _TASK and e.event_type not in times:
            times[e.event_type] = e.event_time.ToDatetime().timestamp()
            if len(times) == len(_TASK):
                break
    if len(times) < len(_TASK):
        return None
    scheduled, started, completed = (times[t] for t in _TASK)
    return (scheduled - request.sent, started - scheduled, completed - started,
            request.answered - completed)


async def report(client: Client, requests: Iterable[Sent], *, label: str,
                 update: str = "decide") -> None:
    """Print each part's p50 / p99, and the parts of the slowest 1% (what the tail is made of)."""
    rows: list[tuple[float, tuple[float, float, float, float]]] = []
    for r in requests:
        events = [e async for e in client.get_workflow_handle(r.workflow_id)
                  .fetch_history_events()]
        parts = split(events, r, update)
        if parts is not None:
            rows.append((r.answered - r.sent, parts))
    if not rows:
        print(f"{label}: no accepted Update to split")
        return
    rows.sort()
    tail = rows[-max(1, len(rows) // 100):]
    print(f"{label}: where the time goes ({len(rows)} decisions; ms, p50 / p99 / slowest 1%)")
    for k, name in enumerate(SEGMENTS):
        ms = [parts[k] * 1000 for _, parts in rows]
        slow = sum(parts[k] for _, parts in tail) * 1000 / len(tail)
        print(f"    {name:<18} {percentile(ms, 50):6.1f} / {percentile(ms, 99):6.1f} / "
              f"{slow:6.1f}")


def densest(arrivals: Sequence[float], window: float) -> tuple[int, float]:
    """The most arrivals within any ``window`` seconds, and when (seconds after the first)."""
    times = sorted(arrivals)
    best, when = 0, 0.0
    for i, t in enumerate(times):
        n = bisect.bisect_right(times, t + window) - i
        if n > best:
            best, when = n, t - times[0]
    return best, when
