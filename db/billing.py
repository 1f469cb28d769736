"""Billing data: import by upsert (re-importing changes nothing) and the reads the
embedded connectors, intake validation and credit-memo preparation need."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from db import audit
from db.models import (
    Account,
    ClosedPeriod,
    Contract,
    CreditMemo,
    CreditMemoLine,
    Delivery,
    FxRate,
    Invoice,
    InvoiceLine,
)
from domain.billing import ContractTerm, DeliveryRecord, InvoiceData, InvoiceLineData
from domain.billing_doc import BillingDocument
from domain.codes import APPROVED_MEMO_STATUSES
from domain.money import from_minor, to_minor

# Credit memos that take money off an invoice (or are about to); and those or still waiting.
COMMITTED = APPROVED_MEMO_STATUSES
IN_FLIGHT = ("pending_approval", *APPROVED_MEMO_STATUSES)


@dataclass(frozen=True)
class RecordProblem:
    """One record the database cannot take, by the document's kind and the record's key
    (an invoice number), the field at fault and why: the CSV import turns it into the
    rows of the file that hold that record."""

    kind: str
    key: str
    field: str
    message: str


class ImportProblem(ValueError):
    """The document refers to something that does not exist, or would change what must
    not change; nothing was written. ``problems`` names each record at fault."""

    def __init__(self, message: str, problems: Sequence[RecordProblem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


Outcome = Literal["created", "updated", "unchanged"]
OUTCOMES: tuple[Outcome, ...] = ("created", "updated", "unchanged")


def _upsert(session: Session, model: type[Any], key: dict[str, Any],
            values: dict[str, Any]) -> Outcome:
    """Insert or update one row by its natural key, and say which it was."""
    row = session.scalar(select(model).filter_by(**key))
    if row is None:
        session.add(model(**key, **values))
        return "created"
    if all(getattr(row, k) == v for k, v in values.items()):
        return "unchanged"
    for k, v in values.items():
        setattr(row, k, v)
    return "updated"


_LINE_COLUMNS = ("position", "product", "campaign_id", "units", "unit", "rate", "rate_basis",
                 "amount_minor", "makegood")


def _upsert_invoice(session: Session, inv: Any) -> Outcome:
    values = {"account_id": inv.account_id, "currency": inv.currency, "period": inv.period,
              "issued_on": inv.issued_on, "total_minor": to_minor(inv.total, inv.currency)}
    lines = [
        InvoiceLine(invoice_number=inv.number, line_id=ln.id, position=i, product=ln.product,
                    campaign_id=ln.campaign_id, units=ln.units, unit=ln.unit, rate=ln.rate,
                    rate_basis=ln.rate_basis, amount_minor=to_minor(ln.amount, inv.currency),
                    makegood=ln.makegood)
        for i, ln in enumerate(inv.lines)
    ]
    existing = {ln.line_id: ln for ln in session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_number == inv.number))}
    same_lines = set(existing) == {ln.line_id for ln in lines} and all(
        getattr(existing[ln.line_id], c) == getattr(ln, c) for ln in lines for c in _LINE_COLUMNS)
    existed = session.get(Invoice, inv.number) is not None
    header = _upsert(session, Invoice, {"number": inv.number}, values)
    if same_lines and header == "unchanged":
        return "unchanged"
    if not same_lines:
        if session.scalar(select(func.count()).select_from(CreditMemo)
                          .where(CreditMemo.invoice_number == inv.number)):
            message = (f"invoice {inv.number} already has credit memos; its lines cannot be "
                       "replaced")
            raise ImportProblem(message, [RecordProblem("invoices", inv.number, "line_id",
                                                        message)])
        for old in existing.values():
            session.delete(old)
        session.flush()
        session.add_all(lines)
    return "updated" if existed else "created"


def _tally(outcomes: Iterable[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
    for outcome in outcomes:
        counts[outcome] += 1
    return counts


def import_counts(session: Session, doc: BillingDocument, *,
                  actor: str) -> dict[str, dict[str, int]]:
    """Upsert every record by its natural key; per kind, how many records were created,
    updated and unchanged. Refuses (ImportProblem) with every record at fault; the
    caller's transaction then writes nothing."""
    known_accounts = {a.id for a in doc.accounts}
    missing = {i.account_id for i in doc.invoices} - known_accounts
    missing -= set(session.scalars(select(Account.id).where(Account.id.in_(missing))))
    if missing:
        raise ImportProblem(
            f"invoices refer to unknown accounts: {', '.join(sorted(missing))}",
            [RecordProblem("invoices", i.number, "account_id",
                           f"account {i.account_id} is not in the billing data; import it "
                           "first") for i in doc.invoices if i.account_id in missing])
    counts = {"accounts": _tally(
        _upsert(session, Account, {"id": a.id},
                {"type": a.type, "name": a.name, "currency": a.currency,
                 "billing_email": a.billing_email})
        for a in doc.accounts)}
    session.flush()
    invoices: list[Outcome] = []
    problems: list[RecordProblem] = []
    for inv in doc.invoices:
        try:
            invoices.append(_upsert_invoice(session, inv))
        except ImportProblem as exc:  # every such invoice is named, then nothing is kept
            problems.extend(exc.problems)
    if problems:
        raise ImportProblem("; ".join(p.message for p in problems), problems)
    counts["invoices"] = _tally(invoices)
    counts["contracts"] = _tally(
        _upsert(session, Contract,
                {"account_id": c.account_id, "campaign_id": c.campaign_id,
                 "valid_from": c.valid_from},
                {"rate": c.rate, "rate_basis": c.rate_basis, "valid_to": c.valid_to,
                 "measurement_source": c.measurement_source})
        for c in doc.contracts)
    counts["delivery"] = _tally(
        _upsert(session, Delivery,
                {"campaign_id": d.campaign_id, "period": d.period, "source": d.source},
                {"units": d.units, "makegood_units": d.makegood_units})
        for d in doc.delivery)
    counts["fx_rates"] = _tally(
        _upsert(session, FxRate, {"currency": fx.currency, "base": fx.base, "as_of": fx.as_of},
                {"rate": fx.rate})
        for fx in doc.fx_rates)
    counts["closed_periods"] = _tally(
        _upsert(session, ClosedPeriod, {"period": p}, {}) for p in doc.closed_periods)
    session.flush()
    changed = {kind: c["created"] + c["updated"] for kind, c in counts.items()}
    if any(changed.values()):
        audit.append(session, [audit.NewEvent(
            actor=actor, action="billing_data.imported", subject="billing-data",
            message="Billing data imported: " + ", ".join(f"{v} {k}" for k, v in changed.items()),
            data={"changed": changed},
        )])
    return counts


def import_document(session: Session, doc: BillingDocument, *, actor: str) -> dict[str, int]:
    """Upsert every record by its natural key; returns how many records were new or changed."""
    counts = import_counts(session, doc, actor=actor)
    return {kind: c["created"] + c["updated"] for kind, c in counts.items()}


def load_invoice(session: Session, number: str) -> InvoiceData | None:
    inv = session.get(Invoice, number)
    if inv is None:
        return None
    lines = session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_number == number)
                            .order_by(InvoiceLine.position))
    return InvoiceData(
        number=inv.number, account_id=inv.account_id, currency=inv.currency, period=inv.period,
        issued_on=inv.issued_on, total=from_minor(inv.total_minor, inv.currency),
        lines=tuple(InvoiceLineData(
            id=ln.line_id, product=ln.product, campaign_id=ln.campaign_id, units=ln.units,
            unit=ln.unit, rate=ln.rate, rate_basis=ln.rate_basis,
            amount=from_minor(ln.amount_minor, inv.currency), makegood=ln.makegood)
            for ln in lines),
    )


def invoices_for_period(session: Session, account_id: str, period: str) -> list[InvoiceData]:
    numbers = session.scalars(select(Invoice.number).where(
        Invoice.account_id == account_id, Invoice.period == period))
    return [inv for n in numbers if (inv := load_invoice(session, n)) is not None]


def contracts_for(
    session: Session, account_id: str, campaign_ids: Sequence[str]
) -> list[ContractTerm]:
    rows = session.scalars(select(Contract).where(
        Contract.account_id == account_id, Contract.campaign_id.in_(list(campaign_ids))))
    return [ContractTerm(r.account_id, r.campaign_id, r.rate, r.rate_basis, r.valid_from,
                         r.valid_to, r.measurement_source) for r in rows]


def delivery_for(
    session: Session, campaign_ids: Sequence[str], period: str
) -> list[DeliveryRecord]:
    rows = session.scalars(select(Delivery).where(
        Delivery.campaign_id.in_(list(campaign_ids)), Delivery.period == period))
    return [DeliveryRecord(r.campaign_id, r.period, r.units, r.makegood_units, r.source)
            for r in rows]


def fx_rate(session: Session, currency: str, base: str, on: date) -> tuple[Decimal, date] | None:
    """The rate in force on ``on``: the latest published on or before that date."""
    if currency == base:
        return Decimal(1), on
    row = session.scalar(select(FxRate).where(
        FxRate.currency == currency, FxRate.base == base, FxRate.as_of <= on)
        .order_by(FxRate.as_of.desc()).limit(1))
    return (row.rate, row.as_of) if row else None


def account_names(session: Session, ids: Sequence[str] | set[str]) -> dict[str, str]:
    """Account names for ids (one query), for the pages that show an account to a person."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    return dict(session.execute(select(Account.id, Account.name)
                                .where(Account.id.in_(wanted))).all())


@dataclass(frozen=True)
class InvoiceChoice:
    """An invoice as the intake form offers it: number, period, currency, total and what is
    still open on it (total less committed credits)."""

    number: str
    period: str
    issued_on: date
    currency: str
    total: Decimal
    open_amount: Decimal


def account_choices(session: Session, *, limit: int = 1000) -> list[tuple[str, str]]:
    """(id, name) of the accounts, by name: the intake form's account list."""
    return [(i, n) for i, n in session.execute(
        select(Account.id, Account.name).order_by(Account.name, Account.id).limit(limit))]


def invoice_choices(session: Session, account_id: str, *, limit: int = 100
                    ) -> list[InvoiceChoice]:
    """The account's invoices, newest first, with what is still open on each."""
    rows = session.execute(
        select(Invoice.number, Invoice.period, Invoice.issued_on, Invoice.currency,
               Invoice.total_minor)
        .where(Invoice.account_id == account_id)
        .order_by(Invoice.issued_on.desc(), Invoice.number).limit(limit)).all()
    credited = dict(session.execute(
        select(CreditMemo.invoice_number, func.sum(CreditMemo.total_minor))
        .where(CreditMemo.invoice_number.in_([r[0] for r in rows]),
               CreditMemo.status.in_(COMMITTED))
        .group_by(CreditMemo.invoice_number)).all()) if rows else {}
    out = []
    for number, period, issued_on, currency, total_minor in rows:
        out.append(InvoiceChoice(number=number, period=period, issued_on=issued_on,
                                 currency=currency, total=from_minor(total_minor, currency),
                                 open_amount=from_minor(
                                     total_minor - int(credited.get(number) or 0), currency)))
    return out


def mark_disputed(session: Session, *, invoice_number: str, at: datetime) -> None:
    """Stamp the invoice with when it was first disputed (an earlier stamp stays): first-time
    invoice accuracy counts the invoices that never were."""
    session.execute(update(Invoice).where(
        Invoice.number == invoice_number,
        or_(Invoice.first_disputed_at.is_(None), Invoice.first_disputed_at > at))
        .values(first_disputed_at=at))


def is_closed(session: Session, period: str) -> bool:
    return session.get(ClosedPeriod, period) is not None


def credited_on_invoice(session: Session, number: str, statuses: Sequence[str] = COMMITTED) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(CreditMemo.total_minor), 0)).where(
        CreditMemo.invoice_number == number, CreditMemo.status.in_(list(statuses)))) or 0)


def credited_per_line(
    session: Session, number: str, *, exclude_dispute: str | None = None,
    statuses: Sequence[str] = IN_FLIGHT,
) -> dict[str, int]:
    query = (select(CreditMemoLine.line_id, func.sum(CreditMemoLine.amount_minor))
             .join(CreditMemo, CreditMemo.number == CreditMemoLine.memo_number)
             .where(CreditMemoLine.invoice_number == number,
                    CreditMemo.status.in_(list(statuses)))
             .group_by(CreditMemoLine.line_id))
    if exclude_dispute:
        query = query.where(CreditMemo.dispute_id != exclude_dispute)
    return {line: int(total) for line, total in session.execute(query)}
