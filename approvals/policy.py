"""The approval policy: a versioned delegation-of-authority matrix, as typed values.

A policy says which roles must approve a credit memo (tiers by amount in the base currency),
how long each role has before the level escalates to a backup role, the SLA clocks, and the
business calendar they run on. Policies are applied by admins as YAML or JSON and are then
carried, frozen, inside each dispute workflow, so this module is pure: no clock, no I/O, no
randomness, and money is only ever :class:`~decimal.Decimal`.

:func:`parse_policy` is the door for documents: it reports every problem at once (see
:mod:`approvals.policy_checks`). The models also validate themselves, with the same rules, so
a ``Policy`` built in code or deserialised by Temporal can never be one the door would refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from approvals import policy_rules as rules
from approvals.default_policy import DEFAULT_POLICY_DOCUMENT
from approvals.policy_checks import collect_problems
from approvals.policy_problems import PolicyError, PolicyProblem

__all__ = [
    "DEFAULT_POLICY_DOCUMENT",
    "CalendarSpec",
    "LevelSpec",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "SlaSpec",
    "Tier",
    "parse_policy",
    "policy_to_document",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class LevelSpec(BaseModel):
    """One approval role: how long it has to decide, and who takes over when it does not."""

    model_config = _FROZEN

    sla: str
    escalate_to: str | None = None

    @field_validator("sla", mode="before")
    @classmethod
    def _sla(cls, value: object) -> str:
        return rules.check_duration(value)


class Tier(BaseModel):
    """From ``min`` (inclusive, base currency) upwards, these roles approve, in this order.

    An empty ``levels`` is a de-minimis tier: credits below the next threshold are
    auto-approved. Only the lowest tier may be one.
    """

    model_config = _FROZEN

    min: Decimal
    levels: list[str]

    @field_validator("min", mode="before")
    @classmethod
    def _min(cls, value: object) -> Decimal:
        return rules.coerce_amount(value)


class SlaSpec(BaseModel):
    """The dispute-wide SLA clocks and when, as a share of each SLA, to remind the assignee."""

    model_config = _FROZEN

    acknowledge: str = "PT8H"
    investigate: str = "P5D"
    resolve: str = "P10D"
    remind_at: Decimal = Decimal("0.5")

    @field_validator("acknowledge", "investigate", "resolve", mode="before")
    @classmethod
    def _duration(cls, value: object) -> str:
        return rules.check_duration(value)

    @field_validator("remind_at", mode="before")
    @classmethod
    def _remind_at(cls, value: object) -> Decimal:
        return rules.coerce_remind_at(value)


class CalendarSpec(BaseModel):
    """Business hours' frame: SLA durations count only working days in this time zone."""

    model_config = _FROZEN

    timezone: str = "UTC"
    workdays: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    holidays: list[str] = Field(default_factory=list)

    @field_validator("timezone", mode="before")
    @classmethod
    def _timezone(cls, value: object) -> str:
        return rules.check_timezone(value)

    @field_validator("workdays", mode="before")
    @classmethod
    def _workdays(cls, value: object) -> object:
        if isinstance(value, list):
            return rules.check_workday_set([rules.check_weekday(day) for day in value])
        return value

    @field_validator("holidays", mode="before")
    @classmethod
    def _holidays(cls, value: object) -> object:
        if isinstance(value, list):
            return [rules.check_holiday(day) for day in value]
        return value


class Policy(BaseModel):
    """A complete, valid approval policy (one version of it)."""

    model_config = _FROZEN

    base_currency: str
    aggregation_window_days: int = 30
    levels: dict[str, LevelSpec]
    tiers: list[Tier]
    prior_period_requires: str | None = None
    sla: SlaSpec = Field(default_factory=SlaSpec)
    calendar: CalendarSpec | Literal["always"]

    @model_validator(mode="after")
    def _whole_policy(self) -> Policy:
        # One source of truth for the cross-field rules: re-check our own document form.
        problems = collect_problems(policy_to_document(self))
        if problems:
            raise PolicyError(problems)
        return self

    def level_sla(self, role: str) -> str:
        """The ISO 8601 SLA of the level ``role`` (raises ``KeyError`` for an unknown role)."""
        return self._level(role).sla

    def escalation_roles(self, role: str) -> list[str]:
        """Roles that may also decide once ``role``'s level escalated: its direct backup, if any.

        Deliberately not transitive: a level escalates one step at a time, each step with
        its own SLA, so only the next role up is added.
        """
        target = self._level(role).escalate_to
        return [target] if target is not None else []

    def _level(self, role: str) -> LevelSpec:
        try:
            return self.levels[role]
        except KeyError:
            raise KeyError(f"the policy defines no approval level for the role {role!r}") from None


def parse_policy(document: Mapping[str, Any]) -> Policy:
    """Validate a whole policy document; raise :class:`PolicyError` listing every problem."""
    problems = collect_problems(document)
    if problems:
        raise PolicyError(problems)
    return Policy.model_validate(dict(document))


def policy_to_document(policy: Policy) -> dict[str, Any]:
    """The policy as a JSON-safe document (Decimals as strings) that ``parse_policy`` accepts."""
    document: dict[str, Any] = policy.model_dump(mode="json")
    return document
