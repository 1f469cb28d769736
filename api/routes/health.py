"""``GET /healthz``: 200 once the API reaches both the database and Temporal, else 503."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import GatewayDep, SettingsDep, in_db
from api.schemas import Health

router = APIRouter(tags=["health"])


def _ping(session: object) -> None:
    session.execute(text("SELECT 1"))  # type: ignore[attr-defined]


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(settings: SettingsDep, gateway: GatewayDep) -> JSONResponse:
    try:
        await asyncio.wait_for(in_db(settings, _ping), timeout=5)
        database = "ok"
    except Exception:
        database = "unavailable"
    temporal = "ok" if await gateway.healthy() else "unavailable"
    ok = database == "ok" and temporal == "ok"
    return JSONResponse({"status": "ok" if ok else "unavailable", "database": database,
                         "temporal": temporal}, status_code=200 if ok else 503)
