"""Sign-in through the identity provider (OpenID Connect, authorization code with PKCE).

``/auth/oidc/login`` keeps the sign-in's state, nonce and PKCE verifier in the database
(``db.sso``), binds it to this browser by a cookie, and sends the browser to the provider;
``/auth/oidc/callback`` takes that state once, exchanges the code, verifies the ID token
(``api.oidc``) and signs in the user it names — provisioned on first sign-in, roles from
their groups through the admin's mapping. Every refusal is a page saying what happened and
what to do; a person whose groups map to no role is told whom to ask, and gets no session.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from api.deps import SettingsDep, identity_for
from api.oidc import IdentityProvider, SignInRefused
from api.web.auth import begin_session, home, safe_next
from api.web.render import PageRoute, render
from config.settings import Settings
from db import sso
from db.session import session_scope
from db.users import to_principal

SIGN_IN_COOKIE = "dfl_sso"
COOKIE_PATH = "/auth/oidc"

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _refused(request: Request, refused: SignInRefused) -> Response:
    response = render(request, "sso_refused.html", {"refused": refused},
                      status=refused.status)
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return response


def _provider(request: Request) -> IdentityProvider:
    identity = identity_for(request.app)
    if identity is None:
        raise SignInRefused("not_configured", "Single sign-on is not configured here; sign "
                            "in with your API token.", status=404)
    return identity


@router.get("/auth/oidc/login")
def oidc_login(request: Request, settings: SettingsDep, next: str | None = None) -> Response:
    """Start a sign-in: remember it, then off to the identity provider."""
    try:
        identity = _provider(request)
        state, binding = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        url = identity.authorization_url(state=state, nonce=nonce, code_verifier=verifier)
    except SignInRefused as refused:
        return _refused(request, refused)
    with session_scope(settings.database_url) as session:
        sso.begin(session, state=state, binding=binding, nonce=nonce, code_verifier=verifier,
                  next_url=safe_next(next), now=datetime.now(UTC))
    response = RedirectResponse(url, status_code=303)
    # Lax: the provider's redirect back is a top-level navigation from another site.
    response.set_cookie(SIGN_IN_COOKIE, binding, max_age=int(sso.SIGN_IN_LIFETIME
                                                             .total_seconds()),
                        path=COOKIE_PATH, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    return response


def _identity(claims: Mapping[str, Any], roles_claim: str) -> sso.Identity:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SignInRefused("no_email", "The identity provider did not say your email "
                            "address; ask IT to release the email claim to Disputeflow.",
                            status=403)
    groups = claims.get(roles_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    name = claims.get("name")
    return sso.Identity(
        subject=str(claims["sub"]), email=email, email_verified=claims.get("email_verified")
        is True, name=name if isinstance(name, str) and name.strip() else email,
        groups=tuple(str(g) for g in groups if isinstance(g, str | int)))


def _finish(request: Request, settings: Settings, *, code: str, state: str,
            binding: str) -> Response:
    identity = _provider(request)
    with session_scope(settings.database_url) as session:
        try:
            pending = sso.take(session, state=state, binding=binding, now=datetime.now(UTC))
        except sso.StateRefused as exc:
            raise SignInRefused("bad_state", str(exc), status=400) from None
    id_token = identity.exchange(code=code, code_verifier=pending.code_verifier)
    claims = identity.id_claims(id_token, nonce=pending.nonce)
    person = _identity(claims, settings.disputeflow_oidc_roles_claim)
    with session_scope(settings.database_url) as session:
        try:
            user = sso.sign_in_user(session, identity=person, now=datetime.now(UTC))
        except sso.IdentityRefused as exc:
            raise SignInRefused("refused", str(exc), status=403) from None
        principal = to_principal(user)
        admins = [(a.name, a.email) for a in sso.admins(session)]
    if not principal.roles:
        return render(request, "sso_unmapped.html", {
            "who": person, "claim": settings.disputeflow_oidc_roles_claim, "admins": admins},
            status=403)
    response = RedirectResponse(pending.next_url or home(principal), status_code=303)
    begin_session(request, response, settings, principal=principal, via="sso")
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/auth/oidc/callback")
async def oidc_callback(request: Request, settings: SettingsDep) -> Response:
    """Where the identity provider sends the browser back (``{PUBLIC_URL}/auth/oidc/
    callback``, registered with the provider)."""
    query = request.query_params
    if query.get("error"):
        return _refused(request, SignInRefused(
            "provider_error", "The identity provider did not sign you in: "
            f"{query.get('error_description') or query['error']}.", status=400))
    issuer = query.get("iss")
    try:
        if issuer is not None and issuer.rstrip("/") != _provider(request).issuer:
            raise SignInRefused("wrong_issuer", "This answer came from another identity "
                                "provider than the one configured; start again.", status=400)
        code, state = query.get("code", ""), query.get("state", "")
        if not code or not state:
            raise SignInRefused("bad_state", "This sign-in link is incomplete; start again "
                                "from the sign-in page.", status=400)
        return await run_in_threadpool(_finish, request, settings, code=code, state=state,
                                       binding=request.cookies.get(SIGN_IN_COOKIE, ""))
    except SignInRefused as refused:
        return _refused(request, refused)
