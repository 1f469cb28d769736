"""The floor under a decision over HTTP: the least any product must add to the bare engine's
Update to take a decision from a person and keep it — an HTTP request whose bearer token is
looked up in the users table, and the Update's local activity writing one row in one
transaction (bench/bare_workflow.py: ``BareDecisionWorkflow`` running ``floor_record``).
No dispute read, no rules, no audit chain, no view: what ours does beyond this floor is the
product. The same for a lifecycle (``BareWorkflow`` running ``floor_record``): the bare
lifecycle's start and Updates each sent over HTTP with a token lookup, each of its
activities writing one row.

    python -m bench.floor PORT TEMPORAL_ADDRESS DATABASE_URL

Served like our API (its own process, uvicorn on the same event loop and HTTP parser,
config/event_loop.py), so ``bench_overhead.py`` can put the three side by side: the bare
engine, this floor, and ours.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, Header, HTTPException
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from bench.bare_workflow import FLOOR_RECORD, BareDecisionWorkflow, BareWorkflow
from config.event_loop import UVICORN_HTTP, UVICORN_LOOP
from db.session import get_engine
from db.tokens import hash_token


def app(address: str, db_url: str) -> FastAPI:
    engine = get_engine(db_url)

    @asynccontextmanager
    async def connected(app: FastAPI) -> AsyncIterator[None]:
        app.state.client = await Client.connect(address)
        yield

    floor = FastAPI(lifespan=connected)

    def user_of(token: str) -> str | None:
        with engine.connect() as c:
            found = c.execute(text(
                "SELECT u.id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE "
                "t.token_hash = :h AND t.revoked_at IS NULL AND u.active"),
                {"h": hash_token(token)}).scalar()
            return None if found is None else str(found)

    async def signed_in(authorization: str) -> tuple[str, Client]:
        user = await run_in_threadpool(user_of, authorization.removeprefix("Bearer "))
        if user is None:
            raise HTTPException(401, "unknown token")
        client: Client = floor.state.client
        return user, client

    @floor.post("/floor/{workflow_id}/decision")
    async def decide(workflow_id: str,
                     authorization: Annotated[str, Header()] = "") -> dict[str, Any]:
        user, client = await signed_in(authorization)
        handle = client.get_workflow_handle(workflow_id)
        decided = await handle.execute_update(BareDecisionWorkflow.decide)
        return {"id": workflow_id, "decided_by": user, "decisions": decided}

    @floor.post("/floor/lifecycles/{workflow_id}")
    async def start(workflow_id: str, task_queue: str,
                    authorization: Annotated[str, Header()] = "") -> dict[str, Any]:
        user, client = await signed_in(authorization)
        await client.start_workflow(BareWorkflow.run, FLOOR_RECORD, id=workflow_id,
                                    task_queue=task_queue)
        return {"id": workflow_id, "opened_by": user}

    @floor.post("/floor/lifecycles/{workflow_id}/step")
    async def step(workflow_id: str,
                   authorization: Annotated[str, Header()] = "") -> dict[str, Any]:
        user, client = await signed_in(authorization)
        steps = await client.get_workflow_handle(workflow_id).execute_update(BareWorkflow.step)
        return {"id": workflow_id, "by": user, "steps": steps}

    @floor.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return floor


if __name__ == "__main__":
    port, address, db_url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    uvicorn.run(app(address, db_url), host="127.0.0.1", port=port, log_level="warning",
                loop=UVICORN_LOOP, http=UVICORN_HTTP)
