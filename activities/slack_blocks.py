"""Block Kit for Slack, rendered from Jinja2 templates in ``activities/templates/slack``.

The templates produce JSON text, and user-provided strings (descriptions, comments, names)
reach it only through filters: ``mrkdwn`` escapes Slack's control characters (``& < >``) and
clips to a length budget, ``tojson`` quotes. The environment is sandboxed and the result is
parsed with ``json.loads``, so a template or value that would produce invalid JSON fails
loudly in tests instead of sending Slack something broken. The budgets are chosen so that no
block exceeds Slack's limits whatever the input (tests/unit/test_slack_blocks.py checks).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from domain.money import fmt, quantize

ACTION_APPROVE = "dfl_approve"
ACTION_REJECT = "dfl_reject"
ACTIONS_BLOCK = "dfl_decision"
VIEW_REJECT = "dfl_reject_reason"
REASON_BLOCK = "reason"
REASON_ACTION = "reason"
REASON_MAX = 3000
DECIDED = ("approved", "rejected")

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def mrkdwn(value: object, limit: int = 3000) -> str:
    """Escape for Slack mrkdwn and clip so the *escaped* text fits ``limit`` characters."""
    out: list[str] = []
    size = 0
    for ch in str(value):
        piece = _ESCAPES.get(ch, ch)
        if size + len(piece) > limit - 1:
            out.append("…")
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def plain(value: object, limit: int = 3000) -> str:
    text = " ".join(str(value).split())  # headers and buttons are one line
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(Path(__file__).parent / "templates" / "slack"),
        autoescape=False, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(
        tojson=lambda v: json.dumps(v, ensure_ascii=False), mrkdwn=mrkdwn, plain=plain,
        bullet=lambda v: f"• {v}")
    return env


# The sandboxed environment every Slack body renders in (user text is never trusted).
TEMPLATES = _env()


def _render(name: str, **context: Any) -> Any:
    return json.loads(TEMPLATES.get_template(name).render(**context))


def slack_date(iso: str | None) -> str:
    """A time Slack shows in each reader's own time zone, with a UTC fallback."""
    if not iso:
        return "not set"
    at = datetime.fromisoformat(iso).astimezone(UTC)
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def plain_date(iso: str | None) -> str:
    if not iso:
        return "an unknown time"
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def button_value(dispute_id: str, memo_number: str, level: int) -> str:
    """What a button carries back: compact, well under Slack's 2,000 characters."""
    return json.dumps({"d": dispute_id, "m": memo_number, "l": level}, separators=(",", ":"))


def _amount(amount: str, currency: str, fx_rate: str | None, base: str | None) -> str:
    text = fmt(Decimal(amount), currency)
    if fx_rate and base and base != currency:
        text += f" (≈ {fmt(quantize(Decimal(amount) * Decimal(fx_rate), base), base)})"
    return text


def _dispute(view: Mapping[str, Any], public_url: str) -> dict[str, Any]:
    memo = view.get("credit_memo") or {}
    findings = [f.get("message", "") for f in view.get("findings") or []
                if f.get("status") == "discrepancy"]
    more = len(findings) - 6
    return {
        "id": view["id"], "link": f"{public_url.rstrip('/')}/disputes/{view['id']}",
        "account": view["account_id"], "invoice": view["invoice_number"],
        "reason": str(view["reason_code"]).replace("_", " "),
        "description": view.get("description") or "",
        "disputed": _amount(view["disputed_amount"], view["currency"], memo.get("fx_rate"),
                            memo.get("base_currency")),
        "findings": findings[:6] + ([f"and {more} more"] if more > 0 else []),
    }


def decision_words(approval: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """'approved by Ann Lee (for Bo Chen) at 2026-11-24 17:00 UTC via slack: comment'."""
    who = names.get(approval.get("approver_id") or "", approval.get("approver_id") or "someone")
    if approval.get("delegate_of"):
        who += f" (for {names.get(approval['delegate_of'], approval['delegate_of'])})"
    text = (f"{approval['status']} by {who} at {plain_date(approval.get('decided_at'))} "
            f"via {approval.get('channel') or 'unknown channel'}")
    return text + (f": {approval['comment']}" if approval.get("comment") else "")


def _memo(view: Mapping[str, Any], level: int, names: Mapping[str, str]) -> dict[str, Any]:
    memo = view["credit_memo"]
    approvals = view.get("approvals") or []
    current = next((a for a in approvals if a["level"] == level), None)
    if current is None:
        raise ValueError(f"credit memo {memo['number']} has no approval level {level}")
    role = current["role"]
    if current.get("status") == "escalated" and current.get("escalate_to"):
        role += f" (escalated: {current['escalate_to']} may decide too)"
    credit = fmt(Decimal(memo["total"]), memo["currency"])
    if memo["base_currency"] != memo["currency"]:
        credit += f" ({fmt(Decimal(memo['base_total']), memo['base_currency'])})"
    return {
        "number": memo["number"], "credit": credit,
        "level_words": f"{level} of {len(approvals)} — {role}",
        "due": slack_date(current.get("due_at")),
        "decisions": [f"Level {a['level']} ({a['role']}): {decision_words(a, names)}"
                      for a in approvals if a["level"] < level and a["status"] in DECIDED],
    }


def memo_matches(view: Mapping[str, Any], memo_number: str) -> bool:
    return bool(view.get("credit_memo")) and view["credit_memo"]["number"] == memo_number


def prompt_blocks(
    view: Mapping[str, Any], level: int, *, recipient: str, public_url: str,
    names: Mapping[str, str] | None = None, note: str | None = None,
) -> list[dict[str, Any]]:
    """The direct message asking ``recipient`` to approve or reject ``level``."""
    m = _memo(view, level, names or {})
    blocks: list[dict[str, Any]] = _render(
        "prompt.json.j2", d=_dispute(view, public_url), m=m, note=note,
        title=f"Credit memo {m['number']} needs your decision",
        greeting=f"Hi {recipient}, you can approve or reject level {m['level_words']}.",
        value=button_value(view["id"], m["number"], level), actions_block=ACTIONS_BLOCK,
        approve_id=ACTION_APPROVE, reject_id=ACTION_REJECT)
    return blocks


def prompt_text(view: Mapping[str, Any], level: int) -> str:
    """The notification text (and the fallback where blocks cannot show)."""
    memo = view["credit_memo"]
    return mrkdwn(f"Credit memo {memo['number']} for {view['account_id']} "
                  f"({fmt(Decimal(memo['total']), memo['currency'])}) needs your decision "
                  f"at level {level} of {len(view.get('approvals') or [])}.", 3000)


def outcome(
    view: Mapping[str, Any], memo_number: str, level: int, names: Mapping[str, str],
) -> tuple[str, str] | None:
    """(icon, words) for a decided or voided level; None while it still waits."""
    if not memo_matches(view, memo_number):
        return ":no_entry_sign:", "Voided: the credit memo was changed or withdrawn."
    approval = next((a for a in view.get("approvals") or [] if a["level"] == level), None)
    if approval is None or approval["status"] == "voided":
        return ":no_entry_sign:", "Voided: the credit memo was changed or withdrawn."
    if approval["status"] not in DECIDED:
        return None
    icon = ":white_check_mark:" if approval["status"] == "approved" else ":x:"
    words = decision_words(approval, names)
    return icon, words[0].upper() + words[1:]


def decided_blocks(
    view: Mapping[str, Any], memo_number: str, level: int, *, public_url: str,
    names: Mapping[str, str] | None = None,
) -> list[dict[str, Any]] | None:
    """The prompt without buttons, saying who decided what and when (None: not decided)."""
    names = names or {}
    result = outcome(view, memo_number, level, names)
    if result is None:
        return None
    icon, words = result
    m = _memo(view, level, names) if memo_matches(view, memo_number) else None
    status = words.split(" ", 1)[0].rstrip(":").lower()
    blocks: list[dict[str, Any]] = _render(
        "decided.json.j2", d=_dispute(view, public_url), m=m, icon=icon, outcome=words,
        title=f"Credit memo {memo_number}: {status}")
    return blocks


def note_blocks(text: str, *, icon: str = ":bell:", link: str | None = None,
                ) -> list[dict[str, Any]]:
    """A reminder or escalation in a prompt's thread, or a managers' channel alert."""
    blocks: list[dict[str, Any]] = _render("note.json.j2", text=text, icon=icon, link=link)
    return blocks


def reject_modal(metadata: str, *, memo_number: str, level: int) -> dict[str, Any]:
    """The modal asking for the rejection reason; ``metadata`` comes back on submission."""
    view: dict[str, Any] = _render(
        "reject_modal.json.j2", callback_id=VIEW_REJECT, metadata=metadata,
        intro=f"You are rejecting level {level} of credit memo {memo_number}. It goes back "
              "to the analyst with your reason.",
        block_id=REASON_BLOCK, action_id=REASON_ACTION, max_length=REASON_MAX)
    return view
