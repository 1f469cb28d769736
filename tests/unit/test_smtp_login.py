"""A mail server's password never crosses the network in clear: a server that offers no
STARTTLS (or had it stripped on the way) gets no login."""

from __future__ import annotations

import smtplib

import pytest

from config.smtp import SmtpServer
from tests.support.mailbox import Mailbox


def test_no_login_without_encryption() -> None:
    box = Mailbox().start()  # plain SMTP on loopback, no STARTTLS
    try:
        server = SmtpServer.from_url(f"smtp://mailer:secret@127.0.0.1:{box.port}")
        with pytest.raises(smtplib.SMTPException, match="not sent in clear"):
            server.connect()
        anonymous = SmtpServer.from_url(box.url).connect()  # no password: plain is fine
        anonymous.quit()
    finally:
        box.stop()


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "smtp://h?starttls=maybe"])
def test_a_url_that_is_no_mail_server_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        SmtpServer.from_url(url)
