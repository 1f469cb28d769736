"""The managers' dashboard for a period: key figures, aging, revenue at risk by account,
credits by tier and product, root causes (Pareto and weekly trend), breaches per clock and
per dispute, approver workload, and the open breaches.

Every number comes from ``db.metrics.compute`` and the ``db.analytics`` tables — the functions
behind ``GET /api/v1/metrics`` and ``GET /api/v1/analytics/{table}`` — so the page, the API
and the CSV files cannot disagree. Figures link to the dispute list filtered to what they
count, and each table links to its CSV.

The period is picked as calendar days in the policy's time zone (``from`` and ``to``, both
included); the default is the last 30 days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import SettingsDep, in_db
from api.web import charts
from api.web.auth import page_user
from api.web.render import PAGE_ROLES, PageRoute, render
from db import analytics, analytics_trends, disputes, metrics, report_window
from db.users import Principal

router = APIRouter(route_class=PageRoute, include_in_schema=False)
ManagerPage = Annotated[Principal, Depends(page_user(*PAGE_ROLES["/dashboard"]))]
DEFAULT_DAYS = 30
BREACH_ROWS = 20
TOP_ACCOUNTS = 10


@dataclass
class Period:
    """The days asked for (both included, in the policy's zone) and what was wrong with them."""

    raw: dict[str, str]
    first: date | None = None
    last: date | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """``[first 00:00, the day after last 00:00)`` in the zone, as UTC instants."""
        def midnight(day: date) -> datetime:
            return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
        return (None if self.first is None else midnight(self.first),
                None if self.last is None else midnight(self.last + timedelta(days=1)))


def _day(raw: str, name: str, label: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = f"{label}: enter a date such as 2026-10-01."
        return None


def parse_period(params: dict[str, str], today: date) -> Period:
    """``?from=&to=`` (dates; ``to`` left out is today), or ``?period=all`` for all time;
    the last 30 days otherwise."""
    raw = {k: params.get(k, "").strip()[:20] for k in ("from", "to", "period")}
    period = Period(raw)
    if raw["period"] == "all":
        return period
    if not raw["from"] and not raw["to"]:
        period.first, period.last = today - timedelta(days=DEFAULT_DAYS - 1), today
        return period
    period.first = _day(raw["from"], "from", "From", period.errors)
    period.last = _day(raw["to"], "to", "To", period.errors) if raw["to"] else today
    if not raw["from"]:
        period.errors["from"] = "From: enter the period's first day."
    if period.last == date.max:
        period.errors["to"] = "To: choose a day before 9999-12-31."
    elif period.first and period.last and period.last < period.first:
        period.errors["to"] = "To: choose a day on or after From."
    return period


def presets(today: date) -> list[tuple[str, str]]:
    """Quick picks: (label, query string)."""
    month = today.replace(day=1)
    last_month_end = month - timedelta(days=1)
    quarter = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)

    def span(first: date, last: date) -> str:
        return urlencode({"from": first.isoformat(), "to": last.isoformat()})
    return [("Last 30 days", span(today - timedelta(days=DEFAULT_DAYS - 1), today)),
            ("This month", span(month, today)),
            ("Last month", span(last_month_end.replace(day=1), last_month_end)),
            ("This quarter", span(quarter, today)),
            ("All time", "period=all")]


def _list_link(**filters: datetime | str | None) -> str:
    query = {k: v.isoformat() if isinstance(v, datetime) else v
             for k, v in filters.items() if v is not None}
    return f"/disputes?{urlencode(query)}"


# The tables the page reads besides the metrics (aging and the reason-code trend come with
# the metrics' own reads: see dashboard_data).
TABLE_READS = ("revenue_at_risk_by_account", "revenue_at_risk_by_product",
               "credits_by_product", "pareto_root_causes",
               "breaches", "approver_workload", "decision_time")


def _open_breaches(session: Session, _: report_window.Window) -> list[dict[str, Any]]:
    return disputes.list_breaches(session, open_only=True, clock=None, assignee_role=None,
                                  limit=BREACH_ROWS)


def dashboard_data(database_url: str, *, period: Period, zone: ZoneInfo,
                   now: datetime) -> dict[str, Any]:
    """Every figure of the page for the period: the metrics' parts and the tables, each
    read on its own connection at the same time (``report_window.read_concurrently``)."""
    start, end = period.bounds(zone)
    readers: dict[str, Any] = {f"metrics:{name}": part for name, part in metrics.PARTS.items()}
    readers["metrics:open"] = _open_and_aging
    readers.update({name: analytics.TABLES[name] for name in TABLE_READS})
    readers["open_breaches"] = _open_breaches
    w, found = report_window.read_concurrently(database_url, readers, start=start, end=end,
                                               now=now)
    found["window"] = w
    opened = found.pop("metrics:open")
    found["aging"] = opened["aging"]
    found["m"] = metrics.assemble(
        {"from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
         "as_of": w.as_of.isoformat()},
        {name: opened["part"] if name == "open" else found.pop(f"metrics:{name}")
         for name in metrics.PARTS})
    found["trends_reason_code"] = found["m"]["trends"]["reason_code"]  # the same table
    return found


def _open_and_aging(session: Session, w: report_window.Window) -> dict[str, Any]:
    """The metrics' open positions and the aging table from one read of the open disputes
    (the window keeps it for both), rather than that read twice on two connections."""
    return {"part": metrics.PARTS["open"](session, w), "aging": analytics.aging(session, w)}


def _pivot(rows: list[dict[str, Any]], key: str, w: report_window.Window
           ) -> tuple[list[str], list[str], dict[tuple[str, str], int], dict[tuple[str, str], str]]:
    """Weeks by values: the counts, and for each cell the dispute list of exactly those
    disputes (opened that week, inside the period, with that value)."""
    weeks = sorted({r["week_start"] for r in rows})
    values = sorted({r[key] for r in rows})
    zone = ZoneInfo(w.timezone)
    edges = {start.astimezone(zone).date().isoformat(): (start, end)
             for start, end in analytics_trends.week_bounds(w)}
    links: dict[tuple[str, str], str] = {}
    for week in weeks:
        if week not in edges:
            continue
        start, end = edges[week]
        low = max(start, w.start) if w.start else start
        high = min(end, w.end) if w.end else end
        for value in values:
            links[(week, value)] = _list_link(**{key: value}, opened_from=low, opened_to=high)
    return weeks, values, {(r["week_start"], r[key]): r["opened"] for r in rows}, links


def dashboard_context(data: dict[str, Any], period: Period, today: date) -> dict[str, Any]:
    """The template's data: the figures, their links, the CSV addresses and the charts."""
    m, w = data["m"], data["window"]
    api_period = {k: v.isoformat() for k, v in (("from", w.start), ("to", w.end)) if v}

    def csv(table: str) -> str:
        return f"/api/v1/analytics/{table}?{urlencode({**api_period, 'format': 'csv'})}"

    aging = [{**b, "link": _list_link(open_at=w.as_of, **dict(zip(
        ("opened_from", "opened_to"), analytics.age_range(w.as_of, b["min_days"],
                                                          b["max_days"]), strict=True)))}
             for b in data["aging"]]
    accounts = [{**a, "link": _list_link(account_id=a["account_id"], open_at=w.as_of)}
                for a in data["revenue_at_risk_by_account"][:TOP_ACCOUNTS]]
    pareto = [{**c, "link": _list_link(root_cause=c["root_cause"], opened_from=w.start,
                                       opened_to=w.end)} for c in data["pareto_root_causes"]]
    causes = _pivot(m["trends"]["root_cause"], "root_cause", w)
    reasons = _pivot(data["trends_reason_code"], "reason_code", w)
    top = [c["root_cause"] for c in data["pareto_root_causes"][:2]]
    colours = (charts.BAR, charts.SECOND)
    status_rows = [(s.replace("_", " "), float(n)) for s, n in m["counts_by_status"].items()]
    return {
        "title": "Dashboard", "m": m, "w": w, "period": period, "presets": presets(today),
        "breaches": data["open_breaches"], "aging": aging, "accounts": accounts,
        "more_accounts": len(data["revenue_at_risk_by_account"]) - len(accounts),
        "products": data["credits_by_product"], "pareto": pareto,
        "risk_products": data["revenue_at_risk_by_product"],
        "clocks": data["breaches"], "workload": data["approver_workload"],
        "decision_time": data["decision_time"], "causes": causes, "reasons": reasons,
        "open_breaches": sum(int(c["still_open"]) for c in data["breaches"]),
        "csv": {name: csv(name) for name in analytics.TABLES},
        "links": {"open": _list_link(open_at=w.as_of), "breached": "/disputes?breached=yes"},
        "status_chart": charts.hbars("Disputes by status, now", status_rows),
        "aging_chart": charts.hbars(f"Open disputes by age, as of {w.as_of:%Y-%m-%d}",
                                    [(f"{b['bucket']} days", float(b["count"]))
                                     for b in aging]),
        "pareto_chart": charts.hbars("Root causes of disputes opened in the period",
                                     [(c["root_cause"].replace("_", " "), float(c["disputes"]))
                                      for c in pareto]),
        "trend_chart": charts.trend(
            "Disputes opened per week by top root cause", causes[0],
            [(cause.replace("_", " "), colour, [causes[2].get((wk, cause), 0)
                                                for wk in causes[0]])
             for cause, colour in zip(top, colours, strict=False)], unit="week"),
    }


@router.get("/dashboard")
async def dashboard_page(request: Request, _: ManagerPage, settings: SettingsDep) -> Response:
    now = datetime.now(UTC)
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    zone = ZoneInfo(await in_db(settings, report_window.policy_timezone, readonly=True))
    today = now.astimezone(zone).date()
    period = parse_period(params, today)
    if period.errors:
        period = Period(period.raw, errors=period.errors,
                        first=today - timedelta(days=DEFAULT_DAYS - 1), last=today)
    data = await run_in_threadpool(dashboard_data, settings.database_url, period=period,
                                   zone=zone, now=now)
    return render(request, "dashboard.html", dashboard_context(data, period, today),
                  status=422 if period.errors else 200)
