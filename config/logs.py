"""How the API and the worker log: one JSON object a line (DISPUTEFLOW_LOG_FORMAT=json, the
default: what log pipelines parse), or plain text for a terminal. Every record carries the
dispute it is about when there is one — from the request's path in the API, from the
activity's workflow (whose id is the dispute's) in the worker — so one dispute's story can be
pulled out of a day's logs."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

DISPUTE_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("dispute_id",
                                                                        default=None)
DISPUTE_IN_PATH = re.compile(r"/disputes/([A-Za-z0-9_-]{1,40})(?:/|$)")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message",
                                                                             "dispute_id"}


def dispute_in_path(path: str) -> str | None:
    match = DISPUTE_IN_PATH.search(path)
    return match.group(1) if match and match.group(1) != "new" else None


class DisputeContext(logging.Filter):
    """Adds ``dispute_id``: given with the record, else the request's, else the running
    activity's workflow id when that workflow is a dispute."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "dispute_id", None) is None:
            record.dispute_id = DISPUTE_ID.get() or _activity_dispute()
        return True


def _activity_dispute() -> str | None:
    try:
        from temporalio import activity

        if activity.in_activity():
            info = activity.info()
            if info.workflow_type == "DisputeWorkflow":
                return info.workflow_id
    except Exception:  # logging must never fail
        return None
    return None


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage()}
        dispute = getattr(record, "dispute_id", None)
        if dispute:
            entry["dispute_id"] = dispute
        entry.update({k: v for k, v in record.__dict__.items()
                      if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(log_format: str, level: int = logging.INFO) -> None:
    """The root logger's one handler, for the API's and the worker's processes."""
    handler = logging.StreamHandler()
    handler.addFilter(DisputeContext())
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(dispute_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class DisputeOfRequest:
    """ASGI middleware: the dispute a request's path names, for the records logged while it
    is answered."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = DISPUTE_ID.set(dispute_in_path(scope.get("path", "")))
        try:
            await self.app(scope, receive, send)
        finally:
            DISPUTE_ID.reset(token)
