"""Single sign-on settings: on only when whole, and a half-configured one refused at start
with the missing variables named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.settings import Settings

WHOLE = {"disputeflow_oidc_issuer": "https://login.retail.example",
         "disputeflow_oidc_client_id": "disputeflow",
         "disputeflow_oidc_client_secret": "a-real-secret-0123456789"}


def test_sso_is_on_only_when_issuer_client_and_secret_are_all_set() -> None:
    assert Settings(**WHOLE).oidc_enabled  # type: ignore[arg-type]
    assert not Settings().oidc_enabled


def test_a_half_configured_sso_names_what_is_missing() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(disputeflow_oidc_issuer=WHOLE["disputeflow_oidc_issuer"])
    message = str(refused.value)
    assert "DISPUTEFLOW_OIDC_CLIENT_ID" in message
    assert "DISPUTEFLOW_OIDC_CLIENT_SECRET" in message


@pytest.mark.parametrize("secret", ["changeme", "secret", "  "])
def test_a_placeholder_client_secret_is_refused_or_ignored(secret: str) -> None:
    with pytest.raises(ValidationError):
        Settings(**{**WHOLE, "disputeflow_oidc_client_secret": secret})  # type: ignore[arg-type]


def test_the_issuer_must_be_https_outside_this_host() -> None:
    plain = {**WHOLE, "disputeflow_oidc_issuer": "http://login.retail.example"}
    with pytest.raises(ValidationError, match="https"):
        Settings(**plain)  # type: ignore[arg-type]
    local = {**WHOLE, "disputeflow_oidc_issuer": "http://127.0.0.1:9000"}
    assert Settings(**local).oidc_enabled  # type: ignore[arg-type]


def test_a_host_merely_starting_like_localhost_is_not_this_host() -> None:
    lookalike = {**WHOLE, "disputeflow_oidc_issuer": "http://localhost.evil.example"}
    with pytest.raises(ValidationError, match="https"):
        Settings(**lookalike)  # type: ignore[arg-type]


def test_a_refused_setting_does_not_print_the_secrets_beside_it() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(disputeflow_smtp_url="smtp://mailer:hunter2-secret@mail.example:587",
                 disputeflow_admin_token="adm_very-secret-admin-token-123")
    assert "DISPUTEFLOW_MAIL_FROM" in str(refused.value)
    assert "hunter2" not in str(refused.value) and "very-secret" not in str(refused.value)
