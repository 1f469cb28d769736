"""Sign-in for the web pages: the user's own API token in an HttpOnly cookie, CSRF checks.

Why the token itself and not a server-side session: there is nothing new to store, revoke or
expire — a revoked token ends its browser sessions at once, exactly as it ends API access,
and the cookie is authenticated by the very function that authenticates a bearer token.
HttpOnly keeps it from scripts (the pages run none), SameSite=Lax keeps other sites' forms
from carrying it, and every form post also carries ``csrf`` = HMAC-SHA256(key =
SHA-256(token), "csrf"): only a page rendered for this session knows it. The sign-in form
itself has no session yet, so it uses a double-submit cookie instead.
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

from api.deps import ANY_ROLE, SESSION_COOKIE, SettingsDep, authenticate_caller, role_rule
from api.errors import AppError
from api.web.forms import KEY_FIELD
from api.web.render import LoginRequired, PageRoute, clear_session, render
from config.settings import Settings
from db import report_window
from db.session import session_scope
from db.users import Principal, approval_roles, may_approve

LOGIN_CSRF_COOKIE = "dfl_login_csrf"
SESSION_SECONDS = 12 * 3600  # a working day; the token itself lives on
FORM_EXPIRED = ("This form has expired or did not come from a Disputeflow page. Reload the "
                "page and submit it again.")

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def csrf_token(token: str) -> str:
    """The per-session CSRF value every form carries (derived, so nothing is stored)."""
    key = hashlib.sha256(token.encode()).digest()
    return hmac.new(key, b"csrf", hashlib.sha256).hexdigest()


def authenticate_token(settings: Settings, token: str, client: str) -> Principal:
    """As ``api.deps.current_principal`` authenticates a bearer token, sharing its
    failed-attempt limit per client (so the sign-in form is no way around it)."""
    return authenticate_caller(settings, token, client)


def _same(sent: str, expected: str) -> bool:
    """Constant-time comparison that any text can reach (compare_digest refuses non-ASCII
    str, which a forged form may well send)."""
    return hmac.compare_digest(sent.encode(), expected.encode())


def _client(request: Request) -> str:
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
    """The signed-in user of this request, or LoginRequired (no cookie, or a dead token)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise LoginRequired(_here(request))
    try:
        principal = authenticate_token(settings, token, _client(request))
    except AppError as err:
        if err.code == "unauthenticated":
            raise LoginRequired(_here(request), clear_cookie=True) from None
        raise
    request.state.principal = principal
    request.state.csrf = csrf_token(token)
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


def set_session(request: Request, response: Response, token: str) -> None:
    """Secure only over https, so the cookie also works on plain http://localhost."""
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_SECONDS, path="/",
                        httponly=True, samesite="lax", secure=request.url.scheme == "https")


def _login_form(request: Request, *, next_url: str | None, error: str | None = None,
                notice: str | None = None, status: int = 200) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"next": next_url or "", "error": error,
                                              "notice": notice, "login_csrf": nonce},
                      status=status)
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
    """Check the token like a bearer token; a wrong one shows the form again, with why."""
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
        principal = await run_in_threadpool(authenticate_token, settings, token,
                                            _client(request))
    except AppError as err:
        if err.code not in ("unauthenticated", "rate_limited"):
            raise
        return _login_form(request, next_url=next_url, error=err.message, status=err.status)
    response = RedirectResponse(next_url or home(principal), status_code=303)
    set_session(request, response, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _signed_out() -> Response:
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    clear_session(response)
    return response


@router.get("/logout")
def logout_link() -> Response:
    """Signing out changes nothing but this browser's cookie, so a plain link may do it."""
    return _signed_out()


AnyUserForm = Annotated[Posted, Depends(form_user(ANY_ROLE))]


@router.post("/logout")
def logout(_: AnyUserForm) -> Response:
    """The sign-out button of every page (a form post, so it carries the CSRF token)."""
    return _signed_out()


@router.get("/")
def start(principal: Annotated[Principal, Depends(page_user(ANY_ROLE))]) -> Response:
    """The start page: each role's own page once signed in."""
    return RedirectResponse(home(principal), status_code=303)
