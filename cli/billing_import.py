"""``disputeflow import FILE.csv --kind KIND``: one CSV file of billing data, imported
whole or not at all, with the bad rows printed as the API's 422 lists them."""

from __future__ import annotations

import sys
from pathlib import Path

from config.settings import get_settings
from db.billing_csv import import_csv
from db.session import session_scope
from domain.billing_csv import CsvRefused


def import_csv_file(path: Path, kind: str, *, actor: str = "cli") -> int:
    """0 and the counts on standard output; 1 and the row report on standard error."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"Cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        with session_scope(get_settings().database_url) as session:
            done = import_csv(session, kind=kind, data=data, actor=actor)
    except CsvRefused as refused:
        print(f"Import of {path.name} refused; nothing was written.\n{refused.report()}",
              file=sys.stderr)
        return 1
    print(f"Imported {kind} from {path.name}: {done.rows} rows; {done.created} created, "
          f"{done.updated} updated, {done.unchanged} unchanged")
    return 0
