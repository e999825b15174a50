"""Template request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from api.schemas.common import ApiModel, PatchModel
from domain.definition import Channel
from services.templates import NewTemplate

if TYPE_CHECKING:
    from store.rows import TemplateRow

MAX_NAME_LENGTH = 200
MAX_SUBJECT_LENGTH = 998  # the RFC 5322 line limit
MAX_BODY_LENGTH = 64 * 1024  # characters; a template is rendered per send, keep it bounded
SOURCE_DESCRIPTION = (
    "Jinja2 (sandboxed, strict: an undefined variable fails the send), e.g. `Hi {{ traits.firstName }}`; "
    "variables: `traits`, `customer` (id and traits). Compiled when saved: a syntax error is a 422."
)


class TemplateCreate(ApiModel):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    channel: Channel
    subject: str | None = Field(
        default=None, max_length=MAX_SUBJECT_LENGTH, description="Required for EMAIL. " + SOURCE_DESCRIPTION
    )
    body: str = Field(min_length=1, max_length=MAX_BODY_LENGTH, description=SOURCE_DESCRIPTION)

    def to_new(self) -> NewTemplate:
        return NewTemplate(name=self.name, channel=self.channel, subject=self.subject, body=self.body)


class TemplatePatch(PatchModel):
    """Partial update: only the fields present change (a null subject removes it)."""

    NOT_NULL = frozenset({"name", "channel", "body"})

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    channel: Channel | None = None
    subject: str | None = Field(default=None, max_length=MAX_SUBJECT_LENGTH, description=SOURCE_DESCRIPTION)
    body: str | None = Field(
        default=None, min_length=1, max_length=MAX_BODY_LENGTH, description=SOURCE_DESCRIPTION
    )

    def changes(self) -> dict[str, Any]:
        return self.sent()


class TemplateOut(ApiModel):
    id: uuid.UUID
    name: str
    channel: str
    subject: str | None
    body: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, row: TemplateRow) -> TemplateOut:
        return cls(
            id=row.id,
            name=row.name,
            channel=row.channel,
            subject=row.subject,
            body=row.body,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
