"""The typed dispute view writes exactly the JSON the read model always stored, so stored
views, an Update's answer and a GET agree; a view stored by an older version still reads."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from domain.dispute_view import DisputeView, open_level
from domain.models import WorkflowInput
from domain.views import dispute_view

HERE = Path(__file__).parent
# The view the dict-building code of 2026-12-01 stored for this state (byte for byte).
STORED = json.loads((HERE / "data" / "view_of_a_year_old_dispute.json").read_text())


def _state_carried_across_continue_as_new() -> Any:
    """A real state: a dispute a year into daily alerts, as its history carried it."""
    path = HERE.parent / "histories" / "v5_continued_as_new.json"
    for event in json.loads(path.read_text())["events"]:
        attrs = event.get("workflowExecutionContinuedAsNewEventAttributes")
        if attrs:
            data = base64.b64decode(attrs["input"]["payloads"][0]["data"])
            return WorkflowInput.model_validate_json(data).state
    raise AssertionError("no continue-as-new in the history")


def test_the_view_is_the_json_the_read_model_stored() -> None:
    view = dispute_view(_state_carried_across_continue_as_new()).as_json()
    assert json.dumps(view) == json.dumps(STORED)  # same keys, same order, same text
    assert view["opened_at"].endswith("+00:00") and view["disputed_amount"] == "75.00"


def test_a_stored_view_reads_back_unchanged() -> None:
    assert DisputeView.model_validate(STORED).as_json() == STORED


def test_a_view_stored_before_later_fields_still_reads() -> None:
    older = {k: v for k, v in STORED.items()
             if k not in ("findings_ready", "rejections", "turnaround_seconds", "description",
                          "evidence", "line_ids", "closed_at", "close_reason")}
    view = DisputeView.model_validate(older)
    assert view.findings_ready is False and view.rejections == 0 and view.line_ids == []


def test_the_pending_level_is_the_first_open_one() -> None:
    view = DisputeView.model_validate(STORED)
    assert view.status == "pending_approval"
    assert view.pending is not None and view.pending.level == 1
    assert open_level(view.approvals) is view.pending
    closed = view.model_copy(update={"status": "withdrawn"})
    assert closed.pending is None  # only a dispute waiting for approval has one


def test_the_ledgers_refusal_is_in_the_view_only_while_there_is_one() -> None:
    refused = json.loads(json.dumps(STORED))
    refused["credit_memo"] |= {"status": "posting_failed", "posting_error": "HTTP 422: closed",
                               "posting_failed_at": "2026-12-01T10:00:00+00:00"}
    memo = DisputeView.model_validate(refused).as_json()["credit_memo"]
    assert memo["posting_error"] == "HTTP 422: closed"
    assert memo["posting_failed_at"] == "2026-12-01T10:00:00+00:00"
    assert "posting_error" not in DisputeView.model_validate(STORED).as_json()["credit_memo"]
