"""Letters' API shapes (``/api/v1/letters``, ``/api/v1/disputes/{id}/letters``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from domain.letters import MAX_TEMPLATE


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEMPLATE)]


class TemplateOut(BaseModel):
    kind: Literal["acknowledgement", "resolution", "denial"]
    subject: str
    body: str
    fields: list[str]
    customized: bool
    updated_by: str | None
    updated_at: datetime | None


class TemplateList(BaseModel):
    items: list[TemplateOut]


class LetterOut(BaseModel):
    id: int
    kind: str
    status: Literal["pending", "sent", "failed", "unaddressed"]
    recipient: str | None
    subject: str
    body: str
    credit_memo: str | None
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    message_id: str


class LetterList(BaseModel):
    items: list[LetterOut]
