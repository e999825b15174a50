"""Customer profile bodies."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from api.schemas.common import ApiModel

if TYPE_CHECKING:
    from store.rows import CustomerRow


class CustomerTraitsIn(ApiModel):
    traits: dict[str, Any] = Field(description="Profile attributes, e.g. email, firstName, timezone")


class CustomerOut(ApiModel):
    id: str
    traits: dict[str, Any]
    identifiers: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, row: CustomerRow) -> CustomerOut:
        return cls(
            id=row.id,
            traits=row.traits,
            identifiers=row.identifiers,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
