"""A real OpenID provider for the tests: panva/oidc-provider (OpenID Certified) run by Node.js
from tests/support/oidc (installed by ``make identity``), on loopback.

:class:`IdentityServer` starts it with the clients, accounts and signing keys a test needs
and can restart it with other keys (rotation) on the same issuer. :func:`provider_login`
signs in through the provider's own login form over plain HTTP, as a browser would, and
returns the callback URL the provider sends the browser back to.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from joserfc.jwk import RSAKey

from cli.processes import free_port, port_open

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "disputeflow"
CLIENT_SECRET = "df-client-secret-for-tests-0123456789"
SERVICE_ID = "erp-sync"
SERVICE_SECRET = "erp-sync-secret-for-tests-0123456789"
OTHER_ID = "other-app"
OTHER_SECRET = "other-app-secret-for-tests-0123456789"
FORM = re.compile(r'<form[^>]*action="([^"]+)"', re.I)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', re.I)


def available() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "Node.js is not installed (make identity)"
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider is not installed (make identity)"
    return None


def signing_key(kid: str) -> dict[str, Any]:
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"},
                              private=True)
    return dict(key.as_dict(private=True))


@dataclass
class IdentityServer:
    redirect_uris: list[str]
    accounts: dict[str, dict[str, Any]]
    resources: list[str]
    clock_offset_s: int = 0
    port: int = field(default_factory=free_port)
    keys: list[dict[str, Any]] = field(default_factory=lambda: [signing_key("k1")])
    _process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _clients(self) -> list[dict[str, Any]]:
        web = {"redirect_uris": self.redirect_uris, "grant_types": ["authorization_code"],
               "response_types": ["code"], "token_endpoint_auth_method": "client_secret_basic"}
        return [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **web},
                {"client_id": OTHER_ID, "client_secret": OTHER_SECRET, **web},
                {"client_id": SERVICE_ID, "client_secret": SERVICE_SECRET,
                 "grant_types": ["client_credentials"], "response_types": [],
                 "redirect_uris": []}]

    def start(self) -> IdentityServer:
        env = {**os.environ, "OIDC_PORT": str(self.port), "OIDC_ISSUER": self.issuer,
               "OIDC_CLIENTS": json.dumps(self._clients()),
               "OIDC_ACCOUNTS": json.dumps(self.accounts),
               "OIDC_JWKS": json.dumps({"keys": self.keys}),
               "OIDC_RESOURCE": ",".join(self.resources),
               "OIDC_CLOCK_OFFSET_S": str(self.clock_offset_s), "NODE_ENV": "test"}
        self._process = subprocess.Popen(["node", "provider.mjs"], cwd=PROVIDER_DIR, env=env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not port_open("127.0.0.1", self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                self.stop()
                raise RuntimeError(f"the OpenID provider did not start: {err[-2000:]}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None

    def restart(self, *, keys: list[dict[str, Any]]) -> None:
        """The same issuer with other signing keys (the first signs): a key rotation."""
        self.stop()
        while port_open("127.0.0.1", self.port):
            time.sleep(0.05)
        self.keys = keys
        self.start()

    def client_credentials(self, *, resource: str, client_id: str = SERVICE_ID,
                           secret: str = SERVICE_SECRET) -> str:
        """A JWT access token for ``resource``, as an API client gets one."""
        r = httpx.post(f"{self.issuer}/token", auth=(client_id, secret), timeout=10,
                       data={"grant_type": "client_credentials", "resource": resource,
                             "scope": "api"})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


def id_token_for_other_app(server: IdentityServer, *, account: str, nonce: str,
                           redirect_uri: str) -> str:
    """An ID token the provider issues to another application (``OTHER_ID``) by a complete
    authorization-code flow with PKCE: genuine, signed by the provider, not for Disputeflow."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urlencode({"client_id": OTHER_ID, "response_type": "code", "nonce": nonce,
                       "scope": "openid email", "redirect_uri": redirect_uri,
                       "state": secrets.token_urlsafe(16), "code_challenge_method": "S256",
                       "code_challenge": challenge.decode().rstrip("=")})
    callback = provider_login(f"{server.issuer}/auth?{query}", account)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    r = httpx.post(f"{server.issuer}/token", auth=(OTHER_ID, OTHER_SECRET), timeout=10,
                   data={"grant_type": "authorization_code", "code": code,
                         "redirect_uri": redirect_uri, "code_verifier": verifier})
    assert r.status_code == 200, r.text
    return str(r.json()["id_token"])


def provider_login(authorize_url: str, account: str) -> str:
    """Sign in at the provider's login form as ``account`` (its own cookies, a browser of
    its own); the URL of the redirect back to Disputeflow's callback."""
    with httpx.Client(timeout=10) as provider:
        r = provider.get(authorize_url)
        for _ in range(10):
            if r.status_code in (302, 303):
                location = urljoin(str(r.url), r.headers["location"])
                if "/auth/oidc/callback" in location:
                    return location
                r = provider.get(location)
            elif r.status_code == 200 and (form := FORM.search(r.text)):
                data = dict(HIDDEN.findall(r.text))  # the interaction's prompt
                if 'name="login"' in r.text:
                    data |= {"login": account, "password": "any"}
                r = provider.post(urljoin(str(r.url), unescape(form.group(1))), data=data)
            else:
                break
    raise AssertionError(f"the provider did not send the browser back: {r.status_code} "
                         f"{r.text[:500]}")
