"""Prepare a credit memo: check the credit lines against the invoice, convert to the
policy's base currency, add up recent credits to the account, and choose the approval chain.

Runs as an activity because it reads the database; its refusals are non-retryable
``validation_error``s the API returns as 422 with the message as written here.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError

from activities.context import ActivityContext
from activities.defn import defn
from approvals.chain import select_chain
from approvals.policy import parse_policy
from db import billing, policies
from db.models import CreditMemo as CreditMemoRow
from db.session import session_scope
from domain.models import (
    ApprovalLevel,
    CreditMemo,
    PolicyRef,
    PrepareCreditMemo,
    PreparedCreditMemo,
)
from domain.money import fmt, from_minor, minor_units, quantize, to_minor


def _refuse(message: str, **details: object) -> ApplicationError:
    return ApplicationError(message, details or None, type="validation_error", non_retryable=True)


class CreditMemoActivities:
    def __init__(self, ctx: ActivityContext) -> None:
        self.ctx = ctx

    @defn(name="prepare_credit_memo")
    def prepare_credit_memo(self, req: PrepareCreditMemo) -> PreparedCreditMemo:
        cur = req.currency
        with session_scope(self.ctx.db_url) as s:
            invoice = billing.load_invoice(s, req.invoice_number)
            if invoice is None:
                raise _refuse(f"Invoice {req.invoice_number} is no longer in the billing data.")
            if not req.credit_lines:
                raise _refuse("A credit needs at least one credit line (line_id and amount).")
            seen: set[str] = set()
            credited = billing.credited_per_line(s, invoice.number, exclude_dispute=req.dispute_id)
            for cl in req.credit_lines:
                line = invoice.line(cl.line_id)
                if line is None:
                    raise _refuse(f"Line {cl.line_id} is not on invoice {invoice.number}.",
                                  field="credit_lines", line_id=cl.line_id)
                if cl.line_id in seen:
                    raise _refuse(f"Line {cl.line_id} appears twice; give one amount per line.")
                seen.add(cl.line_id)
                if cl.amount <= 0:
                    raise _refuse(f"The credit for line {cl.line_id} must be greater than zero.")
                exp = cl.amount.as_tuple().exponent
                if isinstance(exp, int) and -exp > minor_units(cur):
                    raise _refuse(f"The credit for line {cl.line_id} has more decimals than "
                                  f"{cur} allows ({minor_units(cur)}).")
                open_amount = line.amount - from_minor(credited.get(cl.line_id, 0), cur)
                if cl.amount > open_amount:
                    raise _refuse(
                        f"Line {cl.line_id} has {fmt(open_amount, cur)} still open "
                        f"(billed {fmt(line.amount, cur)}); the credit of {fmt(cl.amount, cur)} "
                        "exceeds it.", field="credit_lines", line_id=cl.line_id)
            total = quantize(sum((c.amount for c in req.credit_lines), Decimal(0)), cur)
            if req.resolution == "full_credit" and total != req.disputed_amount:
                raise _refuse(f"A full credit must equal the disputed amount "
                              f"{fmt(req.disputed_amount, cur)}; the lines add up to "
                              f"{fmt(total, cur)}. Use partial_credit for less.")
            if total > req.disputed_amount:
                raise _refuse(f"The credit lines add up to {fmt(total, cur)}, more than the "
                              f"disputed amount {fmt(req.disputed_amount, cur)}.")

            policy_row = policies.current(s)
            policy = parse_policy(policy_row.document)
            base = policy.base_currency
            on = req.at.date()
            fx = billing.fx_rate(s, cur, base, on)
            if fx is None:
                raise _refuse(f"No FX rate from {cur} to {base} on or before {on}; import one "
                              "(billing data fx_rates) and submit the investigation again.",
                              field="fx_rates", currency=cur, base=base)
            rate, as_of = fx
            base_total = quantize(total * rate, base)
            since = req.at - timedelta(days=policy.aggregation_window_days)
            window_minor = s.scalar(
                select(func.coalesce(func.sum(CreditMemoRow.base_total_minor), 0)).where(
                    CreditMemoRow.account_id == req.account_id,
                    CreditMemoRow.status.in_(billing.IN_FLIGHT),
                    CreditMemoRow.created_at >= since,
                    CreditMemoRow.dispute_id != req.dispute_id,
                )) or 0
            window_total = from_minor(int(window_minor), base)
            closed = [invoice.period] if billing.is_closed(s, invoice.period) else []

        chain = select_chain(policy, amount_base=base_total, window_total_base=window_total,
                             prior_period=req.prior_period or bool(closed),
                             closed_periods_hit=closed)
        levels = [
            ApprovalLevel(level=i + 1, role=role, status="waiting", sla=policy.level_sla(role),
                          escalate_to=next(iter(policy.escalation_roles(role)), None))
            for i, role in enumerate(chain.levels)
        ]
        memo = CreditMemo(
            number=req.memo_number, total=total, currency=cur, base_total=base_total,
            base_currency=base, fx_rate=rate, fx_as_of=as_of, lines=req.credit_lines,
            prior_period=chain.prior_period, closed_periods=closed,
            status="pending_approval" if levels else "approved", preparer_id=req.preparer_id,
            policy_version=policy_row.version, tier_min=chain.tier_min,
            window_total_base=window_total, chain_reasons=chain.reasons, levels=levels,
            created_at=req.at,
        )
        assert to_minor(memo.total, cur) > 0
        return PreparedCreditMemo(
            memo=memo, policy=PolicyRef(version=policy_row.version, document=policy_row.document))
