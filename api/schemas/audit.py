"""Audit log entries."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from api.schemas.common import ApiModel

if TYPE_CHECKING:
    from store.rows import AuditRow


class AuditEntryOut(ApiModel):
    id: int
    subject: str
    method: str
    path: str
    status_code: int
    request_id: str
    at: datetime
    detail: dict[str, Any] | None = Field(
        default=None,
        description="What the request asked for where its path does not say it (an enrollment action: "
        "`action`, `reason`, `until`, `nodeId`); null otherwise",
    )

    @classmethod
    def build(cls, row: AuditRow) -> AuditEntryOut:
        return cls(
            id=row.id,
            subject=row.subject,
            method=row.method,
            path=row.path,
            status_code=row.status_code,
            request_id=row.request_id,
            at=row.at,
            detail=row.detail,
        )
