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


class CustomerIdentifiersOut(ApiModel):
    """Every way events and the assignment API can name this customer (a merged one may have several)."""

    user_id: list[str] = Field(default_factory=list)
    anonymous_id: list[str] = Field(default_factory=list)
    email: list[str] = Field(default_factory=list)
    phone: list[str] = Field(default_factory=list)
    cookie: list[str] = Field(default_factory=list)
    external_contact_id: list[str] = Field(default_factory=list)


class CustomerOut(ApiModel):
    id: str
    traits: dict[str, Any]
    identifiers: CustomerIdentifiersOut
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, row: CustomerRow, identifiers: dict[str, list[str]] | None = None) -> CustomerOut:
        return cls(
            id=row.id,
            traits=row.traits,
            identifiers=CustomerIdentifiersOut.model_validate(identifiers or {}),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
