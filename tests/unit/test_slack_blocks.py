"""Every Slack template rendered with hostile input, checked against Block Kit's limits."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from activities import slack_blocks as sb

HOSTILE = 'He said "{{ 7*7 }}" {% raw %}\\n\n<@U123> <!channel> & `code` *bold* \u0000 ✓ '
LONG = (HOSTILE * 200)[:5000]

TEXT_TYPES = {"plain_text", "mrkdwn"}


def check_text(obj: dict[str, Any], limit: int, *, plain_only: bool = False) -> None:
    assert obj["type"] in ({"plain_text"} if plain_only else TEXT_TYPES), obj
    assert isinstance(obj["text"], str) and 0 < len(obj["text"]) <= limit, len(obj["text"])


def check_element(el: dict[str, Any]) -> None:
    if el["type"] == "button":
        check_text(el["text"], 75, plain_only=True)
        assert 0 < len(el["action_id"]) <= 255
        assert 0 < len(el["value"]) <= 2000
        assert el.get("style") in (None, "primary", "danger")
    elif el["type"] == "plain_text_input":
        assert 0 < len(el["action_id"]) <= 255 and el["max_length"] <= 3000
        check_text(el["placeholder"], 150, plain_only=True)
    else:
        raise AssertionError(f"unexpected element {el['type']}")


def check_blocks(blocks: list[dict[str, Any]], max_blocks: int = 50) -> None:
    """Slack's documented limits for the block types our templates use."""
    assert isinstance(blocks, list) and 0 < len(blocks) <= max_blocks
    for block in blocks:
        assert len(block.get("block_id", "")) <= 255
        kind = block["type"]
        if kind == "header":
            check_text(block["text"], 150, plain_only=True)
        elif kind == "section":
            assert ("text" in block) != ("fields" in block), block
            if "text" in block:
                check_text(block["text"], 3000)
            else:
                assert 0 < len(block["fields"]) <= 10
                for f in block["fields"]:
                    check_text(f, 2000)
        elif kind == "context":
            assert 0 < len(block["elements"]) <= 10
            for el in block["elements"]:
                check_text(el, 3000)
        elif kind == "actions":
            assert 0 < len(block["elements"]) <= 25
            ids = [el["action_id"] for el in block["elements"]]
            assert len(ids) == len(set(ids))
            for el in block["elements"]:
                check_element(el)
        elif kind == "input":
            check_text(block["label"], 2000, plain_only=True)
            check_element(block["element"])
        else:
            raise AssertionError(f"unexpected block type {kind}")


def hostile_view(*, status: str = "pending", level: int = 2, findings: int = 20,
                 currency: str = "EUR") -> dict[str, Any]:
    approvals = [
        {"level": 1, "role": "billing_manager", "status": "approved", "approver_id": "U-1",
         "delegate_of": "U-9", "decided_at": "2026-11-20T10:00:00+00:00", "channel": "slack",
         "comment": LONG, "due_at": None, "escalate_to": None},
        {"level": 2, "role": "senior_billing_manager", "status": status,
         "approver_id": "U-2" if status in ("approved", "rejected") else None,
         "delegate_of": None, "decided_at": "2026-11-21T10:00:00+00:00", "channel": "api",
         "comment": LONG, "due_at": "2026-11-24T17:00:00+00:00", "escalate_to": "director"},
        {"level": 3, "role": "director_revops", "status": "waiting", "approver_id": None,
         "delegate_of": None, "decided_at": None, "channel": None, "comment": None,
         "due_at": None, "escalate_to": None},
    ]
    return {
        "id": "DSP-ABC", "status": "pending_approval", "account_id": LONG[:64],
        "invoice_number": HOSTILE[:60], "currency": currency, "disputed_amount": "1234567.89",
        "reason_code": "rate_mismatch", "description": LONG, "opened_by": "U-0",
        "findings": [{"status": "discrepancy", "message": LONG} for _ in range(findings)],
        "credit_memo": {"number": "CM-ABC-1", "total": "1000.00", "currency": currency,
                        "base_total": "1080.00", "base_currency": "USD", "fx_rate": "1.08",
                        "preparer_id": "U-5"},
        "approvals": approvals[:level + 1],
    }


NAMES = {"U-1": LONG[:200], "U-2": 'Bo "}]} Chen', "U-9": "<b>Ann</b>"}


def test_prompt_survives_hostile_text_within_limits() -> None:
    view = hostile_view()
    blocks = sb.prompt_blocks(view, 2, recipient=LONG[:200], public_url="https://df.example/",
                              names=NAMES, note=LONG)
    check_blocks(blocks)
    text = json.dumps(blocks, ensure_ascii=False)
    assert "{{ 7*7 }}" in text and "49" not in text  # user text is data, never template
    assert "<@U123>" not in text and "<!channel>" not in text  # no mentions smuggled in
    assert "&lt;@U123&gt;" in text
    buttons = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons] == [sb.ACTION_APPROVE, sb.ACTION_REJECT]
    assert json.loads(buttons[0]["value"]) == {"d": "DSP-ABC", "m": "CM-ABC-1", "l": 2}
    fields = next(b for b in blocks if "fields" in b)["fields"]
    assert any("2 of 3" in f["text"] for f in fields)
    assert any("1,000.00 EUR (1,080.00 USD)" in f["text"] for f in fields)
    assert any("1,234,567.89 EUR (≈ 1,333,333.32 USD)" in f["text"] for f in fields)
    assert "<https://df.example/disputes/DSP-ABC|DSP-ABC>" in text
    assert "and 14 more" in text  # findings are summarized, not all listed
    assert len(sb.prompt_text(view, 2)) <= 3000


@pytest.mark.parametrize("status", ["approved", "rejected", "voided"])
def test_decided_message_has_no_buttons(status: str) -> None:
    view = hostile_view(status=status)
    blocks = sb.decided_blocks(view, "CM-ABC-1", 2, public_url="https://df.example",
                               names=NAMES)
    assert blocks is not None
    check_blocks(blocks)
    assert all(b["type"] != "actions" for b in blocks)
    last = blocks[-1]["text"]["text"]
    if status == "voided":
        assert "Voided: the credit memo was changed or withdrawn." in last
    else:
        assert f"{status.capitalize()} by Bo \"}}]}} Chen at 2026-11-21 10:00 UTC via api: " in last


def test_decided_for_a_replaced_memo_and_pending_level() -> None:
    view = hostile_view()
    assert sb.decided_blocks(view, "CM-ABC-1", 2, public_url="https://x") is None
    blocks = sb.decided_blocks(view, "CM-OLD-1", 2, public_url="https://x")
    assert blocks is not None
    check_blocks(blocks)
    assert blocks[-1]["text"]["text"].endswith("Voided: the credit memo was changed or withdrawn.")


def test_same_currency_shows_no_conversion_and_no_findings_say_so() -> None:
    view = hostile_view(currency="USD", findings=0, level=0)
    view["approvals"][0].update(status="pending", approver_id=None)
    blocks = sb.prompt_blocks(view, 1, recipient="Ann", public_url="https://x")
    check_blocks(blocks)
    text = json.dumps(blocks)
    assert "\\u2248" not in text and "None recorded." in text and "Earlier decisions" not in text


def test_notes_and_alerts_within_limits() -> None:
    for link in (None, "https://df.example/disputes/DSP-1?a=<b>&c"):
        blocks = sb.note_blocks(LONG, link=link)
        check_blocks(blocks)
    blocks = sb.note_blocks("x", link="https://df.example/d?a=1&b=<2>")
    link = blocks[1]["elements"][0]["text"]
    assert link == "<https://df.example/d?a=1&amp;b=&lt;2&gt;|Open in Disputeflow>"


def test_reject_modal_within_limits() -> None:
    metadata = json.dumps({"d": "D" * 40, "m": "M" * 40, "l": 3, "r": "https://hooks.slack.com/"
                           + "x" * 500})
    modal = sb.reject_modal(metadata, memo_number="CM-1", level=3)
    assert modal["type"] == "modal" and modal["callback_id"] == sb.VIEW_REJECT
    for key in ("title", "submit", "close"):
        check_text(modal[key], 24, plain_only=True)
    assert modal["private_metadata"] == metadata and len(metadata) <= 3000
    check_blocks(modal["blocks"], max_blocks=100)
    field = modal["blocks"][-1]
    assert (field["block_id"], field["element"]["action_id"]) == (sb.REASON_BLOCK,
                                                                    sb.REASON_ACTION)


def test_filters_escape_and_clip_without_breaking_entities() -> None:
    assert sb.mrkdwn("a<b>&c") == "a&lt;b&gt;&amp;c"
    clipped = sb.mrkdwn("&" * 100, 20)
    assert len(clipped) <= 20 and clipped.endswith("…")
    assert re.fullmatch(r"(&amp;)+…", clipped)
    assert sb.plain("a\n  b\tc" * 100, 10) == "a b ca b …"


def test_templates_run_sandboxed() -> None:
    env = sb.TEMPLATES
    assert isinstance(env, SandboxedEnvironment)
    with pytest.raises(SecurityError):
        env.from_string("{{ x.__class__.__mro__[1].__subclasses__() }}").render(x="")
