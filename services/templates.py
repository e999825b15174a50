"""Message templates (SPEC §4 templates, §9): subject and body in the sandboxed Jinja2 dialect.

Both are compiled when saved, so a syntax error is a 422 at the API rather than a failed send later.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from delivery.rendering import Renderer, TemplateRenderError
from domain.errors import ConflictError, FieldIssue, InvalidInputError, NotFoundError
from domain.nodes.send import unknown_root
from services.uow import UnitOfWork
from store.repositories.pagination import Page, PageRequest
from store.repositories.templates import TemplateRepository
from store.rows import TemplateRow

_RENDERER = Renderer()


@dataclass(frozen=True)
class NewTemplate:
    name: str
    channel: str
    subject: str | None
    body: str


def _check(channel: str, subject: str | None, body: str) -> None:
    issues: list[FieldIssue] = []
    if channel == "EMAIL" and not subject:
        issues.append(FieldIssue(("body", "subject"), "an EMAIL template needs a subject"))
    for field, source in (("subject", subject), ("body", body)):
        if source is None:
            continue
        try:
            _RENDERER.check(source, what=field)
        except TemplateRenderError as exc:
            issues.append(FieldIssue(("body", field), str(exc)))
            continue
        unknown = unknown_root(source)
        if unknown is not None:
            issues.append(FieldIssue(("body", field), unknown))
    if issues:
        raise InvalidInputError(issues)


class TemplateService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._templates = TemplateRepository(uow.session)

    async def get(self, tenant_id: str, template_id: uuid.UUID, *, for_update: bool = False) -> TemplateRow:
        row = await self._templates.get(tenant_id, template_id, for_update=for_update)
        if row is None:
            raise NotFoundError("template", str(template_id))
        return row

    async def search(
        self, tenant_id: str, page: PageRequest, *, channel: str | None = None
    ) -> Page[TemplateRow]:
        return await self._templates.list(tenant_id, page, channel=channel)

    async def create(self, tenant_id: str, new: NewTemplate) -> TemplateRow:
        _check(new.channel, new.subject, new.body)
        now = datetime.now(UTC)
        row = TemplateRow(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            name=new.name,
            channel=new.channel,
            subject=new.subject,
            body=new.body,
            created_at=now,
            updated_at=now,
        )
        await self._templates.add(row)
        return row

    async def update(self, tenant_id: str, template_id: uuid.UUID, changes: dict[str, Any]) -> TemplateRow:
        """Partial update; the resulting subject and body are compiled before anything is stored."""
        row = await self.get(tenant_id, template_id, for_update=True)
        merged = {
            name: changes.get(name, getattr(row, name)) for name in ("name", "channel", "subject", "body")
        }
        _check(merged["channel"], merged["subject"], merged["body"])
        for name, value in merged.items():
            setattr(row, name, value)
        row.updated_at = datetime.now(UTC)
        await self._uow.session.flush()
        return row

    async def delete(self, tenant_id: str, template_id: uuid.UUID) -> None:
        """Refused (409) while a journey that is not archived names the template: its sends would fail."""
        row = await self.get(tenant_id, template_id, for_update=True)
        user = await self._templates.journey_using(tenant_id, template_id)
        if user is not None:
            raise ConflictError(
                f"template {template_id} is used by journey {user.name!r} ({user.id}); "
                "point its SEND nodes elsewhere or archive it first"
            )
        await self._templates.delete(row)
