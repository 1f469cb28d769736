"""The automatic investigation: read the invoice, contract terms and delivery through the
billing connector and compute findings."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from activities.context import ActivityContext
from activities.defn import defn
from domain.findings import investigate
from domain.models import Finding, GatherFindings


class InvestigationActivities:
    def __init__(self, ctx: ActivityContext) -> None:
        self.ctx = ctx

    @defn(name="gather_findings")
    def gather_findings(self, request: GatherFindings) -> list[Finding]:
        conn = self.ctx.billing
        invoice = conn.invoice(request.invoice_number)
        if invoice is None:
            raise ApplicationError(f"invoice {request.invoice_number} is not in the billing data",
                                   type="not_found", non_retryable=True)
        lines = [ln for ln in invoice.lines if not request.line_ids or ln.id in request.line_ids]
        campaigns = sorted({ln.campaign_id for ln in lines if ln.campaign_id})
        return investigate(
            invoice,
            line_ids=request.line_ids,
            contracts=conn.contracts(invoice.account_id, campaigns),
            delivery=conn.delivery(campaigns, invoice.period),
            other_invoices=conn.invoices_for_period(invoice.account_id, invoice.period),
            tolerance=self.ctx.delivery_tolerance,
        )
