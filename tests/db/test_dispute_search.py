"""The dispute list's search and orders, on SQLite and PostgreSQL: by dispute id, invoice or
account (their start), account name or the client's words (anywhere), ignoring case; newest,
oldest or largest first, page by page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from db import dispute_list
from db.models import Account, Dispute
from db.session import session_scope

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
ROWS = [("DSP-AAA111", "ADV-1", "INV-2026-001", "CPC billed at 0.80, contract says 0.65"),
        ("DSP-BBB222", "ADV-2", "INV-2026-002", "Impressions short by 12%"),
        ("DSP-CCC333", "ADV-2", "INV-2027-003", "Duplicate line on the_invoice")]


@pytest.fixture
def url(db_url: str) -> str:
    with session_scope(db_url) as s:
        s.add_all([Account(id="ADV-1", type="advertiser", name="Nordic Foods", currency="EUR"),
                   Account(id="ADV-2", type="agency", name="Brio Media", currency="USD")])
        for i, (did, account, invoice, words) in enumerate(ROWS):
            s.add(Dispute(id=did, status="investigating", account_id=account,
                          invoice_number=invoice, currency="USD",
                          disputed_minor=[5000, 90000, 1000][i],
                          reason_code="other", opened_by="U-1",
                          opened_at=T0 + timedelta(hours=i), closed_at=None, breached=False,
                          root_cause=None, revision=1, description=words, view={"id": did}))
    return db_url


def found(url: str, text: str) -> list[str]:
    with session_scope(url, readonly=True) as s:
        items, _ = dispute_list.list_views(s, filters=dispute_list.ListFilter(text=text), limit=50,
                                       cursor=None)
    return sorted(v["id"] for v in items)


@pytest.mark.parametrize(("text", "ids"), [
    ("dsp-aaa", ["DSP-AAA111"]),                    # dispute id, its start, any case
    ("AAA111", []),                                 # … not its middle
    ("INV-2026", ["DSP-AAA111", "DSP-BBB222"]),     # invoice number's start
    ("adv-2", ["DSP-BBB222", "DSP-CCC333"]),        # account id
    ("nordic", ["DSP-AAA111"]),                     # account name, anywhere
    ("media", ["DSP-BBB222", "DSP-CCC333"]),
    ("contract says", ["DSP-AAA111"]),              # the client's words
    ("12%", ["DSP-BBB222"]),                        # % is a character, not a wildcard
    ("the_invoice", ["DSP-CCC333"]),                # _ too
    ("n_t", []),                                    # (unescaped, "on the" would match)
    ("nothing like it", []),
])
def test_search(url: str, text: str, ids: list[str]) -> None:
    assert found(url, text) == ids


def paged(url: str, sort: str) -> list[str]:
    """Every dispute, one per page, following the cursors."""
    seen: list[str] = []
    cursor = None
    with session_scope(url, readonly=True) as s:
        while True:
            items, cursor = dispute_list.list_views(s, filters=dispute_list.ListFilter(), limit=1,
                                                cursor=cursor, sort=sort)
            seen += [v["id"] for v in items]
            if cursor is None:
                return seen


def test_orders_page_through_every_dispute_once(url: str) -> None:
    assert paged(url, "newest") == ["DSP-CCC333", "DSP-BBB222", "DSP-AAA111"]
    assert paged(url, "oldest") == ["DSP-AAA111", "DSP-BBB222", "DSP-CCC333"]
    assert paged(url, "amount") == ["DSP-BBB222", "DSP-AAA111", "DSP-CCC333"]


def test_a_cursor_of_another_order_is_refused(url: str) -> None:
    with session_scope(url, readonly=True) as s:
        _, cursor = dispute_list.list_views(s, filters=dispute_list.ListFilter(), limit=1,
                                            cursor=None, sort="amount")
        assert cursor is not None
        with pytest.raises(ValueError):
            dispute_list.list_views(s, filters=dispute_list.ListFilter(), limit=1, cursor=cursor,
                                sort="newest")
