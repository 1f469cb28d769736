"""``POST /slack/interactions``: Slack's signed interactivity endpoint.

Order matters: the signature (and its 5-minute window) is checked on the raw body before
anything is parsed; a refusal is a 401 and an audit event. A click becomes the same
workflow Update the REST API sends, with the same update id, so a decision made twice —
double click, Slack's redelivery, or the API and Slack — is applied once. Slack wants an
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
from activities.slack_blocks import DECIDED, REASON_BLOCK, memo_matches, reject_modal
from api import slack_actions as sa
from api.deps import in_db
from api.errors import AppError, error_body
from api.routes.disputes import _grants, _update_id
from approvals.sod import DecisionContext, Delegation, check_decision
from config.settings import Settings
from db import audit, disputes, ratelimit, slack_clicks
from db.models import User
from db.slack_messages import memo_view, view_names
from db.users import Principal, to_principal
from domain.codes import Decision
from domain.models import Actor, DecideLevel, DelegationGrant

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
INFLIGHT_KEEP_S = 30.0
POLICY_REFUSALS = ("forbidden", "sod_violation", "wrong_state")


@dataclass
class Clicked:
    """Who clicked (None: not a Disputeflow user) and the dispute as the read model has it."""

    principal: Principal | None
    view: dict[str, Any] | None  # as seen from the clicked memo (see memo_view)
    current_memo: str | None = None
    grants: list[DelegationGrant] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)


def _load(session: Session, *, slack_user_id: str, dispute_id: str,
          memo_number: str) -> Clicked:
    user = session.scalar(select(User).where(User.slack_user_id == slack_user_id))
    principal = to_principal(user) if user is not None and user.active else None
    current = disputes.get_view(session, dispute_id, with_timeline=False)
    view = current and (memo_view(session, current, memo_number) or current)
    memo = (current or {}).get("credit_memo") or {}
    return Clicked(principal=principal, view=view, current_memo=memo.get("number"),
                   grants=_grants(session, principal=principal) if principal else [],
                   names=view_names(session, view) if view else {})


def _audit_refusal(session: Session, *, actor: str, dispute_id: str, code: str, message: str,
                   request: dict[str, Any]) -> None:
    audit.append(session, [audit.NewEvent(
        actor=actor, action="decision.refused", subject=dispute_id,
        message=f"Refused decision by {actor} via Slack: {message}",
        data={"code": code, "channel": "slack", "request": request})])


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
    requests (drained on shutdown), decisions in flight by update id (double clicks), the
    bound on decisions at once, and the kept clicks it holds (their leases are renewed)."""

    slots: asyncio.Semaphore
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    inflight: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
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
        _spawn(request.app, _reject_click(request.app, settings, action))
        return Response(status_code=200)
    click_id = await in_db(settings, slack_clicks.receive, action=action.to_record(),
                           now=datetime.now(UTC), lease=CLICK_LEASE)
    _start(request.app, settings, action, click_id)
    if action.kind == "reject_submit":
        return JSONResponse({"response_action": "clear"})
    return Response(status_code=200)


def _request_data(action: sa.Action) -> dict[str, Any]:
    return {"decision": "approve" if action.kind == "approve" else "reject",
            "credit_memo": action.ref.m, "level": action.ref.l,
            "slack_user_id": action.slack_user_id, "comment": action.reason}


def _settled(clicked: Clicked, ref: sa.ButtonRef) -> tuple[str, str | None] | None:
    """(words, refusal code or None) when there is nothing to decide; None otherwise."""
    view = clicked.view
    if view is None:
        return f"There is no dispute {ref.d}; nothing was changed.", None
    approval = next((a for a in view["approvals"] if a["level"] == ref.l), None)
    if approval is not None and approval["status"] in DECIDED:
        return sa.already_decided(approval, clicked.names), None
    if approval is None or not memo_matches(view, ref.m) or ref.m != clicked.current_memo:
        now = f" (now {clicked.current_memo})" if clicked.current_memo else ""
        return (f"Credit memo {ref.m} was changed or withdrawn{now}, so this message is out "
                "of date; nothing was changed.", "wrong_state")
    if view["status"] != "pending_approval" or approval["status"] == "voided":
        return (f"Level {ref.l} of credit memo {ref.m} no longer waits for a decision (the "
                f"dispute is {view['status'].replace('_', ' ')}); nothing was changed.",
                "wrong_state")
    if approval["status"] == "waiting":
        return (f"Level {ref.l} is not open yet: an earlier level must be decided first. "
                "Nothing was changed.", "wrong_state")
    return None


async def _precheck(settings: Settings, action: sa.Action) -> tuple[Clicked, str | None]:
    """Who clicked, and the words to answer with if the click cannot become a decision."""
    clicked = await in_db(settings, _load, slack_user_id=action.slack_user_id,
                          dispute_id=action.ref.d, memo_number=action.ref.m)
    actor = clicked.principal.id if clicked.principal else f"slack:{action.slack_user_id}"
    refusal: tuple[str, str | None] | None
    if clicked.principal is None:
        refusal = (sa.UNKNOWN_USER, "unknown_slack_user")
    else:
        refusal = _settled(clicked, action.ref)
    if refusal is None:
        return clicked, None
    words, code = refusal
    if code is not None:
        await in_db(settings, _audit_refusal, actor=actor, dispute_id=action.ref.d, code=code,
                    message=words, request=_request_data(action))
    return clicked, words


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
    clicked, words = await _precheck(settings, action)
    if words is not None or clicked.principal is None:
        return words or sa.UNKNOWN_USER
    principal, ref = clicked.principal, action.ref
    decision: Decision = "approve" if action.kind == "approve" else "reject"
    update_id = _update_id("decision", principal, None, ref.m, decision)
    inflight = runtime(app).inflight
    if update_id in inflight:  # a double click: let the first one decide
        await asyncio.wait({inflight[update_id]})
        again = await in_db(settings, _load, slack_user_id=action.slack_user_id,
                            dispute_id=ref.d, memo_number=ref.m)
        settled = _settled(again, ref)
        if settled is not None:
            return settled[0]
        # The first attempt changed nothing (refused, or no worker): this one tries again.
    arg = DecideLevel(actor=Actor(id=principal.id, roles=list(principal.roles)),
                      delegations=clicked.grants, decision=decision, comment=action.reason,
                      channel="slack", level=ref.l)
    gateway = app.state.temporal
    future = asyncio.ensure_future(gateway.update(ref.d, "decide", arg, update_id=update_id))
    inflight[update_id] = future
    try:
        result = await future
    except AppError as err:
        if err.code in POLICY_REFUSALS:
            await in_db(settings, _audit_refusal, actor=principal.id, dispute_id=ref.d,
                        code=err.code, message=err.message, request=_request_data(action))
            return f"{err.message} Nothing was changed."
        return f"Nothing was changed: {err.message}"
    finally:
        # Kept a little after it is done: a twin click that read the dispute before this
        # decision was written still answers "already approved", never "you approved".
        asyncio.get_running_loop().call_later(INFLIGHT_KEEP_S, _forget, inflight, update_id,
                                              future)
    verb = "approved" if decision == "approve" else "rejected"
    if result is None:  # accepted, so durable, but not finished within the API's wait
        return (f"You {verb} level {ref.l} of credit memo {ref.m}. It is recorded and still "
                "being processed (for example posted to the ledger); the dispute shows the "
                "outcome shortly.")
    return f"You {verb} level {ref.l} of credit memo {ref.m}. {result.message}"


def _forget(inflight: dict[str, asyncio.Future[Any]], key: str,
            future: asyncio.Future[Any]) -> None:
    if inflight.get(key) is future:
        del inflight[key]


def _policy_refusal(clicked: Clicked, ref: sa.ButtonRef) -> tuple[str, str] | None:
    """The workflow's own rule (approvals.sod), applied before showing the reject form, so
    nobody types a reason for a rejection they may not make."""
    view, principal = clicked.view, clicked.principal
    assert view is not None and principal is not None
    approval = next(a for a in view["approvals"] if a["level"] == ref.l)
    verdict = check_decision(DecisionContext(
        actor_id=principal.id, actor_roles=list(principal.roles),
        delegations=[Delegation(principal_id=g.principal_id, principal_roles=g.principal_roles,
                                starts_at=g.starts_at, ends_at=g.ends_at)
                     for g in clicked.grants if g.ends_at > g.starts_at],
        at=datetime.now(UTC), level_role=approval["role"],
        escalation_roles=[approval["escalate_to"]]
        if approval["status"] == "escalated" and approval.get("escalate_to") else [],
        preparer_id=view["credit_memo"]["preparer_id"], opener_id=view["opened_by"],
        prior_approver_ids=[a["approver_id"] for a in view["approvals"]
                            if a["level"] < ref.l and a.get("approver_id")],
        decision="reject"))
    if verdict.allowed:
        return None
    return verdict.message or "You may not decide this level.", verdict.code or "forbidden"


async def _reject_click(app: FastAPI, settings: Settings, action: sa.Action) -> None:
    """Open the reason modal (the trigger expires in 3 s), or explain why not."""
    clicked, words = await _precheck(settings, action)
    if words is None:
        refusal = _policy_refusal(clicked, action.ref)
        if refusal is not None:
            words = f"{refusal[0]} Nothing was changed."
            assert clicked.principal is not None
            await in_db(settings, _audit_refusal, actor=clicked.principal.id,
                        dispute_id=action.ref.d, code=refusal[1], message=refusal[0],
                        request=_request_data(action))
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
