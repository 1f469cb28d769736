"""Who may decide a pending approval level: role, delegation and segregation of duties.

Runs inside the Temporal update validator of a decision, so it is pure and deterministic: the
decision time ``at`` comes from the caller (the workflow clock), never from the system clock.

The rules (DESIGN.md, Approval): the actor must hold the level's role, or a role the level
escalated to, either directly or through a delegation active at ``at``. Whoever prepared the
credit memo, opened the dispute, or approved an earlier level of the same memo may neither
approve nor reject — and may not lend their authority by delegation either, or a delegation
would be a way around the control. Lacking the role is ``forbidden``; holding it but failing
segregation of duties is ``sod_violation``. Every check is returned, passed or not, because
auditors export exactly which controls were applied to each decision.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

__all__ = ["DecisionContext", "DecisionVerdict", "Delegation", "SodCheck", "check_decision"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Delegation(BaseModel):
    """Authority lent to the actor by ``principal_id`` for ``[starts_at, ends_at)``."""

    model_config = _FROZEN

    principal_id: str = Field(min_length=1)
    principal_roles: list[str]
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Delegation:
        if self.ends_at <= self.starts_at:
            raise ValueError("a delegation must end after it starts")
        return self

    def active_at(self, at: AwareDatetime) -> bool:
        """Start inclusive, end exclusive: at ``ends_at`` exactly the authority is gone."""
        return self.starts_at <= at < self.ends_at


class DecisionContext(BaseModel):
    """Everything the validator knows about one attempted decision."""

    model_config = _FROZEN

    actor_id: str = Field(min_length=1)
    actor_roles: list[str]
    delegations: list[Delegation] = Field(default_factory=list)
    at: AwareDatetime
    level_role: str = Field(min_length=1)
    escalation_roles: list[str] = Field(default_factory=list)
    preparer_id: str = Field(min_length=1)
    opener_id: str = Field(min_length=1)
    prior_approver_ids: list[str] = Field(default_factory=list)  # in level order
    decision: Literal["approve", "reject"]

    @classmethod
    def for_level(
        cls, *, actor_id: str, actor_roles: list[str], delegations: list[Delegation],
        at: AwareDatetime, level_role: str, level_status: str, escalate_to: str | None,
        preparer_id: str, opener_id: str, prior_approver_ids: list[str],
        decision: Literal["approve", "reject"],
    ) -> DecisionContext:
        """The context of a decision on one level as a chain stores it: its backup role
        counts only once the level has escalated. The validator and the pages that warn
        ahead of a refusal build it here, so they apply one rule."""
        return cls(actor_id=actor_id, actor_roles=actor_roles, delegations=delegations, at=at,
                   level_role=level_role,
                   escalation_roles=[escalate_to] if level_status == "escalated"
                   and escalate_to else [],
                   preparer_id=preparer_id, opener_id=opener_id,
                   prior_approver_ids=prior_approver_ids, decision=decision)


class SodCheck(BaseModel):
    """One control applied to the decision, as the audit export records it."""

    model_config = _FROZEN

    name: str
    passed: bool
    detail: str


class DecisionVerdict(BaseModel):
    """Allowed or not, why in a person's words, and under which authority they act."""

    model_config = _FROZEN

    allowed: bool
    code: Literal["forbidden", "sod_violation"] | None
    message: str | None
    acting_role: str | None
    delegate_of: str | None
    checks: list[SodCheck]


class _Authority(BaseModel):
    """A way the actor could act: directly (principal None) or through one delegation."""

    model_config = _FROZEN

    role: str
    principal: str | None = None


def check_decision(ctx: DecisionContext) -> DecisionVerdict:
    """Decide whether ``ctx.actor_id`` may record ``ctx.decision`` on the pending level."""
    allowed_roles = list(dict.fromkeys([ctx.level_role, *ctx.escalation_roles]))
    authorities = _authorities(ctx, allowed_roles)
    # Prefer acting directly, then the first delegation whose principal is itself clean.
    chosen = next((a for a in authorities if not _failures(ctx, a)), None)
    authority = chosen or (authorities[0] if authorities else None)
    checks = _checks(ctx, authority, allowed_roles)
    if authority is None:
        return DecisionVerdict(
            allowed=False,
            code="forbidden",
            message=_role_message(ctx, allowed_roles),
            acting_role=None,
            delegate_of=None,
            checks=checks,
        )
    failures = _failures(ctx, authority)
    return DecisionVerdict(
        allowed=not failures,
        code="sod_violation" if failures else None,
        message=failures[0] if failures else None,
        acting_role=authority.role,
        delegate_of=authority.principal,
        checks=checks,
    )


def _authorities(ctx: DecisionContext, allowed_roles: list[str]) -> list[_Authority]:
    found: list[_Authority] = []
    direct = next((role for role in allowed_roles if role in ctx.actor_roles), None)
    if direct is not None:
        found.append(_Authority(role=direct))
    for delegation in ctx.delegations:
        role = next((r for r in allowed_roles if r in delegation.principal_roles), None)
        if role is not None and delegation.active_at(ctx.at):
            found.append(_Authority(role=role, principal=delegation.principal_id))
    return found


def _failures(ctx: DecisionContext, authority: _Authority) -> list[str]:
    """Segregation-of-duties refusals, as messages, for the actor and any principal."""
    verb = "approve" if ctx.decision == "approve" else "decide on"
    role = authority.role
    level = len(ctx.prior_approver_ids) + 1
    out: list[str] = []
    people: list[tuple[str, str | None]] = [(ctx.actor_id, None)]
    if authority.principal is not None:
        people.append((authority.principal, authority.principal))
    for person, principal in people:
        if principal is None:
            who, lend = "You", ""
        else:
            who = f"You act for {principal} by delegation, and {principal}"
            lend = f", so {principal} cannot lend authority for it"
        if person == ctx.preparer_id:
            out.append(f"{who} prepared this credit memo{lend}; another {role} must {verb} it.")
        if person == ctx.opener_id:
            out.append(f"{who} opened this dispute{lend}; another {role} must {verb} it.")
        if person in ctx.prior_approver_ids:
            done = ctx.prior_approver_ids.index(person) + 1
            out.append(
                f"{who} approved level {done} of this credit memo{lend}; a different person "
                f"must {verb} level {level}."
            )
    return out


def _checks(
    ctx: DecisionContext, authority: _Authority | None, allowed_roles: list[str]
) -> list[SodCheck]:
    principal = authority.principal if authority else None
    people = [ctx.actor_id] + ([principal] if principal else [])

    def clean(name: str, others: list[str], did: str, did_not: str) -> SodCheck:
        hits = [p for p in people if p in others]
        subject = " and ".join(hits or people)
        return SodCheck(name=name, passed=not hits, detail=f"{subject} {did if hits else did_not}")

    if authority is None:
        role_detail = (
            f"needs {' or '.join(allowed_roles)}; actor holds "
            + (", ".join(ctx.actor_roles) or "no roles")
            + " and no active delegation of it"
        )
    elif principal is None:
        role_detail = f"holds {authority.role} directly"
    else:
        role_detail = f"holds {authority.role} through the delegation of {principal}"
    return [
        SodCheck(name="holds_role_or_delegation", passed=authority is not None, detail=role_detail),
        clean(
            "not_preparer",
            [ctx.preparer_id],
            "prepared the credit memo",
            f"did not prepare the credit memo (prepared by {ctx.preparer_id})",
        ),
        clean(
            "not_opener",
            [ctx.opener_id],
            "opened the dispute",
            f"did not open the dispute (opened by {ctx.opener_id})",
        ),
        clean(
            "not_prior_approver",
            ctx.prior_approver_ids,
            "approved an earlier level",
            "approved no earlier level",
        ),
        _window_check(ctx, authority, allowed_roles),
    ]


def _window_check(
    ctx: DecisionContext, authority: _Authority | None, allowed_roles: list[str]
) -> SodCheck:
    at = ctx.at.isoformat()
    if authority is not None and authority.principal is None:
        return SodCheck(name="delegation_window", passed=True, detail="not acting by delegation")
    relevant = [d for d in ctx.delegations if set(d.principal_roles) & set(allowed_roles)]
    if authority is not None:
        used = next(
            d for d in relevant if d.principal_id == authority.principal and d.active_at(ctx.at)
        )
        return SodCheck(name="delegation_window", passed=True, detail=_window(used, at, "inside"))
    if not relevant:
        return SodCheck(
            name="delegation_window",
            passed=False,
            detail="no delegation of a role this level needs",
        )
    return SodCheck(
        name="delegation_window",
        passed=False,
        detail="; ".join(_window(d, at, "outside") for d in relevant),
    )


def _window(delegation: Delegation, at: str, where: str) -> str:
    return (
        f"{at} is {where} the delegation of {delegation.principal_id} "
        f"[{delegation.starts_at.isoformat()}, {delegation.ends_at.isoformat()})"
    )


def _role_message(ctx: DecisionContext, allowed_roles: list[str]) -> str:
    needed = f"the role {ctx.level_role}"
    extra = [role for role in allowed_roles if role != ctx.level_role]
    if extra:
        needed += f" (or {' or '.join(extra)} after escalation)"
    held = ", ".join(ctx.actor_roles) or "no roles"
    message = f"This level needs {needed}; you hold {held}."
    lapsed = [
        d
        for d in ctx.delegations
        if set(d.principal_roles) & set(allowed_roles) and not d.active_at(ctx.at)
    ]
    if lapsed:
        spans = "; ".join(
            f"from {d.principal_id}, {d.starts_at.isoformat()} to {d.ends_at.isoformat()}"
            for d in lapsed
        )
        message += f" Your delegation is not active at this time ({spans})."
    return message
