"""Every single-field refusal of a policy document, each asserted at its dotted field path.

Each case edits one place of the default document (the place *is* the reported field) and
expects a problem there whose message contains a telling fragment.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from approvals.policy import DEFAULT_POLICY_DOCUMENT, PolicyError, PolicyProblem, parse_policy

DROP = object()  # the key is removed instead of set
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def edited(field: str, value: object) -> dict[str, Any]:
    """The default document with ``field`` (``tiers[1].min``) set to ``value`` or dropped."""
    document: dict[str, Any] = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    keys: list[Any] = [key if key else int(index) for key, index in _TOKEN.findall(field)]
    parent: Any = document
    for key in keys[:-1]:
        parent = parent[key]
    last = keys[-1]
    if value is DROP:
        del parent[last]
    elif isinstance(parent, list) and last == len(parent):
        parent.append(value)
    else:
        parent[last] = value
    return document


CASES: list[tuple[str, str, object, str]] = [
    # top level
    ("unknown top-level key", "approvers", [], "unknown key"),
    ("missing base_currency", "base_currency", DROP, "missing"),
    ("missing levels", "levels", DROP, "missing"),
    ("missing tiers", "tiers", DROP, "missing"),
    ("missing calendar", "calendar", DROP, "missing"),
    ("lower-case currency", "base_currency", "usd", "capital"),
    ("short currency", "base_currency", "US", "currency"),
    ("long currency", "base_currency", "USDX", "currency"),
    ("numeric currency", "base_currency", 840, "currency"),
    ("currency with newline", "base_currency", "USD\n", "code"),
    ("window negative", "aggregation_window_days", -1, "0 to 366"),
    ("window too long", "aggregation_window_days", 367, "0 to 366"),
    ("window as text", "aggregation_window_days", "30", "whole number"),
    ("window as float", "aggregation_window_days", 30.0, "whole number"),
    ("window as bool", "aggregation_window_days", True, "whole number"),
    ("prior period role unknown", "prior_period_requires", "cfo", "'cfo'"),
    ("prior period role malformed", "prior_period_requires", ["controller"], "role name"),
    # levels and escalation
    ("levels not a mapping", "levels", ["billing_manager"], "map"),
    ("levels empty", "levels", {}, "at least one"),
    ("level without sla", "levels.controller.sla", DROP, "missing"),
    ("level with unknown key", "levels.controller.backup", "x", "unknown key"),
    ("level not a mapping", "levels.controller", "P3D", "mapping"),
    ("bad level sla", "levels.billing_manager.sla", "2 days", "ISO 8601"),
    ("level sla in months", "levels.billing_manager.sla", "P1M", "ISO 8601"),
    ("zero level sla", "levels.billing_manager.sla", "PT0S", "zero"),
    ("numeric level sla", "levels.billing_manager.sla", 2, "duration"),
    ("escalation to unknown role", "levels.controller.escalate_to", "cfo", "'cfo'"),
    ("escalation not a string", "levels.controller.escalate_to", 7, "not a role"),
    ("escalation to itself", "levels.controller.escalate_to", "controller", "itself"),
    # tiers
    ("tiers empty", "tiers", [], "empty"),
    ("tiers not a list", "tiers", {"min": "0"}, "list"),
    ("tier not a mapping", "tiers[1]", "5000", "mapping"),
    ("tier unknown key", "tiers[1].max", "9", "unknown key"),
    ("tier without min", "tiers[1].min", DROP, "missing"),
    ("tier without levels key", "tiers[1].levels", DROP, "missing"),
    ("negative min", "tiers[0].min", "-1", "negative"),
    ("malformed min", "tiers[1].min", "5,000", "not a decimal"),
    ("float min", "tiers[1].min", 5000.0, "quote it"),
    ("bool min", "tiers[1].min", True, "not an amount"),
    ("infinite min", "tiers[3].min", "Infinity", "finite"),
    ("list min", "tiers[1].min", [5000], "not an amount"),
    ("first tier above zero", "tiers[0].min", "100", "first tier"),
    ("equal mins", "tiers[2].min", "5000", "ascending"),
    ("descending mins", "tiers[2].min", "4000.00", "ascending"),
    ("unknown role in tier", "tiers[1].levels[2]", "cfo", "'cfo'"),
    ("non-string role in tier", "tiers[1].levels[2]", 3, "not a role"),
    ("role twice in a tier", "tiers[1].levels[2]", "billing_manager", "twice"),
    ("tier levels not a list", "tiers[0].levels", "billing_manager", "list"),
    ("tier without levels above the lowest", "tiers[1].levels", [], "tier without levels"),
    ("higher tier with fewer levels", "tiers[2].levels", ["controller"], "fewer"),
    # sla
    ("sla not a mapping", "sla", "P10D", "mapping"),
    ("sla unknown clock", "sla.approve", "P1D", "unknown"),
    ("bad acknowledge", "sla.acknowledge", "8h", "ISO 8601"),
    ("bad investigate", "sla.investigate", "P1Y", "ISO 8601"),
    ("bad resolve", "sla.resolve", 10, "duration"),
    ("remind_at zero", "sla.remind_at", "0", "between"),
    ("remind_at one", "sla.remind_at", 1, "between"),
    ("remind_at above one", "sla.remind_at", 1.5, "between"),
    ("remind_at negative", "sla.remind_at", "-0.1", "between"),
    ("remind_at text", "sla.remind_at", "half", "fraction"),
    ("remind_at bool", "sla.remind_at", True, "fraction"),
    # calendar
    ("calendar word", "calendar", "sometimes", "always"),
    ("calendar list", "calendar", ["mon"], "mapping"),
    ("calendar unknown key", "calendar.hours", "9-17", "unknown key"),
    ("unknown time zone", "calendar.timezone", "Mars/Olympus_Mons", "IANA"),
    ("empty time zone", "calendar.timezone", "", "time zone"),
    ("path-like time zone", "calendar.timezone", "../etc/passwd", "IANA"),
    ("numeric time zone", "calendar.timezone", -8, "time zone"),
    ("no workdays", "calendar.workdays", [], "at least one"),
    ("duplicate workday", "calendar.workdays", ["mon", "tue", "mon"], "more than once"),
    ("unknown workday", "calendar.workdays[5]", "monday", "not a weekday"),
    ("workdays not a list", "calendar.workdays", "mon-fri", "list"),
    ("holiday not ISO", "calendar.holidays[2]", "25/12/2026", "YYYY-MM-DD"),
    ("holiday not a real date", "calendar.holidays[2]", "2026-02-30", "real calendar date"),
    ("holiday as a number", "calendar.holidays[0]", 20261225, "YYYY-MM-DD"),
    ("holidays not a list", "calendar.holidays", "2026-12-25", "list"),
]


@pytest.mark.parametrize(
    ("field", "value", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_problem_names_its_field(field: str, value: object, fragment: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(edited(field, value))
    problems = caught.value.problems
    at_field = [p.message for p in problems if p.field == field]
    assert at_field, f"no problem at {field!r}; got {[str(p) for p in problems]}"
    assert any(fragment.lower() in message.lower() for message in at_field), at_field


def test_the_edit_helper_leaves_the_default_alone() -> None:
    before = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    assert edited("tiers[1].levels[2]", "x")["tiers"][1]["levels"][-1] == "x"
    assert edited("sla.remind_at", DROP)["sla"] == {
        "acknowledge": "PT8H",
        "investigate": "P5D",
        "resolve": "P10D",
    }
    assert before == DEFAULT_POLICY_DOCUMENT


@pytest.mark.parametrize("document", [None, "base_currency: USD", ["USD"], 42])
def test_a_document_that_is_not_a_mapping(document: object) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(document)  # type: ignore[arg-type]
    assert [p.field for p in caught.value.problems] == ["(document)"]


def test_policy_error_reads_as_a_list_and_is_a_value_error() -> None:
    document = edited("base_currency", "usd")
    document["aggregation_window_days"] = 400
    with pytest.raises(ValueError, match="2 problems") as caught:
        parse_policy(document)
    text = str(caught.value)
    assert "- base_currency: 'usd' is not a currency code" in text
    assert "- aggregation_window_days: 400 is out of range" in text
    assert str(PolicyError([PolicyProblem(field="a", message="b")])).startswith(
        "The approval policy has 1 problem:"
    )
    assert str(PolicyError([])) == "the policy is not valid"
