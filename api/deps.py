"""FastAPI dependencies as ``Annotated`` aliases: settings, database session, the caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from sqlalchemy.orm import Session

from api.commands.context import Commands
from api.commands.context import in_db as in_db  # pages and routes reach it here
from api.errors import AppError
from api.oidc import IdentityProvider, SignInRefused
from api.temporal_gateway import TemporalGateway
from config.settings import Settings
from db import ratelimit, tokens, web_sessions
from db.session import session_scope
from db.users import Principal, authenticate, principal_by_subject


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    with session_scope(settings.database_url) as session:
        yield session


# scope="function": the transaction commits before the answer is sent — a client told "done"
# must find it done, and a commit that fails must not have been answered with a success.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_read_session(settings: SettingsDep) -> Iterator[Session]:
    with session_scope(settings.database_url, readonly=True) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


async def get_gateway(request: Request) -> TemporalGateway:
    gateway: TemporalGateway = request.app.state.temporal
    return gateway


GatewayDep = Annotated[TemporalGateway, Depends(get_gateway)]


def commands_for(app: FastAPI) -> Commands:
    """The command layer (api/commands) over this app's database and Temporal client."""
    commands: Commands | None = getattr(app.state, "commands", None)
    if commands is None:
        commands = app.state.commands = Commands(
            app.state.settings, app.state.temporal,
            observe_decision=app.state.prometheus.observe_decision)
    return commands


async def get_commands(request: Request) -> Commands:
    return commands_for(request.app)


CommandsDep = Annotated[Commands, Depends(get_commands)]


# The web pages' session cookie (api/web/auth.py): the secret of a ``db.web_sessions`` row.
SESSION_COOKIE = "dfl_session"
SAFE_METHODS = frozenset({"GET", "HEAD"})


def bearer_token(request: Request) -> str | None:
    """The token of the Authorization header, if the request carries one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def session_principal(settings: Settings, secret: str) -> Principal | None:
    """Who the web session of cookie ``secret`` signs in, or None if it is not live."""
    with session_scope(settings.database_url, readonly=True) as session:
        opened = web_sessions.resolve(session, secret=secret, now=datetime.now(UTC),
                                      admin_token=settings.disputeflow_admin_token)
    return opened.principal if opened else None


MAX_TOKEN_LENGTH = 200
MAX_JWT_LENGTH = 16_384


def identity_for(app: FastAPI) -> IdentityProvider | None:
    """The app's identity provider client (its metadata and keys cached), or None without
    SSO."""
    settings: Settings = app.state.settings
    if not settings.oidc_enabled:
        return None
    identity: IdentityProvider | None = getattr(app.state, "identity", None)
    if identity is None:
        identity = app.state.identity = IdentityProvider(settings)
    return identity


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey") and len(token) <= MAX_JWT_LENGTH


def _jwt_caller(settings: Settings, identity: IdentityProvider, token: str, client: str,
                now: datetime) -> Principal:
    """The API client of a client-credentials access token from the SSO issuer: a user
    whose ``oidc_subject`` is the token's subject (its OAuth client id)."""
    with session_scope(settings.database_url, readonly=True) as session:
        wait = ratelimit.retry_after(session, client=client, now=now)
    if wait:
        raise AppError("rate_limited", f"Too many failed sign-in attempts from your address; "
                       f"try again in {wait} s.", {"retry_after": wait})
    try:
        claims = identity.access_claims(token)
        with session_scope(settings.database_url, readonly=True) as session:
            principal = principal_by_subject(session, subject=str(claims["sub"]))
        if principal is None:
            raise SignInRefused("unknown_client", f"The client {claims['sub']!r} is not a "
                                "Disputeflow user: an admin creates one with this "
                                "oidc_subject (POST /api/v1/users).")
    except SignInRefused as refused:
        if refused.status >= 500:  # the provider is away: no fault of the client's token
            raise AppError("identity_provider_unavailable", refused.message) from None
        with session_scope(settings.database_url) as session:
            ratelimit.record_failure(session, client=client, now=now)
        raise AppError("unauthenticated", refused.message) from None
    return principal


def authenticate_caller(settings: Settings, token: str, client: str,
                        identity: IdentityProvider | None = None) -> Principal:
    """Who holds ``token``, for the API and the sign-in form alike: the failed-attempt limit
    per client, the token's state (a revoked or expired one is told apart from a mistyped
    one), and its last use stamped at most every ``tokens.USE_RESOLUTION``. With SSO
    (``identity``), a JWT access token of its issuer is accepted too."""
    now = datetime.now(UTC)
    if identity is not None and _looks_like_jwt(token):
        return _jwt_caller(settings, identity, token, client, now)
    with session_scope(settings.database_url, readonly=True) as session:
        wait = ratelimit.retry_after(session, client=client, now=now)
        usable = len(token) <= MAX_TOKEN_LENGTH and token.isascii()  # tokens are ASCII
        principal = None if wait or not usable else authenticate(
            session, token=token, admin_token=settings.disputeflow_admin_token, now=now)
        why = tokens.refusal(session, token=token, now=now) \
            if principal is None and usable and not wait else None
    if wait:
        raise AppError("rate_limited", f"Too many failed sign-in attempts from your address; "
                       f"try again in {wait} s.", {"retry_after": wait})
    if principal is None:
        with session_scope(settings.database_url) as session:
            ratelimit.record_failure(session, client=client, now=now)
        raise AppError("unauthenticated", why or "That token is not valid or was revoked; ask "
                       "an admin for a new one.")
    if principal.token_id is not None and principal.use_due(now):
        with session_scope(settings.database_url) as session:
            tokens.touch(session, token_id=principal.token_id, now=now)
    return principal


def current_principal(request: Request, settings: SettingsDep) -> Principal:
    """The bearer token's holder; for reads only, else a signed-in browser's session, so
    the pages' links to API reads (the auditor's CSV export) work. Never a session for
    POST/PUT/DELETE: a cross-site form carries the cookie too, and those routes have no
    CSRF check — writes from the browser go through the pages."""
    token = bearer_token(request)
    cookie = request.cookies.get(SESSION_COOKIE, "").strip() \
        if request.method in SAFE_METHODS else ""
    if token is None and cookie:
        principal = session_principal(settings, cookie)
        if principal is None:
            raise AppError("unauthenticated", "Your web session has ended; sign in again.")
    elif token is None:
        raise AppError("unauthenticated", "Send your API token as 'Authorization: Bearer "
                       "<token>'. An admin can create one for you.")
    else:
        client = request.client.host if request.client else "unknown"
        principal = authenticate_caller(settings, token, client, identity_for(request.app))
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]

ANY_ROLE = "*"
# Any role that can change something: auditors read everything and change nothing.
ANY_WRITER = "*writer"
READ_ONLY_ROLES = frozenset({"auditor"})


def role_rule(*roles: str) -> Callable[[Principal], Principal]:
    """The check that admits only callers holding one of ``roles`` (``*``: any role); the
    API's dependencies (:func:`require`) and the pages (api/web/auth.py) apply it alike."""

    def admit(principal: Principal) -> Principal:
        if ANY_ROLE in roles or principal.has(*roles):
            return principal
        if ANY_WRITER in roles and set(principal.roles) - READ_ONLY_ROLES:
            return principal
        if ANY_WRITER in roles:
            raise AppError("forbidden", "Your role can read but not change anything.")
        raise AppError("forbidden", f"This needs the role {' or '.join(roles)}; you hold "
                       f"{', '.join(principal.roles) or 'no role'}.")

    return admit


def require(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency applying :func:`role_rule`. ``async``, like the other dependencies that
    do no I/O: FastAPI runs a plain ``def`` dependency on its thread pool, a hop (and a
    wake-up of a thread) per dependency per request for nothing."""
    admit = role_rule(*roles)

    async def check(principal: PrincipalDep) -> Principal:
        return admit(principal)

    check.roles = roles  # type: ignore[attr-defined]  # read by the authorization matrix
    return check


def role_dep(*roles: str) -> Any:
    return Annotated[Principal, Depends(require(*roles))]


AdminDep = role_dep("admin")
ClientServicesDep = role_dep("client_services")
AnalystDep = role_dep("analyst")
ReaderDep = role_dep(ANY_ROLE)
WriterDep = role_dep(ANY_WRITER)
AuditorDep = role_dep("auditor", "admin")
ManagerDep = role_dep("manager", "admin")
CloseReportDep = role_dep("manager", "auditor", "admin")  # the month-end close
