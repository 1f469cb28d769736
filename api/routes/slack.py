"""``POST /slack/interactions``: Slack's signed interactivity endpoint.

Order matters: the signature (and its 5-minute window) is checked on the raw body before
anything is parsed; a refusal is a 401 and an audit event. A click becomes the command
layer's ``decide`` on channel "slack" (``api/commands``): the button names its memo and
level, so a double click or Slack's redelivery is one decision. Slack wants an
answer within 3 seconds: the click is acknowledged as soon as it is verified, parsed and
written down (``db.slack_clicks``: Slack never redelivers an acknowledged click, so one whose
API process dies is taken over by another, see :func:`keep_clicks`), the decision runs in a
task, and its outcome always reaches the person through ``response_url``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from activities.slack import web_client
from activities.slack_blocks import REASON_BLOCK, reject_modal
from api import commands
from api import slack_actions as sa
from api.commands import DecisionRequest, Refused, refusals
from api.deps import commands_for, in_db
from api.errors import AppError, error_body
from config.settings import Settings
from db import audit, ratelimit, slack_clicks
from db.models import User
from db.users import Principal, to_principal
from domain.codes import DECIDED_STATUS

log = logging.getLogger("disputeflow.slack")
router = APIRouter(tags=["slack"])
# Decisions from clicks run in the background, at most this many at a time per API process:
# a flood of clicks then waits here (cheaply) instead of starving the acknowledgements of
# CPU and the database pool of connections (bench/bench_decisions.py measures both).
DECISIONS_AT_ONCE = 8
# A process holds the clicks it is deciding for this long, renewing every RECOVER_EVERY_S;
# a click of a process that died is taken over once its lease has run out.
CLICK_LEASE = timedelta(seconds=60)
RECOVER_EVERY_S = 15.0
CLICKS_KEPT_AFTER_DONE = timedelta(days=1)


def _principal(session: Session, *, slack_user_id: str) -> Principal | None:
    """The active Disputeflow user linked to this Slack account, if any."""
    user = session.scalar(select(User).where(User.slack_user_id == slack_user_id))
    return to_principal(user) if user is not None and user.active else None


def _signature_refused(session: Session, *, client: str, problem: str,
                       timestamp: str | None, now: datetime) -> int | None:
    """Audit a request whose signature failed, as a failure of its client (counted apart
    from token failures). Past ``ratelimit.MAX_FAILURES`` in a window the client is told to
    wait (seconds returned) and the rest of its refusals are not audited one by one: a
    flood of forged requests must not fill the audit trail, nor hold the audit chain's lock
    that every decision takes. Correctly signed requests are never held back by this."""
    key = f"slack-signature:{client}"
    wait = ratelimit.retry_after(session, client=key, now=now)
    if wait:
        return wait
    failures = ratelimit.record_failure(session, client=key, now=now)
    locked = failures >= ratelimit.MAX_FAILURES
    audit.append(session, [audit.NewEvent(
        actor="slack", action="slack.signature_refused", subject="slack:interactions",
        message=f"Refused a request to /slack/interactions from {client}: {problem}."
        + (f" That is {failures} within a minute: further ones are answered 429 and not "
           "audited one by one until the minute is over." if locked else ""),
        data={"problem": problem, "timestamp": (timestamp or "")[:20], "client": client,
              "failures_in_window": failures})])
    return None


@dataclass
class SlackRuntime:
    """What one API process keeps while it answers Slack: the tasks that outlive their
    requests (drained on shutdown), the bound on decisions at once, and the kept clicks it
    holds (their leases are renewed). Nothing a decision depends on: that is in the
    database and the workflow."""

    slots: asyncio.Semaphore
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    held: set[int] = field(default_factory=set)


def runtime(app: FastAPI) -> SlackRuntime:
    found: SlackRuntime | None = getattr(app.state, "slack_runtime", None)
    if found is None:
        found = app.state.slack_runtime = SlackRuntime(asyncio.Semaphore(DECISIONS_AT_ONCE))
    return found


def _spawn(app: FastAPI, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """A task that outlives the request (kept referenced until it is done)."""
    tasks = runtime(app).tasks
    task = asyncio.create_task(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


async def drain(app: FastAPI, *, within_s: float = 10.0) -> None:
    """On shutdown, let in-flight Slack decisions finish and send their replies (a deploy
    must not leave an approver without an answer); cancel what is still running after
    ``within_s`` so no connection is left half-open."""
    tasks = set(runtime(app).tasks)
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=within_s)
    for task in pending:
        task.cancel()
    if pending:
        log.warning("cancelled %d Slack replies still running at shutdown", len(pending))
        await asyncio.gather(*pending, return_exceptions=True)


@router.post("/slack/interactions", summary="Slack interactivity (signed)")
async def interactions(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not settings.slack_enabled or not settings.slack_signing_secret:
        raise AppError("not_found", "Slack is not configured on this server; set "
                       "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to turn it on.")
    body = await request.body()
    timestamp = request.headers.get("x-slack-request-timestamp")
    problem = sa.signature_problem(settings.slack_signing_secret, body, timestamp,
                                   request.headers.get("x-slack-signature"))
    if problem:
        client = request.client.host if request.client else "unknown"
        wait = await in_db(settings, _signature_refused, client=client, problem=problem,
                           timestamp=timestamp, now=datetime.now(UTC))
        if wait:
            raise AppError("rate_limited", "Too many requests that were not from Slack came "
                           f"from your address; try again in {wait} s.", {"retry_after": wait})
        return JSONResponse(error_body("unauthenticated", f"This request is not from Slack: "
                                       f"{problem}. Nothing was done."), status_code=401)
    try:
        action = sa.parse(body)
    except ValueError as exc:
        raise AppError("validation_error", f"The payload is not a Slack interaction: {exc}. "
                       "Nothing was done.") from None
    if action is None:
        return Response(status_code=200)  # not one of our buttons: acknowledge, do nothing
    if action.kind == "reject_submit" and not action.reason:
        return JSONResponse({"response_action": "errors",
                             "errors": {REASON_BLOCK: "Say why you reject it."}})
    if action.kind == "reject":
        _spawn(request.app, _reject_or_say_why(request.app, settings, action))
        return Response(status_code=200)
    click_id = await in_db(settings, slack_clicks.receive, action=action.to_record(),
                           now=datetime.now(UTC), lease=CLICK_LEASE)
    _start(request.app, settings, action, click_id)
    if action.kind == "reject_submit":
        return JSONResponse({"response_action": "clear"})
    return Response(status_code=200)


def _request(action: sa.Action) -> DecisionRequest:
    return DecisionRequest(decision="approve" if action.kind == "approve" else "reject",
                           comment=action.reason, level=action.ref.l,
                           memo_number=action.ref.m)


async def _clicker(settings: Settings, action: sa.Action) -> Principal | None:
    """Who clicked; a click from a Slack account linked to no user is refused, audited."""
    principal = await in_db(settings, _principal, readonly=True,
                            slack_user_id=action.slack_user_id)
    if principal is None:
        await in_db(settings, refusals.record, actor=f"slack:{action.slack_user_id}",
                    dispute_id=action.ref.d, command="decide", channel="slack",
                    code="unknown_slack_user", message=sa.UNKNOWN_USER,
                    request={**_request(action).audited(),
                             "slack_user_id": action.slack_user_id})
    return principal


def _start(app: FastAPI, settings: Settings, action: sa.Action, click_id: int) -> None:
    runtime(app).held.add(click_id)
    _spawn(app, _decide_and_reply(app, settings, action, click_id))


async def _decide_and_reply(app: FastAPI, settings: Settings, action: sa.Action,
                            click_id: int) -> None:
    try:
        try:
            async with runtime(app).slots:
                words = await _decide(app, settings, action)
        except Exception:
            log.exception("a Slack decision failed")
            words = ("Something went wrong on our side. Check the dispute before trying again; "
                     "a decision is never applied twice.")
        await sa.reply(action.response_url, words, slack_api_url=settings.slack_api_url)
        try:
            await in_db(settings, slack_clicks.done, click_id=click_id, now=datetime.now(UTC))
        except Exception as exc:  # kept open: taken over later, decided once, answered again
            log.warning("could not close Slack click %d: %s", click_id, type(exc).__name__)
    finally:
        runtime(app).held.discard(click_id)


async def recover_clicks(app: FastAPI, settings: Settings) -> int:
    """Renew the leases of the clicks this process holds, take over (and decide) those whose
    process died, forget those answered a day ago; how many were taken over."""
    now = datetime.now(UTC)
    await in_db(settings, slack_clicks.renew, ids=list(runtime(app).held), now=now,
                lease=CLICK_LEASE)
    claimed = await in_db(settings, slack_clicks.claim_stale, now=now, lease=CLICK_LEASE)
    await in_db(settings, slack_clicks.prune, done_before=now - CLICKS_KEPT_AFTER_DONE)
    for click_id, record in claimed:
        log.warning("taking over Slack click %d, left undecided by a stopped API process",
                    click_id)
        _start(app, settings, sa.Action.from_record(record), click_id)
    return len(claimed)


async def keep_clicks(app: FastAPI, settings: Settings) -> None:
    """The API's background loop while Slack is on: :func:`recover_clicks`, at start (a
    restart finds its own clicks) and every ``RECOVER_EVERY_S``."""
    while True:
        try:
            await recover_clicks(app, settings)
        except Exception as exc:  # the database may be down for a while: try again later
            log.warning("could not look after kept Slack clicks: %s", type(exc).__name__)
        await asyncio.sleep(RECOVER_EVERY_S)


async def _decide(app: FastAPI, settings: Settings, action: sa.Action) -> str:
    """The click's decision, and the words for the person who clicked."""
    principal = await _clicker(settings, action)
    if principal is None:
        return sa.UNKNOWN_USER
    request, ref = _request(action), action.ref
    try:
        outcome = await commands.decide(commands_for(app), principal=principal, dispute_id=ref.d,
                                        request=request, channel="slack")
    except Refused as err:
        return f"{err.message} Nothing was changed."
    except AppError as err:
        return f"Nothing was changed: {err.message}"
    if outcome.replayed:
        return f"{outcome.message} Nothing else was changed."
    verb = DECIDED_STATUS[request.decision]
    if outcome.processing:  # accepted, so durable, but not finished within the API's wait
        return (f"You {verb} level {ref.l} of credit memo {ref.m}. It is recorded and still "
                "being processed (for example posted to the ledger); the dispute shows the "
                "outcome shortly.")
    return f"You {verb} level {ref.l} of credit memo {ref.m}. {outcome.message}"


async def _reject_or_say_why(app: FastAPI, settings: Settings, action: sa.Action) -> None:
    """:func:`_reject_click`, and a word to the person whatever goes wrong in it."""
    try:
        await _reject_click(app, settings, action)
    except Exception:
        log.exception("a Slack reject click failed")
        await sa.reply(action.response_url, "Something went wrong on our side; nothing was "
                       "changed. Click Reject again in a moment.",
                       slack_api_url=settings.slack_api_url)


async def _reject_click(app: FastAPI, settings: Settings, action: sa.Action) -> None:
    """Open the reason modal (the trigger expires in 3 s), or explain why not: the workflow
    is asked first, so nobody types a reason for a rejection they may not make."""
    principal = await _clicker(settings, action)
    words = sa.UNKNOWN_USER if principal is None else None
    if principal is not None:
        try:
            await commands.may_decide(commands_for(app), principal=principal,
                                      dispute_id=action.ref.d, request=_request(action),
                                      channel="slack")
        except Refused as err:
            words = f"{err.message} Nothing was changed."
        except AppError as err:
            words = f"Nothing was changed: {err.message}"
    if words is None:
        modal = reject_modal(sa.modal_metadata(action), memo_number=action.ref.m,
                             level=action.ref.l)
        client = web_client(settings, timeout=2, retries=0)
        try:
            await run_in_threadpool(client.views_open, trigger_id=action.trigger_id or "",
                                    view=modal)
            return
        except (SlackApiError, OSError) as exc:
            log.warning("views.open failed: %s", type(exc).__name__)
            words = "Slack did not open the rejection form in time; click Reject again."
    await sa.reply(action.response_url, words, slack_api_url=settings.slack_api_url)
