"""Record the histories the replay test checks: ``make histories``.

Runs the main dispute paths on the time-skipping server with the real activities and saves
each completed workflow's history as JSON. Re-record only after a deliberate change that is
guarded by ``workflow.patched()``; keep the old files so running disputes stay covered.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from config.converter import DATA_CONVERTER
from domain.models import Actor, CreditLine, DecideLevel, SubmitInvestigation, Withdraw
from tests.conftest import People, seed
from tests.support.databases import SqliteFactory
from tests.workflows.helpers import open_dispute, running_worker
from workflows.dispute import DisputeWorkflow

HERE = Path(__file__).parent


def _actor(p: People, who: str) -> Actor:
    return Actor(id=p.ids[who], roles=p.roles[who])


async def record(version: str) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        data_converter=DATA_CONVERTER)
    with tempfile.TemporaryDirectory() as tmp:
        factory = SqliteFactory(Path(tmp))
        with factory.database() as url:
            people = seed(url)
            async with running_worker(env.client, url) as queue:
                async def credit(amount: str, line: str, invoice: str) -> SubmitInvestigation:
                    return SubmitInvestigation(
                        actor=_actor(people, "analyst"), root_cause="rate_card",
                        resolution="partial_credit",
                        credit_lines=[CreditLine(line_id=line, amount=Decimal(amount))])

                async def ready(h: object) -> None:
                    for _ in range(200):
                        if (await h.query(DisputeWorkflow.get_state)).findings is not None:  # type: ignore[attr-defined]
                            return
                        await asyncio.sleep(0.02)

                scenarios = {}
                h = await open_dispute(env.client, queue, opened_by=people.ids["cs"],
                                       amount="6000.00", invoice="INV-BIG", line_ids=["B1"])
                await ready(h)
                await h.execute_update(DisputeWorkflow.submit_investigation,
                                       await credit("6000.00", "B1", "INV-BIG"))
                await h.execute_update(DisputeWorkflow.decide,
                                       DecideLevel(actor=_actor(people, "bm"), decision="approve"))
                await h.execute_update(DisputeWorkflow.decide,
                                       DecideLevel(actor=_actor(people, "sbm"), decision="approve"))
                scenarios["two_level_approval"] = h

                h = await open_dispute(env.client, queue, opened_by=people.ids["cs"])
                await ready(h)
                await h.execute_update(DisputeWorkflow.submit_investigation,
                                       await credit("250.00", "L1", "INV-1001"))
                await h.execute_update(DisputeWorkflow.decide, DecideLevel(
                    actor=_actor(people, "bm"), decision="reject", comment="too much"))
                await h.execute_update(DisputeWorkflow.submit_investigation,
                                       await credit("200.00", "L1", "INV-1001"))
                await h.execute_update(DisputeWorkflow.decide,
                                       DecideLevel(actor=_actor(people, "bm2"), decision="approve"))
                # The 6,000 credit above is in the aggregation window: two levels here too.
                await h.execute_update(DisputeWorkflow.decide,
                                       DecideLevel(actor=_actor(people, "sbm"), decision="approve"))
                scenarios["reject_and_resubmit"] = h

                h = await open_dispute(env.client, queue, opened_by=people.ids["cs"])
                await ready(h)
                await h.execute_update(DisputeWorkflow.submit_investigation, SubmitInvestigation(
                    actor=_actor(people, "analyst"), root_cause="other", resolution="deny"))
                scenarios["deny"] = h

                h = await open_dispute(env.client, queue, opened_by=people.ids["cs"])
                await ready(h)
                await h.execute_update(DisputeWorkflow.withdraw,
                                       Withdraw(actor=_actor(people, "cs"), comment="paid"))
                scenarios["withdraw"] = h

                for name, handle in scenarios.items():
                    await handle.result()
                    history = await handle.fetch_history()
                    path = HERE / f"{version}_{name}.json"
                    path.write_text(history.to_json())
                    print(f"wrote {path}")
    await env.shutdown()


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1] if len(sys.argv) > 1 else "v1"))
