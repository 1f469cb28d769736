"""Whole-document validation of an approval policy, collecting every problem.

Pydantic stops checking cross-field rules as soon as one field fails, and its error paths
are not what an admin reads in a YAML file. This walker goes through the raw document once,
keeps going after a mistake, and reports each one at a dotted path such as
``levels.controller.escalate_to`` or ``tiers[2].min``. The single-value rules live in
:mod:`approvals.policy_rules`; this module adds structure (keys, types) and the rules that
relate fields to each other (tier order, role references, escalation loops).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from approvals import policy_rules as rules
from approvals.policy_problems import PolicyProblem

TOP_KEYS: dict[str, bool] = {  # key -> required
    "base_currency": True,
    "aggregation_window_days": False,
    "levels": True,
    "tiers": True,
    "prior_period_requires": False,
    "sla": False,
    "calendar": True,
}
LEVEL_KEYS: dict[str, bool] = {"sla": True, "escalate_to": False}
TIER_KEYS: dict[str, bool] = {"min": True, "levels": True}
SLA_KEYS: dict[str, bool] = {
    "acknowledge": False,
    "investigate": False,
    "resolve": False,
    "remind_at": False,
}
CALENDAR_KEYS: dict[str, bool] = {"timezone": False, "workdays": False, "holidays": False}


class _Checker:
    """Accumulates problems while walking one document."""

    def __init__(self) -> None:
        self.problems: list[PolicyProblem] = []

    def add(self, field: str, message: str) -> None:
        self.problems.append(PolicyProblem(field=field, message=message))

    def value(self, field: str, raw: object, rule: Callable[[Any], Any]) -> Any:
        """Apply one rule; on failure record it and return None."""
        try:
            return rule(raw)
        except ValueError as exc:
            self.add(field, str(exc))
            return None

    def mapping(
        self, field: str, raw: object, keys: dict[str, bool], what: str
    ) -> Mapping[str, Any] | None:
        """Check that ``raw`` is a mapping holding only known keys and all required ones."""
        if not isinstance(raw, Mapping):
            self.add(field or "(document)", f"{what} must be a mapping of keys to values")
            return None
        prefix = f"{field}." if field else ""
        allowed = ", ".join(keys)
        for key in raw:
            if key not in keys:
                self.add(f"{prefix}{key}", f"unknown key in {what}; allowed keys: {allowed}")
        for key, required in keys.items():
            if required and key not in raw:
                self.add(f"{prefix}{key}", f"missing required key in {what}")
        return raw


def collect_problems(document: object) -> list[PolicyProblem]:
    """Every problem in ``document``, in document order; an empty list means it is valid."""
    check = _Checker()
    doc = check.mapping("", document, TOP_KEYS, "the policy")
    if doc is None:
        return check.problems
    if "base_currency" in doc:
        check.value("base_currency", doc["base_currency"], rules.check_currency)
    if "aggregation_window_days" in doc:
        check.value(
            "aggregation_window_days", doc["aggregation_window_days"], rules.check_window_days
        )
    roles = _check_levels(check, doc["levels"]) if "levels" in doc else None
    if "tiers" in doc:
        _check_tiers(check, doc["tiers"], roles)
    prior = doc.get("prior_period_requires")
    if prior is not None:
        named = check.value("prior_period_requires", prior, rules.check_role_name)
        if named is not None and roles is not None and named not in roles:
            check.add("prior_period_requires", _unknown_role(named))
    if "sla" in doc:
        _check_sla(check, doc["sla"])
    if "calendar" in doc:
        _check_calendar(check, doc["calendar"])
    return check.problems


def _unknown_role(role: str) -> str:
    return (
        f"names the role {role!r}, which is not defined under levels; add it there or fix the name"
    )


def _check_levels(check: _Checker, raw: object) -> set[str] | None:
    """Validate ``levels``; return the defined role names (None if the section is unusable)."""
    if not isinstance(raw, Mapping):
        check.add("levels", "levels must map each approval role to {sla, escalate_to}")
        return None
    if not raw:
        check.add("levels", "levels is empty; define at least one approval role")
    roles = {key for key in raw if isinstance(key, str)}
    edges: dict[str, str] = {}
    for role, spec in raw.items():
        field = f"levels.{role}"
        check.value(field, role, rules.check_role_name)
        spec = check.mapping(field, spec, LEVEL_KEYS, f"level {role}")
        if spec is None:
            continue
        if "sla" in spec:
            check.value(f"{field}.sla", spec["sla"], rules.check_duration)
        target = spec.get("escalate_to")
        if target is None:
            continue
        if not isinstance(target, str):
            check.add(f"{field}.escalate_to", f"{target!r} is not a role name")
        elif target not in roles:
            check.add(f"{field}.escalate_to", _unknown_role(target))
        else:
            edges[role] = target
    for loop in escalation_loops(edges):
        field = f"levels.{loop[0]}.escalate_to"
        if len(loop) == 1:
            check.add(field, f"{loop[0]} escalates to itself; name another role or remove it")
        else:
            path = " -> ".join([*loop, loop[0]])
            check.add(
                field,
                f"escalation loops back: {path}; an escalation chain must end at a role "
                "without escalate_to",
            )
    return roles


def escalation_loops(edges: Mapping[str, str]) -> list[list[str]]:
    """Each cycle in the role -> escalate_to graph once, starting where the walk re-enters it."""
    done: set[str] = set()
    loops: list[list[str]] = []
    for start in edges:
        path: list[str] = []
        position: dict[str, int] = {}
        node = start
        while node in edges and node not in done and node not in position:
            position[node] = len(path)
            path.append(node)
            node = edges[node]
        if node in position:
            loops.append(path[position[node] :])
        done.update(path)
    return loops


def _check_tiers(check: _Checker, raw: object, roles: set[str] | None) -> None:
    """Tiers: ascending mins from 0, known roles, and never fewer levels for a larger credit."""
    if not isinstance(raw, list):
        check.add("tiers", "tiers must be a list of {min, levels}, lowest first")
        return
    if not raw:
        check.add("tiers", 'tiers is empty; at least one tier with min "0" is needed')
        return
    previous_min: Decimal | None = None
    previous_count: int | None = None
    for index, tier_raw in enumerate(raw):
        field = f"tiers[{index}]"
        tier = check.mapping(field, tier_raw, TIER_KEYS, "a tier")
        if tier is None:
            continue
        minimum = (
            check.value(f"{field}.min", tier["min"], rules.coerce_amount)
            if ("min" in tier)
            else None
        )
        if minimum is not None:
            if index == 0 and minimum != 0:
                check.add(
                    f"{field}.min",
                    f'the first tier must start at "0", not {minimum}, '
                    "so that every credit falls in a tier",
                )
            if previous_min is not None and minimum <= previous_min:
                check.add(
                    f"{field}.min",
                    f"{minimum} is not above the previous tier's "
                    f"{previous_min}; list tiers in strictly ascending order of min",
                )
            previous_min = minimum
        count = (
            _check_tier_levels(check, field, tier.get("levels"), roles, index)
            if ("levels" in tier)
            else None
        )
        if (
            count is not None
            and count > 0
            and previous_count is not None
            and (count < previous_count)
        ):
            check.add(
                f"{field}.levels",
                f"requires {count} approval level(s), fewer than the "
                f"{previous_count} of the tier below; a larger credit must not need fewer",
            )
        if count is not None:
            previous_count = count


def _check_tier_levels(
    check: _Checker, field: str, raw: object, roles: set[str] | None, index: int
) -> int | None:
    """Validate one tier's role list; return its length when it is a list."""
    field = f"{field}.levels"
    if not isinstance(raw, list):
        check.add(field, "levels must be a list of roles in approval order, e.g. [billing_manager]")
        return None
    if not raw and index > 0:
        check.add(
            field,
            'tier without levels: only the lowest tier (min "0") may have no '
            "approval levels, as a de-minimis tier that is auto-approved",
        )
    seen: set[str] = set()
    for position, role in enumerate(raw):
        if not isinstance(role, str):
            check.add(f"{field}[{position}]", f"{role!r} is not a role name")
        elif roles is not None and role not in roles:
            check.add(f"{field}[{position}]", _unknown_role(role))
        elif role in seen:
            check.add(f"{field}[{position}]", f"{role} is listed twice in this tier")
        if isinstance(role, str):
            seen.add(role)
    return len(raw)


def _check_sla(check: _Checker, raw: object) -> None:
    sla = check.mapping("sla", raw, SLA_KEYS, "sla")
    if sla is None:
        return
    for clock in ("acknowledge", "investigate", "resolve"):
        if clock in sla:
            check.value(f"sla.{clock}", sla[clock], rules.check_duration)
    if "remind_at" in sla:
        check.value("sla.remind_at", sla["remind_at"], rules.coerce_remind_at)


def _check_calendar(check: _Checker, raw: object) -> None:
    if isinstance(raw, str):
        if raw != rules.ALWAYS:
            check.add(
                "calendar",
                f'{raw!r} is not a calendar; write "always" (24/7) or a '
                "mapping with timezone, workdays and holidays",
            )
        return
    calendar = check.mapping("calendar", raw, CALENDAR_KEYS, "calendar")
    if calendar is None:
        return
    if "timezone" in calendar:
        check.value("calendar.timezone", calendar["timezone"], rules.check_timezone)
    if "workdays" in calendar:
        days = calendar["workdays"]
        if not isinstance(days, list):
            check.add("calendar.workdays", "workdays must be a list such as [mon, tue, wed]")
        else:
            valid = [
                check.value(f"calendar.workdays[{i}]", day, rules.check_weekday)
                for i, day in enumerate(days)
            ]
            known = [day for day in valid if day is not None]
            if known or not days:  # duplicates among valid days; emptiness of the whole list
                check.value("calendar.workdays", known, rules.check_workday_set)
    if "holidays" in calendar:
        holidays = calendar["holidays"]
        if not isinstance(holidays, list):
            check.add("calendar.holidays", 'holidays must be a list of "YYYY-MM-DD" dates')
        else:
            for i, day in enumerate(holidays):
                check.value(f"calendar.holidays[{i}]", day, rules.check_holiday)
