"""The FastAPI application: routes, error shapes, limits, one Temporal client per process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors, prometheus, web
from api.limits import RequestGuard
from api.prometheus import ApiMetrics, RequestMetrics
from api.routes import (
    analytics,
    audit,
    billing,
    changes,
    credit_memos,
    disputes,
    health,
    letters,
    metrics,
    policy,
    reports,
    sla,
    slack,
    sso,
    users,
    webhooks,
)
from api.temporal_gateway import TemporalGateway
from config.logs import DisputeOfRequest
from config.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway = TemporalGateway(settings)
        app.state.temporal = gateway
        # If Temporal is down the API still serves reads; writes say temporal_unavailable.
        with contextlib.suppress(errors.AppError):
            await gateway.client()
        keeper = (asyncio.create_task(slack.keep_clicks(app, settings))
                  if settings.slack_enabled else None)
        yield
        if keeper is not None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        await slack.drain(app)

    app = FastAPI(
        title="Disputeflow",
        version="1.0",
        description="Billing disputes and credit memos with SOX approval controls.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    for module in (users, billing, policy, changes, sso, webhooks, letters, disputes, credit_memos,
                   audit, sla, metrics, analytics, reports):
        app.include_router(module.router, responses=errors.ERROR_RESPONSES)
    app.include_router(health.router)
    # Authenticated by Slack's signature, not a token.
    app.include_router(slack.router, responses=errors.ERROR_RESPONSES)
    app.include_router(web.router)  # web pages: cookie sign-in + CSRF; not in OpenAPI
    web.mount_static(app)
    app.add_middleware(RequestGuard, max_bytes=settings.disputeflow_max_body_bytes)
    # Outside the guard, so its refusals are counted too.
    app.state.prometheus = ApiMetrics(settings)
    app.include_router(prometheus.router)
    app.add_middleware(RequestMetrics, metrics=app.state.prometheus)
    app.add_middleware(DisputeOfRequest)  # logs name the dispute the request is about
    return app
