"""What is wrong with a policy document, said once per field.

An admin applying a policy (``PUT /api/v1/policy`` or ``disputeflow policy apply``) must see
*every* mistake in one go, each pinned to the field that holds it, instead of fixing them one
refusal at a time. So validation collects :class:`PolicyProblem` records and raises a single
:class:`PolicyError` carrying all of them; the API turns that into a 422 ``validation_error``
whose ``details`` are the problems.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict


class PolicyProblem(BaseModel):
    """One mistake: ``field`` is a dotted path such as ``tiers[2].min``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class PolicyError(ValueError):
    """The policy document was refused; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems: list[PolicyProblem] = list(problems)
        super().__init__(self._describe())

    def _describe(self) -> str:
        if not self.problems:
            return "the policy is not valid"
        count = len(self.problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        lines = "\n".join(f"- {problem}" for problem in self.problems)
        return f"The approval policy has {head}:\n{lines}"

    def __str__(self) -> str:
        return self._describe()
