"""Slack activities: approval prompts, their update once decided, thread notes, alerts.

Each activity is idempotent through ``db.slack_messages`` (a retry never double-posts) and
talks to Slack with slack-sdk's retry handlers: 429 waits for ``Retry-After``, 5xx and
connection failures back off; what still fails raises, so Temporal retries the activity.
The workflow must run these off its decision path (a Slack outage delays messages, never
approvals). With Slack not configured every activity returns at once without doing anything.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.client import RemoteDisconnected
from typing import Any, TypeVar
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from sqlalchemy.orm import Session

from activities import slack_blocks as blocks
from activities.defn import defn
from config.settings import Settings
from db import disputes, slack_messages
from db.session import session_scope
from db.slack_messages import (
    PROMPT,
    MessageKey,
    Outgoing,
    Recipient,
    recipients,
)
from db.users import user_names
from domain.codes import OPEN_LEVEL_STATUSES
from domain.slack_steps import (
    AlertManagers,
    LevelDecided,
    PromptLevel,
    SlackAlert,
    SlackLevelRef,
    SlackStep,
    SlackSteps,
    SlackThreadNote,
)

log = logging.getLogger("disputeflow.slack")
T = TypeVar("T")

# Slack answers these with ok=false: retrying cannot help, so the recipient is skipped.
PERMANENT_ERRORS = frozenset({
    "channel_not_found", "user_not_found", "users_not_found", "not_in_channel",
    "is_archived", "account_inactive", "cannot_dm_bot", "user_disabled", "message_not_found",
    "cant_update_message", "edit_window_closed", "msg_too_long", "invalid_blocks",
})


class _AnyServerError(ServerErrorRetryHandler):
    """Every 5xx, not only 500/503: gateways in front of Slack answer 502/504 too."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest,
                   response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        return response is not None and response.status_code >= 500


def web_client(settings: Settings, *, timeout: int = 10, retries: int = 3) -> WebClient:
    """A WebClient for ``settings.slack_api_url`` that retries 429 / 5xx / network errors."""
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url,
                       timeout=timeout, retry_handlers=[])
    if retries:
        backoff = BackoffRetryIntervalCalculator(backoff_factor=0.25)
        client.retry_handlers.append(ConnectionErrorRetryHandler(
            max_retry_count=retries, interval_calculator=backoff,
            error_types=[URLError, ConnectionResetError, RemoteDisconnected, TimeoutError]))
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=retries))
        client.retry_handlers.append(_AnyServerError(max_retry_count=retries,
                                                     interval_calculator=backoff))
    return client


def _level(view: Mapping[str, Any], level: int) -> Mapping[str, Any] | None:
    return next((a for a in view.get("approvals") or [] if a["level"] == level), None)


class _Run:
    """One batch of Slack steps: an outbox row (one state change's steps) or one activity.

    Reads each dispute (without its timeline, which no message shows) and its people's
    names once. What Slack accepted — posted messages' ``ts``, prompts now showing their
    outcome — is recorded in the next transaction the batch opens, else in its last one
    (:meth:`finish`), also when a later call fails: a retry must not post those again. So
    a state change costs one transaction per step plus one, not three or four per step
    (the worker's CPU per decision, bench/bench_decisions.py)."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.sent: list[tuple[int, str, str]] = []
        self.decided: list[int] = []
        self._views: dict[str, dict[str, Any] | None] = {}
        self._names: dict[frozenset[str], dict[str, str]] = {}

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A transaction that first records what is waiting to be recorded."""
        sent, decided = self.sent, self.decided
        self.sent, self.decided = [], []
        try:
            with session_scope(self.db_url) as s:
                slack_messages.mark_all_sent(s, sent)
                slack_messages.mark_decided(s, decided)
                yield s
        except BaseException:
            self.sent[:0], self.decided[:0] = sent, decided  # not recorded: still waiting
            raise

    @contextmanager
    def finish(self, settle: Settle | None = None) -> Iterator[None]:
        """Around the batch's steps: the last transaction records what is left and runs
        ``settle`` (the dispatcher's outbox row: done, or failed with the error)."""
        failure: Exception | None = None
        ended = False  # the steps ran to their end or failed (not interrupted)
        try:
            yield
            ended = True
        except Exception as exc:
            failure, ended = exc, True
            raise
        finally:
            if self.sent or self.decided or (settle is not None and ended):
                with self.transaction() as s:
                    if settle is not None and ended:
                        settle(s, failure)

    def view(self, session: Session, dispute_id: str) -> dict[str, Any] | None:
        if dispute_id not in self._views:
            self._views[dispute_id] = disputes.get_view(session, dispute_id,
                                                        with_timeline=False)
        return self._views[dispute_id]

    def names(self, session: Session, view: Mapping[str, Any]) -> dict[str, str]:
        ids = frozenset(slack_messages.named_ids(view))
        if ids not in self._names:
            self._names[ids] = user_names(session, ids)
        return self._names[ids]


# Called in a batch's last transaction with the batch's failure (None when it succeeded).
Settle = Callable[[Session, Exception | None], None]


class SlackActivities:
    def __init__(self, settings: Settings, db_url: str | None = None) -> None:
        self.settings = settings
        self.db_url = db_url or settings.database_url
        self._client: WebClient | None = None

    @property
    def client(self) -> WebClient:
        if self._client is None:
            self._client = web_client(self.settings)
        return self._client

    def _open_level(self, s: Session, ref: SlackLevelRef, run: _Run,
                    ) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
        """The view and the level when that level of that memo still waits for a decision."""
        view = run.view(s, ref.dispute_id)
        if view is None or not blocks.memo_matches(view, ref.memo_number):
            return None
        approval = _level(view, ref.level)
        if approval is None or approval["status"] not in OPEN_LEVEL_STATUSES:
            return None
        return view, approval

    def _one(self, step: Callable[[_Run], T]) -> T:
        """A step as an activity of its own: a batch of one."""
        run = _Run(self.db_url)
        with run.finish():
            return step(run)

    @staticmethod
    def _reserve(s: Session, outgoing: list[tuple[Outgoing, dict[str, Any]]],
                 ) -> list[tuple[int, Outgoing, dict[str, Any]]]:
        """Reserve each message once per key; those to post now (not posted before)."""
        ids = slack_messages.reserve_all(s, [o for o, _ in outgoing])
        return [(row_id, o, message) for row_id, (o, message) in zip(ids, outgoing, strict=True)
                if row_id is not None]

    def _post(self, run: _Run, reserved: list[tuple[int, Outgoing, dict[str, Any]]]) -> int:
        """Post reserved messages; each one Slack accepted waits in ``run`` to be recorded.
        Returns how many were posted; those Slack refuses for good are skipped."""
        posted = 0
        for row_id, o, message in reserved:
            try:
                resp = self.client.chat_postMessage(channel=o.channel, thread_ts=o.thread_ts,
                                                    unfurl_links=False, **message)
            except SlackApiError as err:
                if not _permanent(err):
                    raise
                log.warning("Slack refused a %s message to %s: %s", o.key.kind, o.channel,
                            err.response.get("error"))
                continue
            run.sent.append((row_id, str(resp["channel"]), str(resp["ts"])))
            posted += 1
        return posted

    def _prompts(self, view: Mapping[str, Any], ref: SlackLevelRef, people: list[Recipient],
                 names: dict[str, str], note: str | None = None,
                 ) -> list[tuple[Outgoing, dict[str, Any]]]:
        return [(Outgoing(MessageKey(ref.memo_number, ref.level, PROMPT, r.slack_user_id),
                          dispute_id=ref.dispute_id, user_id=r.user_id, channel=r.slack_user_id),
                 {"text": blocks.prompt_text(view, ref.level),
                  "blocks": blocks.prompt_blocks(view, ref.level, recipient=r.name, names=names,
                                                 public_url=self.settings.public_url,
                                                 note=note)})
                for r in people]

    @defn(name="slack_prompt_level")
    def slack_prompt_level(self, req: SlackLevelRef) -> int:
        """DM every eligible approver of a pending level; returns how many were posted."""
        return self._one(lambda run: self._prompt_level(req, run))

    def _prompt_level(self, req: SlackLevelRef, run: _Run) -> int:
        if not self.settings.slack_enabled:
            return 0
        with run.transaction() as s:
            found = self._open_level(s, req, run)
            if found is None:
                return 0
            view, approval = found
            roles = [approval["role"]]
            if approval["status"] == "escalated" and approval.get("escalate_to"):
                roles.append(approval["escalate_to"])
            people = recipients(s, view, req.level, roles)
            reserved = self._reserve(s, self._prompts(view, req, people, run.names(s, view)))
        return self._post(run, reserved)

    @defn(name="slack_level_decided")
    def slack_level_decided(self, req: SlackLevelRef) -> int:
        """Replace every prompt of a decided (or voided) level: no buttons, the outcome."""
        return self._one(lambda run: self._level_decided(req, run))

    def _level_decided(self, req: SlackLevelRef, run: _Run) -> int:
        if not self.settings.slack_enabled:
            return 0
        with run.transaction() as s:
            current = run.view(s, req.dispute_id)
            rows = [r for r in slack_messages.level_messages(s, req.memo_number, req.level)
                    if not r.decided]
            view = current
            if current and not blocks.memo_matches(current, req.memo_number):
                # An earlier memo's prompts say it was rejected if it was, else voided.
                past = slack_messages.memo_view(s, current, req.memo_number)
                decided = past and _level(past, req.level)
                view = past if decided and decided["status"] in blocks.DECIDED else current
            names = run.names(s, view) if view and rows else {}
        if view is None or not rows:
            return 0
        new_blocks = blocks.decided_blocks(view, req.memo_number, req.level, names=names,
                                           public_url=self.settings.public_url)
        result = blocks.outcome(view, req.memo_number, req.level, names)
        if new_blocks is None or result is None:
            return 0  # still waiting: the buttons stay
        updated = 0
        for row in rows:  # a retry updates only the others again (harmless twice anyway)
            try:
                self.client.chat_update(channel=row.channel, ts=row.ts, blocks=new_blocks,
                                        text=blocks.mrkdwn(result[1], 3000))
                updated += 1
            except SlackApiError as err:
                if not _permanent(err):
                    raise
                log.warning("Slack could not update message %s: %s", row.ts,
                            err.response.get("error"))
            run.decided.append(row.id)
        return updated

    @defn(name="slack_thread_note")
    def slack_thread_note(self, req: SlackThreadNote) -> int:
        """A reminder or escalation in each prompt's thread; escalation also prompts the
        escalation role's approvers. Returns how many messages were posted."""
        return self._one(lambda run: self._thread_note(req, run))

    def _thread_note(self, req: SlackThreadNote, run: _Run) -> int:
        if not self.settings.slack_enabled:
            return 0
        ref = SlackLevelRef(dispute_id=req.dispute_id, memo_number=req.memo_number,
                            level=req.level)
        icon = ":alarm_clock:" if req.kind == "reminder" else ":rotating_light:"
        with run.transaction() as s:
            found = self._open_level(s, ref, run)
            if found is None:
                return 0
            view, approval = found
            escalate_to = approval.get("escalate_to") if req.kind == "escalation" else None
            people = recipients(s, view, req.level, [escalate_to]) if escalate_to else []
            fresh = self._reserve(s, self._prompts(
                view, ref, people, run.names(s, view) if people else {}, note=req.text))
            # Prompts posted before (fresh ones carry the note themselves, and have no ts).
            notes = self._reserve(s, [
                (Outgoing(MessageKey(req.memo_number, req.level, req.kind, p.slack_user_id),
                          dispute_id=req.dispute_id, user_id=p.user_id, channel=p.channel,
                          thread_ts=p.ts),
                 {"text": blocks.mrkdwn(req.text, 3000),
                  "blocks": blocks.note_blocks(req.text, icon=icon)})
                for p in slack_messages.level_messages(s, req.memo_number, req.level)
                if not p.decided])
        return self._post(run, fresh) + self._post(run, notes)

    @defn(name="slack_alert_managers")
    def slack_alert_managers(self, req: SlackAlert) -> bool:
        """Post to SLACK_MANAGERS_CHANNEL once per key; False when not configured or sent."""
        return self._one(lambda run: self._alert_managers(req, run))

    def _alert_managers(self, req: SlackAlert, run: _Run) -> bool:
        channel = self.settings.slack_managers_channel
        if not self.settings.slack_enabled or not channel:
            return False
        digest = hashlib.sha256(req.key.encode()).hexdigest()[:34]
        link = (f"{self.settings.public_url.rstrip('/')}/disputes/{req.dispute_id}"
                if req.dispute_id else None)
        with run.transaction() as s:
            reserved = self._reserve(s, [(
                Outgoing(MessageKey(f"alert:{digest}", 0, "alert", channel[:40]),
                         dispute_id=req.dispute_id[:40], user_id=None, channel=channel[:40]),
                {"text": blocks.mrkdwn(req.text, 3000),
                 "blocks": blocks.note_blocks(req.text, icon=":rotating_light:", link=link)})])
        return bool(self._post(run, reserved))

    @defn(name="slack_steps")
    def slack_steps(self, req: SlackSteps) -> int:
        """The Slack steps of one state change, in order, as one activity (workflows from
        before the outbox start it). How many steps ran."""
        return self.run_steps(req)

    def run_steps(self, req: SlackSteps, *, settle: Settle | None = None) -> int:
        """The steps of one state change, in order, as one batch (:class:`_Run`). Each step
        is idempotent, so a retry after a partial failure repeats only what did not happen.
        ``settle`` runs in the batch's last transaction, with its failure if any."""
        run = _Run(self.db_url)
        with run.finish(settle):
            for step in req.steps:
                self._run_step(step, run)
        return len(req.steps)

    def _run_step(self, step: SlackStep, run: _Run) -> None:
        if isinstance(step, PromptLevel):
            self._prompt_level(step.arg, run)
        elif isinstance(step, LevelDecided):
            self._level_decided(step.arg, run)
        elif isinstance(step, AlertManagers):
            self._alert_managers(step.arg, run)
        else:
            self._thread_note(step.arg, run)


def _permanent(err: SlackApiError) -> bool:
    return err.response.status_code == 200 and err.response.get("error") in PERMANENT_ERRORS
