"""Policy documents: every refusal names its field, and valid documents round-trip."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from approvals.policy import (
    DEFAULT_POLICY_DOCUMENT,
    CalendarSpec,
    LevelSpec,
    Policy,
    PolicyError,
    PolicyProblem,
    SlaSpec,
    Tier,
    parse_policy,
    policy_to_document,
)

# The example of API.md, section "Policy", verbatim.
API_MD_YAML = """
base_currency: USD
aggregation_window_days: 30       # credits to one account in this window add up for tier choice
levels:                           # role -> approval SLA and backup role for escalation
  billing_manager:        {sla: P2D, escalate_to: senior_billing_manager}
  senior_billing_manager: {sla: P2D, escalate_to: director_revops}
  director_revops:        {sla: P3D, escalate_to: controller}
  controller:             {sla: P3D}
tiers:                            # min is inclusive, in base currency; highest matching tier wins
  - {min: "0",      levels: [billing_manager]}
  - {min: "5000",   levels: [billing_manager, senior_billing_manager]}
  - {min: "25000",  levels: [billing_manager, senior_billing_manager, director_revops]}
  - {min: "100000", levels: [billing_manager, senior_billing_manager, director_revops, controller]}
prior_period_requires: controller # appended when the credit hits a closed period
sla: {acknowledge: PT8H, investigate: P5D, resolve: P10D, remind_at: 0.5}
calendar: {timezone: America/Los_Angeles, workdays: [mon, tue, wed, thu, fri],
           holidays: ["2026-11-26", "2026-12-25"]}   # or: calendar: always (24/7)
"""

Doc = dict[str, Any]


def default_doc() -> Doc:
    return copy.deepcopy(DEFAULT_POLICY_DOCUMENT)


def problems_of(document: object) -> list[PolicyProblem]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(document)  # type: ignore[arg-type]
    assert caught.value.problems, "a PolicyError must carry at least one problem"
    return caught.value.problems


def assert_problem(document: object, field: str, fragment: str) -> None:
    problems = problems_of(document)
    matching = [p for p in problems if p.field == field]
    assert matching, f"no problem at {field!r}; got {[str(p) for p in problems]}"
    assert any(fragment.lower() in p.message.lower() for p in matching), [str(p) for p in matching]


def edit(change: Callable[[Doc], None]) -> Doc:
    document = default_doc()
    change(document)
    return document


# --- valid documents ------------------------------------------------------------------------


def test_default_policy_parses_with_the_documented_values() -> None:
    policy = parse_policy(DEFAULT_POLICY_DOCUMENT)
    assert policy.base_currency == "USD"
    assert policy.aggregation_window_days == 30
    assert [t.min for t in policy.tiers] == [
        Decimal(0),
        Decimal(5000),
        Decimal(25000),
        Decimal(100000),
    ]
    assert [len(t.levels) for t in policy.tiers] == [1, 2, 3, 4]
    assert policy.prior_period_requires == "controller"
    assert policy.sla == SlaSpec(remind_at=Decimal("0.5"))
    assert isinstance(policy.calendar, CalendarSpec)
    assert policy.calendar.timezone == "America/Los_Angeles"
    assert policy.calendar.holidays == ["2026-11-26", "2026-12-25"]


def test_default_document_is_exactly_the_api_md_yaml() -> None:
    from_yaml = yaml.safe_load(API_MD_YAML)
    assert isinstance(from_yaml["sla"]["remind_at"], float)  # YAML hands us a float ratio
    assert parse_policy(from_yaml) == parse_policy(DEFAULT_POLICY_DOCUMENT)
    from_yaml["sla"]["remind_at"] = "0.5"
    assert from_yaml == DEFAULT_POLICY_DOCUMENT


def test_parsing_does_not_modify_the_default_document() -> None:
    before = copy.deepcopy(DEFAULT_POLICY_DOCUMENT)
    parse_policy(DEFAULT_POLICY_DOCUMENT)
    assert before == DEFAULT_POLICY_DOCUMENT


def test_round_trip_through_json() -> None:
    policy = parse_policy(DEFAULT_POLICY_DOCUMENT)
    document = policy_to_document(policy)
    assert json.loads(json.dumps(document)) == document
    assert document["tiers"][1]["min"] == "5000"
    assert document["sla"]["remind_at"] == "0.5"
    assert parse_policy(json.loads(json.dumps(document))) == policy


def test_round_trip_of_an_always_calendar_and_de_minimis_tier() -> None:
    document = {
        "base_currency": "EUR",
        "levels": {"approver": {"sla": "PT90S"}},
        "tiers": [{"min": 0, "levels": []}, {"min": Decimal("100.50"), "levels": ["approver"]}],
        "calendar": "always",
    }
    policy = parse_policy(document)
    assert policy.calendar == "always"
    assert policy.tiers[0].levels == []
    assert policy.tiers[1].min == Decimal("100.50")
    assert policy.sla == SlaSpec()
    assert policy.aggregation_window_days == 30
    again = policy_to_document(policy)
    assert again["calendar"] == "always"
    assert again["tiers"][1]["min"] == "100.50"
    assert parse_policy(again) == policy


def test_amounts_accept_strings_ints_and_decimals() -> None:
    document = edit(lambda d: d["tiers"][1].update(min=5000))
    document["tiers"][2]["min"] = Decimal("25000.00")
    document["tiers"][3]["min"] = " 100000 "
    policy = parse_policy(document)
    assert [t.min for t in policy.tiers][1:] == [Decimal(5000), Decimal(25000), Decimal(100000)]


def test_yaml_dates_are_accepted_as_holidays() -> None:
    document = edit(lambda d: d["calendar"].update(holidays=[date(2026, 12, 25)]))
    policy = parse_policy(document)
    assert isinstance(policy.calendar, CalendarSpec)
    assert policy.calendar.holidays == ["2026-12-25"]


@pytest.mark.parametrize("days", [0, 366])
def test_aggregation_window_bounds_are_inclusive(days: int) -> None:
    assert parse_policy(edit(lambda d: d.update(aggregation_window_days=days)))


def test_calendar_section_defaults() -> None:
    policy = parse_policy(edit(lambda d: d.update(calendar={})))
    assert policy.calendar == CalendarSpec(timezone="UTC")
    assert isinstance(policy.calendar, CalendarSpec)
    assert policy.calendar.workdays == ["mon", "tue", "wed", "thu", "fri"]


def test_weekend_workdays_are_allowed() -> None:
    policy = parse_policy(edit(lambda d: d["calendar"].update(workdays=["sun", "sat"])))
    assert isinstance(policy.calendar, CalendarSpec)
    assert policy.calendar.workdays == ["sun", "sat"]


def test_level_sla_and_direct_escalation_role() -> None:
    policy = parse_policy(DEFAULT_POLICY_DOCUMENT)
    assert policy.level_sla("director_revops") == "P3D"
    assert policy.escalation_roles("billing_manager") == ["senior_billing_manager"]
    assert policy.escalation_roles("director_revops") == ["controller"]
    assert policy.escalation_roles("controller") == []
    with pytest.raises(KeyError, match="nobody"):
        policy.level_sla("nobody")
    with pytest.raises(KeyError):
        policy.escalation_roles("nobody")


def test_models_are_frozen() -> None:
    policy = parse_policy(DEFAULT_POLICY_DOCUMENT)
    with pytest.raises(ValidationError):
        policy.base_currency = "EUR"  # type: ignore[misc]


def test_models_built_in_code_obey_the_same_rules() -> None:
    with pytest.raises(ValidationError):
        LevelSpec(sla="two days")
    with pytest.raises(ValidationError, match="quote"):
        Tier(min=5.0, levels=[])  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        SlaSpec(remind_at=Decimal(1))
    with pytest.raises(ValidationError):
        CalendarSpec(timezone="Nowhere/Land")
    with pytest.raises(ValidationError):
        CalendarSpec(workdays=["mon", "mon"])
    with pytest.raises(ValidationError, match="tiers"):
        Policy(
            base_currency="USD",
            levels={"a": LevelSpec(sla="P1D")},
            tiers=[Tier(min=Decimal(0), levels=["ghost"])],
            calendar="always",
        )
    ok = Policy(
        base_currency="USD",
        levels={"a": LevelSpec(sla="P1D")},
        tiers=[Tier(min=Decimal(0), levels=["a"])],
        calendar="always",
    )
    assert parse_policy(policy_to_document(ok)) == ok


# --- refusals that need more than one edit (single-field ones: test_approvals_policy_problems)


def test_every_problem_is_reported_at_once() -> None:
    document = default_doc()
    document["base_currency"] = "usd"
    document["levels"]["controller"]["escalate_to"] = "controller"
    document["levels"]["billing_manager"]["sla"] = "soon"
    document["tiers"][1]["min"] = 5000.0
    document["tiers"][2]["levels"].append("cfo")
    document["sla"]["remind_at"] = "2"
    document["calendar"]["timezone"] = "Atlantis"
    document["extra"] = True
    fields = {p.field for p in problems_of(document)}
    assert fields == {
        "base_currency",
        "levels.controller.escalate_to",
        "levels.billing_manager.sla",
        "tiers[1].min",
        "tiers[2].levels[3]",
        "sla.remind_at",
        "calendar.timezone",
        "extra",
    }


def test_a_missing_levels_section_does_not_flood_tier_roles() -> None:
    document = default_doc()
    del document["levels"]
    del document["prior_period_requires"]
    assert [p.field for p in problems_of(document)] == ["levels"]


def test_a_two_role_escalation_loop_is_reported_once_where_it_closes() -> None:
    document = default_doc()
    document["levels"]["director_revops"]["escalate_to"] = "senior_billing_manager"
    loops = [p for p in problems_of(document) if "loops" in p.message]
    assert len(loops) == 1  # entered from billing_manager, but reported once, on the loop
    assert loops[0].field == "levels.senior_billing_manager.escalate_to"
    assert "senior_billing_manager -> director_revops -> senior_billing_manager" in (
        loops[0].message
    )


def test_an_escalation_loop_through_the_whole_chain() -> None:
    document = edit(lambda d: d["levels"]["controller"].update(escalate_to="billing_manager"))
    assert_problem(
        document,
        "levels.billing_manager.escalate_to",
        "billing_manager -> senior_billing_manager -> director_revops -> controller "
        "-> billing_manager",
    )


def test_a_role_name_with_a_dot_is_refused() -> None:
    document = edit(lambda d: d["levels"].update({"vp.finance": {"sla": "P1D"}}))
    assert_problem(document, "levels.vp.finance", "role name")


def test_a_de_minimis_lowest_tier_is_allowed() -> None:
    document = default_doc()
    document["tiers"].insert(0, {"min": "0", "levels": []})
    document["tiers"][1]["min"] = "100"
    assert parse_policy(document).tiers[0].levels == []


def test_a_de_minimis_tier_must_still_start_at_zero() -> None:
    document = default_doc()
    document["tiers"][0] = {"min": "50", "levels": []}
    assert_problem(document, "tiers[0].min", "first tier")
