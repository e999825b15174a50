"""Page arithmetic shared by list queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    limit: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    request: PageRequest


async def paginate(
    session: AsyncSession,
    model: type[Any],
    conditions: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    page: PageRequest,
) -> Page[Any]:
    """Count the matching rows and fetch one page of them, in a stable order."""
    total = await session.scalar(select(func.count()).select_from(model).where(*conditions))
    rows = await session.scalars(
        select(model).where(*conditions).order_by(*order_by).offset(page.offset).limit(page.limit)
    )
    return Page(items=list(rows), total=int(total or 0), request=page)
