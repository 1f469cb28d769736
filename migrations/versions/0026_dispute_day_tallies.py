"""dispute day tallies

The managers' metrics read every dispute twice per request (counts by status, root cause and
reason; the open positions), which at 100,000 disputes costs more than the read's budget.
Two small tables keep those sums per UTC day instead, written by triggers on ``disputes`` so
that every writer (the snapshot, the intake, an import, a repair by hand) keeps them exact:
each change subtracts the row's old contribution and adds its new one.

- ``dispute_day_counts``: per (day, kind, label) the number of disputes. Kinds: ``status``,
  ``reason_code``, ``root_cause`` (day opened; a dispute without a root cause is not
  counted there), ``closed`` and ``first_time`` (day closed, the status closed with; first
  time = closed with no rejected memo).
- ``open_dispute_days``: per (day opened, currency) the disputes still open (no closing
  time): their number, disputed amount in minor units, and the sum of their opening
  instants' microseconds since that day's UTC midnight (the mean age, exactly).

On PostgreSQL the trigger touches its rows in one order (kind, then day and label) so two
transactions writing one dispute each never wait for each other crosswise (the snapshot and
the intake do); a bulk repair writing many disputes in one transaction should not run beside
them. A migration that rebuilds ``disputes`` (SQLite's batch mode) drops these triggers and
must create them again: tests/db/test_tallies.py checks they are there.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_FUNCTIONS = r"""
CREATE FUNCTION dispute_count_bump(d date, k text, l text, delta bigint) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO dispute_day_counts AS c (day, kind, label, n) VALUES (d, k, l, delta)
  ON CONFLICT (day, kind, label) DO UPDATE SET n = c.n + EXCLUDED.n
$$;

CREATE FUNCTION dispute_count_move(k text, od date, ol text, nd date, nl text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF (ol IS NULL AND nl IS NULL) OR (od IS NOT DISTINCT FROM nd AND ol = nl) THEN
    RETURN;
  END IF;
  IF ol IS NULL THEN
    PERFORM dispute_count_bump(nd, k, nl, 1);
  ELSIF nl IS NULL THEN
    PERFORM dispute_count_bump(od, k, ol, -1);
  ELSIF (od, ol) < (nd, nl) THEN
    PERFORM dispute_count_bump(od, k, ol, -1);
    PERFORM dispute_count_bump(nd, k, nl, 1);
  ELSE
    PERFORM dispute_count_bump(nd, k, nl, 1);
    PERFORM dispute_count_bump(od, k, ol, -1);
  END IF;
END
$$;

CREATE FUNCTION open_dispute_bump(d date, cur text, dn bigint, amount bigint, us bigint)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO open_dispute_days AS o (day, currency, n, amount_minor, offset_us)
  VALUES (d, cur, dn, amount, us)
  ON CONFLICT (day, currency) DO UPDATE SET n = o.n + EXCLUDED.n,
    amount_minor = o.amount_minor + EXCLUDED.amount_minor,
    offset_us = o.offset_us + EXCLUDED.offset_us
$$;

CREATE FUNCTION dispute_day(at timestamptz) RETURNS date IMMUTABLE LANGUAGE sql AS $$
  SELECT (at AT TIME ZONE 'UTC')::date
$$;

CREATE FUNCTION dispute_day_offset_us(at timestamptz) RETURNS bigint IMMUTABLE
LANGUAGE sql AS $$
  SELECT (EXTRACT(EPOCH FROM (at AT TIME ZONE 'UTC')::time) * 1000000)::bigint
$$;

CREATE FUNCTION disputes_tally() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  od date; ocd date; o_status text; o_reason text; o_cause text; o_closed text;
  o_first text; o_open boolean := false; o_cur text; o_amount bigint; o_us bigint;
  nd date; ncd date; n_status text; n_reason text; n_cause text; n_closed text;
  n_first text; n_open boolean := false; n_cur text; n_amount bigint; n_us bigint;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    od := dispute_day(OLD.opened_at); ocd := dispute_day(OLD.closed_at);
    o_status := OLD.status; o_reason := OLD.reason_code; o_cause := OLD.root_cause;
    IF OLD.closed_at IS NOT NULL THEN
      o_closed := OLD.status;
      IF OLD.rejections = 0 THEN o_first := OLD.status; END IF;
    ELSE
      o_open := true; o_cur := OLD.currency; o_amount := OLD.disputed_minor;
      o_us := dispute_day_offset_us(OLD.opened_at);
    END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    nd := dispute_day(NEW.opened_at); ncd := dispute_day(NEW.closed_at);
    n_status := NEW.status; n_reason := NEW.reason_code; n_cause := NEW.root_cause;
    IF NEW.closed_at IS NOT NULL THEN
      n_closed := NEW.status;
      IF NEW.rejections = 0 THEN n_first := NEW.status; END IF;
    ELSE
      n_open := true; n_cur := NEW.currency; n_amount := NEW.disputed_minor;
      n_us := dispute_day_offset_us(NEW.opened_at);
    END IF;
  END IF;
  PERFORM dispute_count_move('closed', ocd, o_closed, ncd, n_closed);
  PERFORM dispute_count_move('first_time', ocd, o_first, ncd, n_first);
  PERFORM dispute_count_move('reason_code', od, o_reason, nd, n_reason);
  PERFORM dispute_count_move('root_cause', od, o_cause, nd, n_cause);
  PERFORM dispute_count_move('status', od, o_status, nd, n_status);
  IF o_open AND n_open AND od = nd AND o_cur = n_cur THEN
    IF o_amount <> n_amount OR o_us <> n_us THEN
      PERFORM open_dispute_bump(nd, n_cur, 0, n_amount - o_amount, n_us - o_us);
    END IF;
  ELSIF o_open AND n_open AND (od, o_cur) > (nd, n_cur) THEN
    PERFORM open_dispute_bump(nd, n_cur, 1, n_amount, n_us);
    PERFORM open_dispute_bump(od, o_cur, -1, -o_amount, -o_us);
  ELSE
    IF o_open THEN PERFORM open_dispute_bump(od, o_cur, -1, -o_amount, -o_us); END IF;
    IF n_open THEN PERFORM open_dispute_bump(nd, n_cur, 1, n_amount, n_us); END IF;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER disputes_tally AFTER INSERT OR DELETE OR UPDATE OF
  status, reason_code, root_cause, opened_at, closed_at, rejections, currency, disputed_minor
  ON disputes FOR EACH ROW EXECUTE FUNCTION disputes_tally();
"""

_PG_BACKFILL_COUNTS = """
INSERT INTO dispute_day_counts (day, kind, label, n)
SELECT dispute_day(opened_at), 'status', status, count(*) FROM disputes GROUP BY 1, 3
UNION ALL
SELECT dispute_day(opened_at), 'reason_code', reason_code, count(*) FROM disputes GROUP BY 1, 3
UNION ALL
SELECT dispute_day(opened_at), 'root_cause', root_cause, count(*) FROM disputes
  WHERE root_cause IS NOT NULL GROUP BY 1, 3
UNION ALL
SELECT dispute_day(closed_at), 'closed', status, count(*) FROM disputes
  WHERE closed_at IS NOT NULL GROUP BY 1, 3
UNION ALL
SELECT dispute_day(closed_at), 'first_time', status, count(*) FROM disputes
  WHERE closed_at IS NOT NULL AND rejections = 0 GROUP BY 1, 3
"""

_PG_BACKFILL_OPEN = """
INSERT INTO open_dispute_days (day, currency, n, amount_minor, offset_us)
SELECT dispute_day(opened_at), currency, count(*), sum(disputed_minor),
       sum(dispute_day_offset_us(opened_at))
FROM disputes WHERE closed_at IS NULL GROUP BY 1, 2
"""

# SQLite keeps instants as UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff'.
_SQLITE_DAY = "substr({0}, 1, 10)"
_SQLITE_US = ("(((CAST(substr({0}, 12, 2) AS INTEGER) * 60 + CAST(substr({0}, 15, 2) AS INTEGER))"
              " * 60 + CAST(substr({0}, 18, 2) AS INTEGER)) * 1000000"
              " + CAST(substr(substr({0}, 21) || '000000', 1, 6) AS INTEGER))")

# (kind, day of, label, only when) for a row called R.
_SQLITE_KINDS = (
    ("status", "opened_at", "R.status", "1"),
    ("reason_code", "opened_at", "R.reason_code", "1"),
    ("root_cause", "opened_at", "R.root_cause", "R.root_cause IS NOT NULL"),
    ("closed", "closed_at", "R.status", "R.closed_at IS NOT NULL"),
    ("first_time", "closed_at", "R.status", "R.closed_at IS NOT NULL AND R.rejections = 0"),
)


def _sqlite_changes(row: str, sign: str) -> str:
    """The statements adding (sign '+') or removing ('-') the contribution of ``row``."""
    out = []
    for kind, at, label, when in _SQLITE_KINDS:
        day = _SQLITE_DAY.format(f"{row}.{at}")
        out.append(
            f"INSERT INTO dispute_day_counts (day, kind, label, n) "
            f"SELECT {day}, '{kind}', {label.replace('R.', row + '.')}, {sign}1 "
            f"WHERE {when.replace('R.', row + '.')} "
            f"ON CONFLICT (day, kind, label) DO UPDATE SET n = n + excluded.n;")
    opened = f"{row}.opened_at"
    out.append(
        f"INSERT INTO open_dispute_days (day, currency, n, amount_minor, offset_us) "
        f"SELECT {_SQLITE_DAY.format(opened)}, {row}.currency, {sign}1, "
        f"{sign}{row}.disputed_minor, {sign}{_SQLITE_US.format(opened)} "
        f"WHERE {row}.closed_at IS NULL "
        f"ON CONFLICT (day, currency) DO UPDATE SET n = n + excluded.n, "
        f"amount_minor = amount_minor + excluded.amount_minor, "
        f"offset_us = offset_us + excluded.offset_us;")
    return "\n".join(out)


_SQLITE_WATCHED = ("status", "reason_code", "root_cause", "opened_at", "closed_at",
                   "rejections", "currency", "disputed_minor")


def _sqlite_triggers() -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _SQLITE_WATCHED)
    return [
        f"CREATE TRIGGER disputes_tally_insert AFTER INSERT ON disputes BEGIN\n"
        f"{_sqlite_changes('NEW', '')}\nEND",
        f"CREATE TRIGGER disputes_tally_update AFTER UPDATE ON disputes WHEN {changed} BEGIN\n"
        f"{_sqlite_changes('OLD', '-')}\n{_sqlite_changes('NEW', '')}\nEND",
        f"CREATE TRIGGER disputes_tally_delete AFTER DELETE ON disputes BEGIN\n"
        f"{_sqlite_changes('OLD', '-')}\nEND",
    ]


def _sqlite_backfill() -> list[str]:
    out = []
    for kind, at, label, when in _SQLITE_KINDS:
        day = _SQLITE_DAY.format(at)
        out.append(f"INSERT INTO dispute_day_counts (day, kind, label, n) "
                   f"SELECT {day}, '{kind}', {label.replace('R.', '')}, count(*) "
                   f"FROM disputes WHERE {when.replace('R.', '')} GROUP BY 1, 3")
    out.append(f"INSERT INTO open_dispute_days (day, currency, n, amount_minor, offset_us) "
               f"SELECT {_SQLITE_DAY.format('opened_at')}, currency, count(*), "
               f"sum(disputed_minor), sum({_SQLITE_US.format('opened_at')}) "
               f"FROM disputes WHERE closed_at IS NULL GROUP BY 1, 2")
    return out


def upgrade() -> None:
    op.create_table('dispute_day_counts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('label', sa.String(length=40), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'kind', 'label'),
    )
    op.create_table('open_dispute_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('offset_us', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'currency'),
    )
    # Positions at an instant add the disputes closed since it (none, for now) to the tally
    op.create_index('ix_disputes_closed_opened', 'disputes', ['closed_at', 'opened_at'])
    # ...and read the open disputes of the days an aging edge cuts from this index alone
    op.create_index('ix_disputes_open_opened', 'disputes',
                    ['opened_at', 'currency', 'disputed_minor'],
                    postgresql_where=sa.text('closed_at IS NULL'),
                    sqlite_where=sa.text('closed_at IS NULL'))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTIONS)
        op.execute(_PG_BACKFILL_COUNTS)
        op.execute(_PG_BACKFILL_OPEN)
    else:
        for statement in (*_sqlite_triggers(), *_sqlite_backfill()):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER disputes_tally ON disputes")
        for fn in ("disputes_tally()", "open_dispute_bump(date, text, bigint, bigint, bigint)",
                   "dispute_count_move(text, date, text, date, text)",
                   "dispute_count_bump(date, text, text, bigint)",
                   "dispute_day_offset_us(timestamptz)", "dispute_day(timestamptz)"):
            op.execute(f"DROP FUNCTION {fn}")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER disputes_tally_{name}")
    op.drop_index('ix_disputes_open_opened', table_name='disputes')
    op.drop_index('ix_disputes_closed_opened', table_name='disputes')
    op.drop_table('open_dispute_days')
    op.drop_table('dispute_day_counts')
