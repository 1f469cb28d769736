"""``disputeflow import FILE.csv --kind ...`` run as an operator runs it: counts printed on
success, the row report printed and exit 1 on a bad file (which writes nothing)."""

from __future__ import annotations

from pathlib import Path

from db import billing
from db.session import session_scope
from tests.db.test_cli import cli


def test_csv_files_import_by_kind_and_a_bad_one_prints_its_rows(db_url: str,
                                                                tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_bytes("\ufeffid,type,name,currency\r\nADV-7,advertiser,\"Seven, Ltd\",USD\r\n"
                         .encode())
    r = cli(db_url, "import", str(accounts), "--kind", "accounts")
    assert r.returncode == 0, r.stderr
    assert "Imported accounts from accounts.csv: 1 rows; 1 created, 0 updated, 0 unchanged" \
        in r.stdout
    r = cli(db_url, "import", str(accounts), "--kind", "accounts")
    assert "0 created, 0 updated, 1 unchanged" in r.stdout

    invoices = tmp_path / "invoices.csv"
    invoices.write_text(
        "number,account_id,currency,period,issued_on,line_id,product,units,unit,rate,amount\n"
        "INV-7,ADV-7,USD,2026-10,2026-11-01,L1,display,100,clicks,1.00,100.00\n"
        "INV-7,ADV-7,USD,2026-10,2026-11-01,L2,display,100,clicks,1.00,100.005\n"
        "INV-8,ADV-9,USD,2026-10,2026-11-01,L1,display,100,clicks,1.00,100.00\n")
    r = cli(db_url, "import", str(invoices), "--kind", "invoices")
    assert r.returncode == 1
    assert "refused; nothing was written" in r.stderr
    assert "3 rows read; 1 failed (line 3)" in r.stderr
    assert "line 3, amount: amount 100.005 has more decimals than USD allows (2)" in r.stderr
    with session_scope(db_url, readonly=True) as s:
        assert billing.load_invoice(s, "INV-7") is None

    # Rows valid on their own, refused by the database: the rows are named all the same.
    invoices.write_text(invoices.read_text().replace("100.005", "100.00"))
    r = cli(db_url, "import", str(invoices), "--kind", "invoices")
    assert r.returncode == 1
    assert "line 4, account_id: account ADV-9 is not in the billing data" in r.stderr
    with session_scope(db_url, readonly=True) as s:
        assert billing.load_invoice(s, "INV-7") is None

    assert cli(db_url, "import", str(invoices)).returncode == 2  # .csv needs --kind
    r = cli(db_url, "import", str(invoices), "--kind", "ledgers")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    json_doc = tmp_path / "doc.json"
    json_doc.write_text('{"accounts": []}')
    assert cli(db_url, "import", str(json_doc), "--kind", "accounts").returncode == 2
    r = cli(db_url, "import", str(json_doc))
    assert r.returncode == 0 and "0 accounts" in r.stdout, r.stderr
