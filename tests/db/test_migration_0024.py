"""Migration 0024 keeps the delivery and contracts already there meaning what they meant:
every delivery record becomes our own (first-party) count under the wider key, every
contract names no measurement source — so their findings are the findings of before."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from db import billing
from db.migrate import upgrade
from db.session import get_engine, session_scope
from domain.billing_doc import BillingDocument
from tests.db.test_migration_backfills import empty_url  # noqa: F401  (the fixture)

CONTRACTS = sa.table("contracts", *(sa.column(c) for c in (
    "account_id", "campaign_id", "rate", "rate_basis", "valid_from", "valid_to")))
DELIVERY = sa.table("delivery", *(sa.column(c) for c in (
    "campaign_id", "period", "units", "makegood_units")))


def test_delivery_and_contracts_before_0024_are_first_party_and_name_no_source(
    empty_url: str,  # noqa: F811
) -> None:
    upgrade(empty_url, "0023")
    with get_engine(empty_url).begin() as c:
        c.execute(sa.insert(CONTRACTS), [
            {"account_id": "ADV-1", "campaign_id": "C-9", "rate": "10.00", "rate_basis": 1000,
             "valid_from": date(2026, 1, 1), "valid_to": date(2026, 12, 31)}])
        c.execute(sa.insert(DELIVERY), [
            {"campaign_id": "C-9", "period": period, "units": units, "makegood_units": mg}
            for period, units, mg in (("2026-09", 1000, 0), ("2026-10", 80000, 500))])
    upgrade(empty_url)
    with get_engine(empty_url).begin() as c:
        rows = sorted(c.execute(sa.text(
            "SELECT campaign_id, period, source, units, makegood_units FROM delivery")).all())
        named = c.execute(sa.text("SELECT measurement_source FROM contracts")).scalars().all()
        key = sa.inspect(c).get_pk_constraint("delivery")["constrained_columns"]
        # A writer naming no source (code of before, mid-deploy) writes a first-party count.
        c.execute(sa.insert(DELIVERY), [{"campaign_id": "C-10", "period": "2026-10",
                                         "units": 5, "makegood_units": 0}])
    assert rows == [("C-9", "2026-09", "first_party", 1000, 0),
                    ("C-9", "2026-10", "first_party", 80000, 500)]
    assert named == [None]
    assert sorted(key) == ["campaign_id", "period", "source"]
    with session_scope(empty_url) as s:
        # The first-party record is the one a source-less document updates ...
        doc = {"delivery": [{"campaign_id": "C-9", "period": "2026-10", "units": 80000,
                             "makegood_units": 500},
                            {"campaign_id": "C-9", "period": "2026-10", "units": 70000,
                             "source": "gcm"}]}
        counts = billing.import_counts(s, BillingDocument.model_validate(doc), actor="t")
        assert counts["delivery"] == {"created": 1, "updated": 0, "unchanged": 1}
        # ... and a third party's count sits beside it.
        assert sorted((d.source, d.units) for d in billing.delivery_for(s, ["C-9"], "2026-10")
                      ) == [("first_party", 80000), ("gcm", 70000)]
        assert [t.measurement_source for t in billing.contracts_for(s, "ADV-1", ["C-9"])] == [
            None]
