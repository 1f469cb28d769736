"""The identity provider as Disputeflow sees it (OpenID Connect): discovery, its signing keys,
the authorization-code exchange with PKCE, and validation of the tokens it issues — ID tokens
for people signing in to the pages, client-credentials access tokens for API clients.

The protocol is Authlib's (the authorization request, PKCE and the token request) and the
JOSE is joserfc's (signatures, claims): nothing here parses or verifies a JWT by hand. The
provider's metadata and keys are cached per process; a token signed by a key not in the
cache makes the keys be fetched again (the provider rotated them), at most every
``KEYS_REFETCH_AFTER``, so a flood of forged key ids cannot turn into a flood of fetches.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import errors as jose_errors
from joserfc import jwt
from joserfc.jwk import KeySet

from config.settings import Settings

__all__ = ["IdentityProvider", "SignInRefused"]

METADATA_TTL_S = 600.0
KEYS_REFETCH_AFTER_S = 2.0
HTTP_TIMEOUT_S = 10.0
FAILED_FETCH_HOLD_S = 5.0
LEEWAY_S = 30  # clocks of the provider and this host may differ a little
SIGNING_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                "ES512", "EdDSA")


class SignInRefused(Exception):
    """Why a sign-in (or a client's access token) is refused, in words for the person, with
    a short ``reason`` code for logs and tests and the HTTP status of the refusal page."""

    def __init__(self, reason: str, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


@dataclass
class _Cached:
    value: Any
    fetched_at: float


class IdentityProvider:
    """One configured issuer (DISPUTEFLOW_OIDC_*), shared by the pages and the API."""

    def __init__(self, settings: Settings) -> None:
        assert settings.disputeflow_oidc_issuer and settings.disputeflow_oidc_client_id
        self.issuer = settings.disputeflow_oidc_issuer.rstrip("/")
        self.client_id = settings.disputeflow_oidc_client_id
        self.client_secret = settings.disputeflow_oidc_client_secret
        self.scopes = settings.disputeflow_oidc_scopes
        self.redirect_uri = settings.public_url.rstrip("/") + "/auth/oidc/callback"
        self.audience = settings.oidc_audience
        self._lock = threading.Lock()
        self._metadata: _Cached | None = None
        self._keys: _Cached | None = None
        self._last_refresh = -KEYS_REFETCH_AFTER_S
        self._failed_until = 0.0

    # -- the provider's documents ------------------------------------------------------

    def _get(self, url: str) -> Any:
        """One of the provider's documents. A failure is remembered for
        ``FAILED_FETCH_HOLD_S``: while the provider is away, requests are answered at once
        instead of each holding a thread for the whole timeout."""
        with self._lock:
            held = time.monotonic() < self._failed_until
        try:
            if held:
                raise httpx.ConnectError("it did not answer a moment ago")
            response = httpx.get(url, timeout=HTTP_TIMEOUT_S,
                                 headers={"accept": "application/json"})
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            if not held:
                with self._lock:
                    self._failed_until = time.monotonic() + FAILED_FETCH_HOLD_S
            raise SignInRefused("unreachable", "The identity provider could not be reached "
                                f"({type(exc).__name__}); try again in a minute, and tell "
                                "IT if it persists.", status=503) from None

    def metadata(self) -> dict[str, Any]:
        """The discovery document, checked to name this issuer (a provider answering for
        another issuer is not ours)."""
        with self._lock:
            cached = self._metadata
        if cached is not None and time.monotonic() - cached.fetched_at < METADATA_TTL_S:
            return dict(cached.value)
        document = self._get(self.issuer + "/.well-known/openid-configuration")
        if not isinstance(document, dict) or document.get("issuer", "").rstrip("/") \
                != self.issuer:
            raise SignInRefused("wrong_issuer", "The identity provider's discovery document "
                                "names another issuer; sign-in is refused until "
                                "DISPUTEFLOW_OIDC_ISSUER is corrected.", status=502)
        with self._lock:
            self._metadata = _Cached(document, time.monotonic())
        return dict(document)

    def _key_set(self, *, refresh: bool) -> KeySet:
        """The cached keys; with ``refresh`` (a token named a key not among them) fetched
        again, unless an earlier such refresh was less than ``KEYS_REFETCH_AFTER_S`` ago."""
        now = time.monotonic()
        with self._lock:
            cached, last_refresh = self._keys, self._last_refresh
            if cached is not None and refresh and now - last_refresh >= KEYS_REFETCH_AFTER_S:
                self._last_refresh = now
            elif cached is not None:
                return cached.value  # type: ignore[no-any-return]
        document = self._get(self.metadata()["jwks_uri"])
        try:
            keys = KeySet.import_key_set(document)
        except (jose_errors.JoseError, ValueError, TypeError, KeyError):
            raise SignInRefused("unreachable", "The identity provider published keys that "
                                "cannot be read.", status=502) from None
        with self._lock:
            self._keys = _Cached(keys, time.monotonic())
        return keys

    def _decode(self, value: str) -> jwt.Token:
        """Verify the signature against the provider's keys, fetching them again once when
        the token names a key the cache does not hold (rotation)."""
        for refresh in (False, True):
            try:
                return jwt.decode(value, self._key_set(refresh=refresh),
                                  algorithms=list(SIGNING_ALGS))
            except (jose_errors.InvalidKeyIdError, jose_errors.MissingKeyError, ValueError):
                if refresh:
                    break
            except jose_errors.BadSignatureError:
                break
            except (jose_errors.JoseError, TypeError):
                raise SignInRefused("token_invalid", "The token is not a valid signed token "
                                    "of the identity provider.") from None
        raise SignInRefused("token_invalid", "The token's signature does not verify against "
                            "the identity provider's keys.")

    # -- people: the authorization-code flow -------------------------------------------

    def _client(self) -> OAuth2Session:
        return OAuth2Session(self.client_id, self.client_secret, scope=self.scopes,
                             redirect_uri=self.redirect_uri,
                             token_endpoint_auth_method="client_secret_basic",
                             code_challenge_method="S256")

    def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        endpoint = self.metadata()["authorization_endpoint"]
        with self._client() as client:
            url, _ = client.create_authorization_url(endpoint, state=state, nonce=nonce,
                                                     code_verifier=code_verifier)
        return str(url)

    def exchange(self, *, code: str, code_verifier: str) -> str:
        """The ID token for an authorization code (the provider refuses a code used twice,
        expired, or issued for another verifier)."""
        endpoint = self.metadata()["token_endpoint"]
        try:
            with self._client() as client:
                token = client.fetch_token(endpoint, grant_type="authorization_code",
                                           code=code, code_verifier=code_verifier,
                                           timeout=HTTP_TIMEOUT_S)
        except OAuthError as exc:
            raise SignInRefused("code_refused", "The identity provider refused this sign-in "
                                f"({exc.error}: {exc.description or 'no reason given'}). "
                                "Sign-in links work once and for a few minutes: start "
                                "again.", status=400) from None
        except OSError as exc:  # requests' connection errors are OSErrors
            raise SignInRefused("unreachable", "The identity provider could not be reached "
                                f"({type(exc).__name__}); try again.", status=503) from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused("token_invalid", "The identity provider answered without an "
                                "ID token; is the client configured for OpenID Connect?",
                                status=502)
        return id_token

    def id_claims(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The claims of a verified ID token: signed by the provider, issued by it, for this
        client, not expired, and answering this sign-in's nonce."""
        claims = self._decode(id_token).claims
        self._check(claims, audience=self.client_id, nonce=nonce)
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise SignInRefused("wrong_audience", "The ID token was issued to another "
                                "application (its authorized party is not Disputeflow).")
        return dict(claims)

    # -- API clients: client-credentials access tokens ---------------------------------

    def access_claims(self, token: str) -> dict[str, Any]:
        """The claims of a JWT access token the provider issued for this API
        (DISPUTEFLOW_OIDC_AUDIENCE), not expired."""
        claims = self._decode(token).claims
        self._check(claims, audience=self.audience, nonce=None)
        return dict(claims)

    def _check(self, claims: dict[str, Any], *, audience: str, nonce: str | None) -> None:
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": audience},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
        }
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        try:
            jwt.JWTClaimsRegistry(leeway=LEEWAY_S, **options).validate(claims)
        except jose_errors.ExpiredTokenError:
            raise SignInRefused("token_expired", "The token has expired (check that this "
                                "host's and the identity provider's clocks agree); sign in "
                                "again.") from None
        except jose_errors.ClaimError as exc:
            raise _claim_refused(exc.claim, claims, audience) from None


def _claim_refused(claim: str, claims: dict[str, Any], audience: str) -> SignInRefused:
    if claim == "aud":
        return SignInRefused("wrong_audience", f"The token was issued for {claims.get('aud')!r}"
                             f", not for Disputeflow ({audience}).")
    if claim == "iss":
        return SignInRefused("wrong_issuer", f"The token was issued by {claims.get('iss')!r}, "
                             "not by the configured identity provider.")
    if claim == "nonce":
        return SignInRefused("nonce_mismatch", "The ID token does not answer this sign-in "
                             "(its nonce differs): it was replayed from another one. Start "
                             "again.")
    if claim in ("iat", "nbf"):
        return SignInRefused("token_invalid", "The token is not valid yet (check the "
                             "clocks); sign in again.")
    return SignInRefused("token_invalid", f"The token's claim {claim!r} is missing or "
                         "invalid.")
