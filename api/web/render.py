"""Rendering for the web pages: one autoescaping Jinja2 environment, the filters the templates
share, and the route class that turns every refusal into an HTML page.

The JSON API answers refusals with ``{"error": ...}`` (api/errors.py); a person in a browser
needs a page instead: a sign-in redirect when there is no session, a page that says what was
refused and why otherwise. :class:`PageRoute` does that for every page route, so handlers
simply raise :class:`~api.errors.AppError` (or :class:`LoginRequired`) as the API does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2.runtime import Context
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.deps import ANY_ROLE, ANY_WRITER, READ_ONLY_ROLES, SESSION_COOKIE
from api.errors import AppError, describe_validation
from api.web.forms import FLASH_COOKIE, take_flash
from db.users import Principal
from domain.clock_names import clock_label
from domain.money import MoneyError, fmt

log = logging.getLogger("disputeflow.web")
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

# Content-Security-Policy: no script at all, styles and images from this origin only, forms
# post only here, never framed (clickjacking). Inline SVG is markup, not script: allowed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class LoginRequired(Exception):
    """No (valid) session: send the browser to /login and back to ``next_url`` afterwards."""

    def __init__(self, next_url: str, *, clear_cookie: bool = False) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.clear_cookie = clear_cookie


def money(amount: object, currency: str) -> str:
    """``1,250.00 USD`` from the view's decimal strings; the raw text if it is not money."""
    try:
        return fmt(Decimal(str(amount)), currency)
    except (InvalidOperation, MoneyError, ValueError):
        return f"{amount} {currency}"


def when(value: object, zone: str = "UTC") -> str:
    """A stored time as people read it: in ``zone`` (the policy calendar's, on the pages),
    with the zone written, never implied."""
    if value in (None, ""):
        return "—"
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    try:
        local = at.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        local = at.astimezone(UTC)
    return local.strftime("%Y-%m-%d %H:%M %Z")


@jinja2.pass_context
def _when_here(ctx: Context, value: object) -> str:
    """``when`` in the time zone the page was rendered for (``timezone`` in its context)."""
    return when(value, str(ctx.get("timezone") or "UTC"))


def percent(share: object) -> str:
    """``0.6667`` -> ``66.7%``; none (nothing to divide) -> an em dash."""
    if share is None or share == "":
        return "—"
    try:
        return f"{float(str(share)) * 100:.1f}%"
    except ValueError:
        return str(share)


def words(code: object) -> str:
    """``pending_approval`` → ``pending approval``: codes shown as words."""
    return "" if code is None else str(code).replace("_", " ")


# Autoescape on for every template whatever its extension: user text (descriptions, notes,
# comments) is always escaped; only the server-built SVG charts are marked safe.
templates = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True,
    trim_blocks=True, lstrip_blocks=True))
templates.env.filters.update(money=money, when=_when_here, words=words, percent=percent,
                             clock=clock_label)


def render(request: Request, name: str, context: Mapping[str, Any] | None = None, *,
           status: int = 200) -> Response:
    """A page with the signed-in user (if any) and their CSRF token in its context."""
    user = getattr(request.state, "principal", None)
    notice = take_flash(request)
    ctx: dict[str, Any] = {
        "user": user,
        "csrf": getattr(request.state, "csrf", ""),
        "path": request.url.path,
        "nav": nav_for(user, approver=getattr(request.state, "approver", False)),
        "timezone": getattr(request.state, "timezone", "UTC"),
        "flash": notice,
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status,
                                          headers=SECURITY_HEADERS)
    if notice:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


# Page -> roles that may see it (rules of api.deps.require). The page dependencies and the
# navigation both read this, so a link is shown exactly when its page would open.
PAGE_ROLES: dict[str, tuple[str, ...]] = {
    "/disputes": (ANY_ROLE,),
    "/approvals": (ANY_WRITER,),
    "/dashboard": ("manager", "admin"),
    "/audit": ("auditor", "admin"),
    "/admin/users": ("admin", "auditor"),
}
NAV_LABELS = {"/disputes": "Disputes", "/approvals": "My approvals", "/dashboard": "Dashboard",
              "/audit": "Audit", "/admin/users": "Access"}


def may_see(principal: Principal, roles: tuple[str, ...]) -> bool:
    """``api.deps.require``'s rule as a question (for links), not as a refusal."""
    if ANY_ROLE in roles or principal.has(*roles):
        return True
    return ANY_WRITER in roles and bool(set(principal.roles) - READ_ONLY_ROLES)


def nav_for(principal: Principal | None, *, approver: bool = False) -> list[tuple[str, str]]:
    """The main navigation: the pages this user may open, and "My approvals" only for those
    who can approve something (``db.users.may_approve``)."""
    if principal is None:
        return []
    return [(path, NAV_LABELS[path]) for path, roles in PAGE_ROLES.items()
            if may_see(principal, roles) and (path != "/approvals" or approver)]


def clear_session(response: Response) -> None:
    """Forget the session cookie in this browser (the caller ends the session itself)."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def login_redirect(next_url: str, *, clear_cookie: bool = False) -> Response:
    """303 (a POST must not be repeated) to the sign-in form, which comes back here."""
    response = RedirectResponse(f"/login?next={quote(next_url, safe='')}", status_code=303)
    if clear_cookie:  # an ended session: do not send it again with every page
        clear_session(response)
    return response


def error_page(request: Request, err: AppError) -> Response:
    """The refusal as a page: the API's status and message, in the site's frame."""
    titles = {401: "Please sign in", 403: "Not allowed", 404: "Not found",
              409: "Not possible now", 422: "Please check your input", 429: "Too many attempts",
              503: "Temporarily unavailable"}
    return render(request, "error.html", {"title": titles.get(err.status, "Something went wrong"),
                                          "err": err}, status=err.status)


class PageRoute(APIRoute):
    """Page routes answer refusals with pages: a 303 to /login without a session, and an
    HTML page with the status and the reason (403, 404, 422, 503 ...) otherwise."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return login_redirect(exc.next_url, clear_cookie=exc.clear_cookie)
            except AppError as err:
                return error_page(request, err)
            except RequestValidationError as exc:
                message, details = describe_validation(list(exc.errors()))
                return error_page(request, AppError("validation_error", message, details))
            except (OperationalError, PoolTimeout) as exc:
                log.warning("database unavailable: %s", type(exc).__name__)
                return error_page(request, AppError(
                    "database_unavailable", "The database is not answering; nothing was "
                    "changed. Try again shortly."))

        return page_handler
