"""Sign-in for the web pages: server-side sessions (``db.web_sessions``), the token form, CSRF.

A browser signs in with single sign-on (api/web/sso.py) or, where SSO is not configured
(and always for the bootstrap admin), by pasting an API token. Either way it gets a session:
a row whose secret only the HttpOnly cookie holds, ended by sign-out, by an admin, by its
expiry (DISPUTEFLOW_SESSION_HOURS), or with the token or user it stands on. SameSite=Lax
keeps other sites' forms from carrying the cookie, and every form post also carries
``csrf`` = HMAC-SHA256(key = SHA-256(session secret), "csrf"): only a page rendered for this
session knows it. The sign-in form itself has no session yet, so it uses a double-submit
cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from api.deps import (
    ANY_ROLE,
    SESSION_COOKIE,
    SettingsDep,
    authenticate_caller,
    role_rule,
    session_principal,
)
from api.errors import AppError
from api.web.forms import KEY_FIELD
from api.web.render import LoginRequired, PageRoute, clear_session, render
from config.settings import Settings
from db import report_window, web_sessions
from db.session import session_scope
from db.users import BOOTSTRAP_ADMIN, Principal, approval_roles, may_approve

LOGIN_CSRF_COOKIE = "dfl_login_csrf"
FORM_EXPIRED = ("This form has expired or did not come from a Disputeflow page. Reload the "
                "page and submit it again.")

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def csrf_token(secret: str) -> str:
    """The per-session CSRF value every form carries (derived, so nothing is stored)."""
    key = hashlib.sha256(secret.encode()).digest()
    return hmac.new(key, b"csrf", hashlib.sha256).hexdigest()


def _same(sent: str, expected: str) -> bool:
    """Constant-time comparison that any text can reach (compare_digest refuses non-ASCII
    str, which a forged form may well send)."""
    return hmac.compare_digest(sent.encode(), expected.encode())


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def safe_next(value: object) -> str | None:
    """A local path to return to after sign-in, or None: never another site (open redirect)."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2000:
        return None
    if value.startswith(("//", "/\\")) or urlsplit(value).netloc or "\\" in value:
        return None
    return value


def _here(request: Request) -> str:
    """Where to come back to after signing in: this page, or for a form post the page the
    form was on (a POST-only path cannot be reloaded)."""
    if request.method == "GET":
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    same_site = referer.netloc == request.url.netloc
    return (safe_next(referer.path) if same_site else None) or "/"


def session_user(request: Request, settings: Settings) -> Principal:
    """The signed-in user of this request, or LoginRequired (no cookie, or a session that
    has ended)."""
    secret = request.cookies.get(SESSION_COOKIE, "")
    if not secret:
        raise LoginRequired(_here(request))
    principal = session_principal(settings, secret)
    if principal is None:
        raise LoginRequired(_here(request), clear_cookie=True)
    request.state.principal = principal
    request.state.csrf = csrf_token(secret)
    with session_scope(settings.database_url, readonly=True) as session:
        # Times on the pages read in the policy calendar's zone, like its SLA clocks.
        request.state.timezone = report_window.policy_timezone(session)
        request.state.approver = may_approve(session, principal=principal,
                                             at=datetime.now(UTC))
    return principal


def page_user(*roles: str) -> Callable[[Request, Settings], Principal]:
    """A dependency admitting a signed-in user holding one of ``roles`` (rules of
    ``api.deps.role_rule``, so pages and API agree), else a 303 to /login or a 403 page."""
    rule = role_rule(*roles)

    def check(request: Request, settings: SettingsDep) -> Principal:
        return rule(session_user(request, settings))

    check.roles = roles  # type: ignore[attr-defined]  # read by the page access tests
    return check


@dataclass(frozen=True)
class Posted:
    """A form post that passed sign-in, the CSRF check and the role rule."""

    principal: Principal
    form: FormData

    def text(self, name: str, default: str = "") -> str:
        value = self.form.get(name, default)
        return value.strip() if isinstance(value, str) else default

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.form.getlist(name) if isinstance(v, str)]

    def key(self) -> str | None:
        """The form's one-time idempotency key (``forms.KEY_FIELD``), if it carries one."""
        return self.text(KEY_FIELD)[:200] or None


def form_user(*roles: str) -> Callable[[Request, Settings], Awaitable[Posted]]:
    """Like :func:`page_user` for form posts, which must also carry this session's CSRF
    token — checked before the role, so a forged post learns nothing."""
    rule = role_rule(*roles)

    async def check(request: Request, settings: SettingsDep) -> Posted:
        principal = await run_in_threadpool(session_user, request, settings)
        form = await request.form()
        sent = form.get("csrf")
        if not isinstance(sent, str) or not _same(sent, request.state.csrf):
            raise AppError("forbidden", FORM_EXPIRED)
        return Posted(rule(principal), form)

    check.roles = roles  # type: ignore[attr-defined]
    return check


def home(principal: Principal) -> str:
    """The page each role starts from."""
    if principal.has("manager"):
        return "/dashboard"
    if principal.has("auditor"):
        return "/audit"
    if principal.has("client_services", "analyst", "admin"):
        return "/disputes"
    if approval_roles(principal.roles):
        return "/approvals"
    return "/disputes"


def begin_session(request: Request, response: Response, settings: Settings, *,
                  principal: Principal, via: str, credential: str | None = None) -> None:
    """Open a web session for ``principal`` and give this browser its cookie (Secure only
    over https, so it also works on plain http://localhost)."""
    lifetime = settings.session_lifetime
    with session_scope(settings.database_url) as session:
        secret = web_sessions.start(
            session, user_id=principal.id, via=via, client=client_address(request),
            now=datetime.now(UTC), lifetime=lifetime, token_id=principal.token_id,
            credential=credential)
    response.set_cookie(SESSION_COOKIE, secret, max_age=int(lifetime.total_seconds()),
                        path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


def _login_form(request: Request, *, next_url: str | None, error: str | None = None,
                notice: str | None = None, status: int = 200) -> Response:
    nonce = secrets.token_urlsafe(24)
    sso = request.app.state.settings.oidc_enabled
    response = render(request, "login.html", {"next": next_url or "", "error": error,
                                              "notice": notice, "login_csrf": nonce,
                                              "sso": sso}, status=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, nonce, max_age=3600, path="/login", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="disputeflow"'
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None, signed_out: bool = False
               ) -> Response:
    """The sign-in form; ``next`` (a local path only) is where it returns afterwards."""
    return _login_form(request, next_url=safe_next(next),
                       notice="You are signed out." if signed_out else None)


@router.post("/login")
async def login(request: Request, settings: SettingsDep) -> Response:
    """Check the token like a bearer token (sharing its failed-attempt limit per client);
    a wrong one shows the form again, with why. With SSO on, only the bootstrap admin
    signs in here: people sign in through their identity provider."""
    form = await request.form()
    sent, expected = form.get("csrf"), request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (isinstance(sent, str) and expected and _same(sent, expected)):
        raise AppError("forbidden", FORM_EXPIRED)
    raw_token, next_url = form.get("token"), safe_next(form.get("next"))
    token = raw_token.strip() if isinstance(raw_token, str) else ""
    if not token:
        return _login_form(request, next_url=next_url, error="Enter your API token.",
                           status=422)
    try:
        principal = await run_in_threadpool(authenticate_caller, settings, token,
                                            client_address(request))
    except AppError as err:
        if err.code not in ("unauthenticated", "rate_limited"):
            raise
        return _login_form(request, next_url=next_url, error=err.message, status=err.status)
    bootstrap = principal == BOOTSTRAP_ADMIN
    if settings.oidc_enabled and not bootstrap:
        return _login_form(request, next_url=next_url, status=403, error=(
            "Sign in with SSO: with single sign-on on, the token form is for the bootstrap "
            "admin only. Your API token still works for the API."))
    response = RedirectResponse(next_url or home(principal), status_code=303)
    await run_in_threadpool(lambda: begin_session(
        request, response, settings, principal=principal,
        via="admin_token" if bootstrap else "token", credential=token if bootstrap else None))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _signed_out(request: Request, settings: Settings, actor: str) -> Response:
    """End this browser's session on the server, not only its cookie."""
    secret = request.cookies.get(SESSION_COOKIE, "")
    if secret:
        with session_scope(settings.database_url) as session:
            web_sessions.end(session, secret=secret, actor=actor, now=datetime.now(UTC))
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    clear_session(response)
    return response


@router.get("/logout")
def logout_link(request: Request, settings: SettingsDep) -> Response:
    """A plain link may sign out too: ending one's own session is harmless to forge."""
    return _signed_out(request, settings, "browser")


AnyUserForm = Annotated[Posted, Depends(form_user(ANY_ROLE))]


@router.post("/logout")
def logout(request: Request, settings: SettingsDep, posted: AnyUserForm) -> Response:
    """The sign-out button of every page (a form post, so it carries the CSRF token)."""
    return _signed_out(request, settings, posted.principal.id)


@router.get("/")
def start(principal: Annotated[Principal, Depends(page_user(ANY_ROLE))]) -> Response:
    """The start page: each role's own page once signed in."""
    return RedirectResponse(home(principal), status_code=303)
