"""Logs as a pipeline reads them: one JSON object a line, naming the dispute a record is
about — given with it, or the one the request's path names."""

from __future__ import annotations

import io
import json
import logging

from config.logs import DISPUTE_ID, DisputeContext, JsonLines, dispute_in_path


def logged(*records: tuple[str, dict[str, object]]) -> list[dict[str, object]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(DisputeContext())
    handler.setFormatter(JsonLines())
    log = logging.getLogger("disputeflow.test-logs")
    log.addHandler(handler)
    log.propagate = False
    try:
        for message, extra in records:
            log.warning(message, extra=extra)
    finally:
        log.removeHandler(handler)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_names_the_dispute_of_its_request() -> None:
    token = DISPUTE_ID.set(dispute_in_path("/api/v1/disputes/DSP-7F3A/decision"))
    try:
        (entry,) = logged(("decision refused", {}))
    finally:
        DISPUTE_ID.reset(token)
    assert entry["dispute_id"] == "DSP-7F3A"
    assert entry["level"] == "warning" and entry["message"] == "decision refused"
    assert entry["logger"] == "disputeflow.test-logs" and "time" in entry


def test_a_record_outside_any_dispute_has_none_and_extras_are_kept() -> None:
    (plain, given) = logged(("started", {}), ("posted", {"dispute_id": "DSP-1", "memo": "CM-1"}))
    assert "dispute_id" not in plain
    assert given["dispute_id"] == "DSP-1" and given["memo"] == "CM-1"


def test_only_dispute_paths_name_a_dispute() -> None:
    assert dispute_in_path("/disputes/DSP-9") == "DSP-9"
    assert dispute_in_path("/disputes/new") is None
    assert dispute_in_path("/api/v1/users/U-1") is None
