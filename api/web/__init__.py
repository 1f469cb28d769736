"""The server-rendered web pages (API.md, "Web pages"): sign-in, disputes, approvals, the
managers' dashboard, the auditors' page, access administration and the credit memo
document.

Plain HTML and CSS from Jinja2 templates, no script: every action is a form post with a CSRF
token, every read a link. The pages run the API's own code paths (the same validation, the
same workflow Updates, the same audit) and only render the answers for people.

Wire into the app with ``app.include_router(web.router)`` and ``web.mount_static(app)``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from api.web import (
    auth,
    pages_account,
    pages_admin,
    pages_approvals,
    pages_audit,
    pages_dashboard,
    pages_delegations,
    pages_disputes,
    pages_intake,
    pages_investigation,
    pages_letters,
    pages_memos,
    pages_sso_admin,
    pages_tokens,
    sso,
)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)
# Order matters: /disputes/new (intake) before /disputes/{dispute_id}.
for _module in (auth, sso, pages_intake, pages_disputes, pages_investigation, pages_approvals,
                pages_dashboard, pages_audit, pages_admin, pages_tokens, pages_delegations,
                pages_account, pages_sso_admin, pages_letters, pages_memos):
    router.include_router(_module.router)


def mount_static(app: FastAPI) -> None:
    """Serve the pages' stylesheet at /static (no CDN: the pages work offline)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


__all__ = ["STATIC_DIR", "mount_static", "router"]
