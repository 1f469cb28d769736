"""One settings object for every process (API, worker, CLI), read from the environment.

Names are the public contract of API.md. Placeholder secrets ("changeme", "xxx", ...) are
refused at start-up: a controller would rather see the process fail than run with them.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.smtp import SmtpServer

PLACEHOLDERS = {"changeme", "changethis", "secret", "password", "xxx", "todo", "token", "test"}
STATE_DIR = Path(".disputeflow")


class Settings(BaseSettings):
    # A refused setting is named without its value: errors reach logs, values hold secrets.
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False,
                                      hide_input_in_errors=True)

    database_url: str = f"sqlite:///./{STATE_DIR}/disputeflow.db"
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "disputes"
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None
    temporal_tls_ca: str | None = None
    temporal_api_key: str | None = None

    disputeflow_api_port: int = 8000
    disputeflow_public_url: str | None = None
    disputeflow_admin_token: str | None = None

    # Single sign-on (OpenID Connect): on when issuer, client id and secret are all set.
    disputeflow_oidc_issuer: str | None = None
    disputeflow_oidc_client_id: str | None = None
    disputeflow_oidc_client_secret: str | None = None
    disputeflow_oidc_roles_claim: str = "groups"
    # What the sign-in asks the provider for; add the scope that releases the roles claim
    # into the ID token where the provider needs one (e.g. "groups").
    disputeflow_oidc_scopes: str = "openid email profile"
    # The audience a client-credentials access token must name to be accepted by the API
    # (unset: DISPUTEFLOW_PUBLIC_URL).
    disputeflow_oidc_audience: str | None = None
    # Prometheus: the bearer token a scraper of the API's GET /metrics must send (unset:
    # open, the figures carry no customer data), and the worker's metrics port (unset: none).
    disputeflow_metrics_token: str | None = None
    disputeflow_worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Logs: one JSON object a line ("json", with the dispute id when there is one) or "text".
    disputeflow_log_format: Literal["json", "text"] = "json"
    # Letters to accounts' billing contacts: the mail server (smtp://, smtps://; unset: no
    # letters are written) and the sender they come from.
    disputeflow_smtp_url: str | None = None
    disputeflow_mail_from: str | None = None
    # A refused or undelivered letter's first retry's wait (doubling, at most 30 minutes;
    # given up after a day).
    disputeflow_mail_first_retry_s: float = Field(default=30, gt=0, le=3600)
    # How long an outbound webhook delivery is retried (with backoff) before it is marked
    # failed for an admin to redeliver.
    disputeflow_webhook_retry_hours: float = Field(default=24, gt=0, le=24 * 7)
    # The first retry's wait (doubling after each failure, at most 30 minutes).
    disputeflow_webhook_first_retry_s: float = Field(default=5, gt=0, le=3600)
    # How long a browser stays signed in (hours), whatever the way in.
    disputeflow_session_hours: float = Field(default=12, gt=0, le=24 * 30)

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_managers_channel: str | None = None

    # How long the API waits for a worker to take a workflow Update before answering 503.
    disputeflow_update_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Units billed vs delivered within this fraction are reported as within tolerance.
    disputeflow_delivery_tolerance: Decimal = Field(default=Decimal("0.03"), ge=0, lt=1)
    # Largest request body the API accepts (bytes); larger is 413.
    disputeflow_max_body_bytes: int = Field(default=1_048_576, gt=1024)
    # Worker workflow cache bound, so thousands of waiting disputes do not all sit in memory
    # (about 0.25 MiB each). A decision on a dispute outside the cache first replays its
    # history (~30 ms more, bench_decisions): size it to the disputes decided in a day.
    disputeflow_max_cached_workflows: int = Field(default=1000, ge=0)
    # PostgreSQL connections one process keeps, and how many more it opens in a burst. Every
    # API and worker replica has its own pool: keep (replicas x (size + overflow)) under the
    # server's max_connections (100 by default), with room for migrations and psql.
    disputeflow_db_pool_size: int = Field(default=10, ge=1, le=200)
    disputeflow_db_max_overflow: int = Field(default=20, ge=0, le=500)
    # Four eyes on what controls money: a policy change or a grant of an approval role is a
    # proposal that a second admin approves (on in deploy/; off in the quick start, where
    # one admin alone sets things up).
    disputeflow_four_eyes: bool = False
    # How long an API token issued now stays valid (days); 0: until revoked.
    disputeflow_token_days: int = Field(default=365, ge=0, le=3660)
    # The past window a proposed policy is back-tested on, attached to the proposal.
    disputeflow_backtest_days: int = Field(default=90, ge=1, le=3660)

    # The ERP's endpoint that books approved credit memos (unset: the embedded ledger table).
    disputeflow_ledger_url: str | None = None
    # Sent as ``Authorization: Bearer ...`` to the ERP, when it asks for one.
    disputeflow_ledger_token: str | None = None
    # One posting attempt's wait for the ERP's answer; a timeout is retried (same key).
    disputeflow_ledger_timeout_s: float = Field(default=10.0, gt=0, le=25)
    # Who issues the credit memos, as their documents (the PDF) print it.
    disputeflow_issuer_name: str = "Disputeflow Billing Operations"
    disputeflow_issuer_address: str = ""

    @field_validator("disputeflow_admin_token", "slack_bot_token", "slack_signing_secret",
                     "disputeflow_oidc_client_secret", "disputeflow_ledger_token",
                     "disputeflow_metrics_token")
    @classmethod
    def _no_placeholder(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() in PLACEHOLDERS:
            raise ValueError("is a placeholder; set a real secret or leave it unset")
        if value is not None and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _sso_whole(self) -> Settings:
        """Single sign-on is on with all three of issuer, client id and secret; some of them
        alone is a mistake, refused at start rather than a sign-in button that fails."""
        parts = {"DISPUTEFLOW_OIDC_ISSUER": self.disputeflow_oidc_issuer,
                 "DISPUTEFLOW_OIDC_CLIENT_ID": self.disputeflow_oidc_client_id,
                 "DISPUTEFLOW_OIDC_CLIENT_SECRET": self.disputeflow_oidc_client_secret}
        missing = [name for name, value in parts.items() if not value]
        if 0 < len(missing) < len(parts):
            raise ValueError(f"single sign-on is half configured: set {', '.join(missing)} "
                             "too, or unset the others")
        issuer = urlsplit(self.disputeflow_oidc_issuer or "")
        local = issuer.scheme == "http" and (issuer.hostname == "localhost" or (
            issuer.hostname or "").startswith("127."))
        if self.disputeflow_oidc_issuer and not (issuer.scheme == "https" or local):
            raise ValueError("DISPUTEFLOW_OIDC_ISSUER must be an https:// URL")
        return self

    @field_validator("disputeflow_ledger_url")
    @classmethod
    def _ledger_url(cls, value: str | None) -> str | None:
        """An http(s) URL or nothing: a typo must stop the worker at start, not fail every
        posting later."""
        if value is None or not value.strip():
            return None
        if not value.strip().startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.strip()

    @model_validator(mode="after")
    def _mail_whole(self) -> Settings:
        """Letters need both the server and a sender; a server URL that cannot be read is
        refused at start, not at the first customer's letter."""
        if self.disputeflow_smtp_url is None:
            return self
        try:
            SmtpServer.from_url(self.disputeflow_smtp_url)
        except ValueError as exc:
            raise ValueError(f"DISPUTEFLOW_SMTP_URL {exc}") from None
        sender = self.disputeflow_mail_from or ""
        if "@" not in sender or any(c in sender for c in "\r\n"):
            raise ValueError("DISPUTEFLOW_MAIL_FROM must be the sender's address (e.g. "
                             "'Billing <billing@example.com>') when DISPUTEFLOW_SMTP_URL is set")
        return self

    @property
    def mail_enabled(self) -> bool:
        return self.disputeflow_smtp_url is not None

    @property
    def mail_out(self) -> tuple[SmtpServer, str] | None:
        """The mail server and the sender letters go out with; None while letters are off
        (both were checked at start: ``_mail_whole``)."""
        if self.disputeflow_smtp_url is None or self.disputeflow_mail_from is None:
            return None
        return SmtpServer.from_url(self.disputeflow_smtp_url), self.disputeflow_mail_from

    @property
    def mail_first_retry(self) -> timedelta:
        return timedelta(seconds=self.disputeflow_mail_first_retry_s)

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.disputeflow_oidc_issuer and self.disputeflow_oidc_client_id
                    and self.disputeflow_oidc_client_secret)

    @property
    def oidc_audience(self) -> str:
        return self.disputeflow_oidc_audience or self.public_url

    @property
    def webhook_retry_for(self) -> timedelta:
        return timedelta(hours=self.disputeflow_webhook_retry_hours)

    @property
    def webhook_first_retry(self) -> timedelta:
        return timedelta(seconds=self.disputeflow_webhook_first_retry_s)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.disputeflow_session_hours)

    @property
    def token_lifetime(self) -> timedelta | None:
        return timedelta(days=self.disputeflow_token_days) if self.disputeflow_token_days \
            else None

    @property
    def public_url(self) -> str:
        return self.disputeflow_public_url or f"http://localhost:{self.disputeflow_api_port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
