"""The benchmark's split of a decision's time (bench/latency_split.py): the parts must come
from the workflow task that accepted the named Update, or the README's account of where
the time goes would be made of the wrong task's timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from bench.latency_split import Sent, densest, split

T0 = 1_800_000_000.0


def event(kind: EventType.ValueType, at: float, update: str | None = None) -> HistoryEvent:
    e = HistoryEvent(event_type=kind)
    e.event_time.FromDatetime(datetime.fromtimestamp(T0 + at, UTC))
    if update is not None:
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name = update
    return e


def task(at: float, queued: float, ran: float) -> list[HistoryEvent]:
    return [event(EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, at),
            event(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, at + queued),
            event(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, at + queued + ran)]


def test_the_parts_are_those_of_the_task_that_accepted_the_named_update() -> None:
    history = [
        *task(0.0, 0.5, 0.5),  # the first task: nothing to do with the decision
        *task(10.0, 0.002, 0.030),
        event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, 10.032,
              "submit_investigation"),
        *task(20.0, 0.001, 0.025),
        event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, 20.026, "decide"),
        *task(30.0, 0.5, 0.5),  # a later task (a timer) must not be taken
    ]
    parts = split(history, Sent("d-1", sent=T0 + 19.990, answered=T0 + 20.040), "decide")
    assert parts is not None
    api, queue, worker, answer = (round(p * 1000, 3) for p in parts)
    assert (api, queue, worker, answer) == (10.0, 1.0, 25.0, 14.0)


def test_a_history_without_the_update_gives_no_parts() -> None:
    history = [*task(0.0, 0.001, 0.002),
               event(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, 0.004, "withdraw")]
    assert split(history, Sent("d-1", T0, T0 + 1), "decide") is None


def test_densest_finds_the_bunch_and_when_it_came() -> None:
    arrivals = [100.0, 100.5, 101.0, 102.00, 102.05, 102.10, 102.15, 103.0]
    assert densest(arrivals, 0.2) == (4, 2.0)
    assert densest(arrivals, 0.01) == (1, 0.0)
    assert densest([], 0.2) == (0, 0.0)
