"""The mail server letters go through, from DISPUTEFLOW_SMTP_URL:
``smtp://[user:password@]host[:port]`` (STARTTLS when the server offers it; add
``?starttls=required`` to insist), or ``smtps://`` for TLS from the first byte. Read once at
start (a URL that cannot be read stops the process there)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: bool  # TLS from the first byte (smtps)
    starttls: str  # "auto" | "required"
    user: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must look like smtp://host:25 or smtps://user:password@host:465")
        starttls = parse_qs(parts.query).get("starttls", ["auto"])[0]
        if starttls not in ("auto", "required"):
            raise ValueError("starttls may be 'auto' or 'required'")
        return cls(parts.hostname, parts.port or (465 if parts.scheme == "smtps" else 25),
                   parts.scheme == "smtps", starttls,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)

    def connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT_S, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_S)
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            elif self.starttls == "required":
                smtp.quit()
                raise smtplib.SMTPException("the mail server offers no STARTTLS")
        if self.user:
            if not isinstance(smtp.sock, ssl.SSLSocket):
                smtp.quit()  # never a password in clear: a stripped STARTTLS ends here
                raise smtplib.SMTPException("the mail server offered no encryption; the "
                                            "password is not sent in clear")
            smtp.login(self.user, self.password or "")
        return smtp
