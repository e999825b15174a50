"""Segments and segment assignments. An assignment past its expiration date reads as Unassigned."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, not_, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.pagination import Page, PageRequest, paginate
from store.rows import JourneyRow, JourneyVersionRow, SegmentAssignmentRow, SegmentRow

SORTABLE = {
    "name": SegmentRow.display_name,
    "createdAt": SegmentRow.created_at,
    "updatedAt": SegmentRow.updated_at,
}


@dataclass(frozen=True)
class AssignmentView:
    """An assignment with the segment facts its listing shows."""

    assignment: SegmentAssignmentRow
    display_name: str
    scope: str


def currently_assigned(now: datetime) -> ColumnElement[bool]:
    """Assigned and not expired (evaluated on read: no sweeper)."""
    return and_(
        SegmentAssignmentRow.state == "Assigned",
        or_(SegmentAssignmentRow.expiration_date.is_(None), SegmentAssignmentRow.expiration_date > now),
    )


def is_current(row: SegmentAssignmentRow, now: datetime) -> bool:
    return row.state == "Assigned" and (row.expiration_date is None or row.expiration_date > now)


class SegmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: SegmentRow) -> None:
        self._session.add(row)
        await self._session.flush()

    async def get(
        self, tenant_id: str, segment_id: uuid.UUID, *, for_update: bool = False
    ) -> SegmentRow | None:
        query = select(SegmentRow).where(SegmentRow.tenant_id == tenant_id, SegmentRow.id == segment_id)
        if for_update:
            query = query.with_for_update()
        return await self._session.scalar(query)

    async def search(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        is_active: bool | None = None,
        ids: Sequence[uuid.UUID] | None = None,
        order: Sequence[tuple[str, bool]] = (),
    ) -> Page[SegmentRow]:
        """`order`: (field of SORTABLE, descending) pairs; newest first when empty."""
        conditions: list[Any] = [SegmentRow.tenant_id == tenant_id]
        if is_active is not None:
            conditions.append(SegmentRow.is_active.is_(is_active))
        if ids is not None:
            conditions.append(SegmentRow.id.in_(list(ids)))
        order_by: list[Any] = [SORTABLE[f].desc() if desc else SORTABLE[f].asc() for f, desc in order]
        if not order_by:
            order_by = [SegmentRow.created_at.desc()]
        return await paginate(self._session, SegmentRow, conditions, [*order_by, SegmentRow.id], page)

    async def delete(self, row: SegmentRow) -> None:
        await self._session.execute(delete(SegmentRow).where(SegmentRow.id == row.id))

    async def active_with_patterns(self, tenant_id: str) -> list[SegmentRow]:
        """Active segments that events can assign (journey or context patterns present)."""
        rows = await self._session.scalars(
            select(SegmentRow)
            .where(
                SegmentRow.tenant_id == tenant_id,
                SegmentRow.is_active.is_(True),
                or_(
                    func.jsonb_array_length(SegmentRow.journey["patterns"]) > 0,
                    func.jsonb_array_length(SegmentRow.context["patterns"]) > 0,
                ),
            )
            .order_by(SegmentRow.created_at, SegmentRow.id)
        )
        return list(rows)

    async def journey_using(self, tenant_id: str, segment_id: uuid.UUID) -> JourneyRow | None:
        """A journey that is not archived and names the segment (a trigger's, or in its exit criteria)
        in its draft or in any of its versions."""
        uses = {"nodes": [{"config": {"segmentId": str(segment_id)}}]}
        exits = {"exitCriteria": {"segments": [str(segment_id)]}}
        in_a_version = select(JourneyVersionRow.journey_id).where(
            JourneyVersionRow.tenant_id == tenant_id,
            JourneyVersionRow.definition.contains(uses) | JourneyVersionRow.definition.contains(exits),
        )
        return await self._session.scalar(
            select(JourneyRow)
            .where(
                JourneyRow.tenant_id == tenant_id,
                JourneyRow.status != "ARCHIVED",
                JourneyRow.draft.contains(uses)
                | JourneyRow.draft.contains(exits)
                | JourneyRow.id.in_(in_a_version),
            )
            .order_by(JourneyRow.created_at)
            .limit(1)
        )


class AssignmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @staticmethod
    def _key(
        tenant_id: str, segment_id: uuid.UUID, customer_id: str, session_id: str | None
    ) -> list[ColumnElement[bool]]:
        return [
            SegmentAssignmentRow.tenant_id == tenant_id,
            SegmentAssignmentRow.segment_id == segment_id,
            SegmentAssignmentRow.customer_id == customer_id,
            SegmentAssignmentRow.session_id.is_(None)
            if session_id is None
            else SegmentAssignmentRow.session_id == session_id,
        ]

    async def get(
        self,
        tenant_id: str,
        segment_id: uuid.UUID,
        customer_id: str,
        session_id: str | None = None,
        *,
        for_update: bool = False,
    ) -> SegmentAssignmentRow | None:
        query = select(SegmentAssignmentRow).where(*self._key(tenant_id, segment_id, customer_id, session_id))
        if for_update:
            query = query.with_for_update()
        return await self._session.scalar(query.execution_options(populate_existing=True))

    async def insert_if_absent(self, values: dict[str, Any]) -> SegmentAssignmentRow | None:
        """Insert a new assignment and return it; None when this (segment, customer[, session])
        already has one."""
        session_scoped = values.get("session_id") is not None
        elements = ["tenant_id", "segment_id", "customer_id", *(["session_id"] if session_scoped else [])]
        where = (
            SegmentAssignmentRow.session_id.is_not(None)
            if session_scoped
            else SegmentAssignmentRow.session_id.is_(None)
        )
        statement = (
            insert(SegmentAssignmentRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=elements, index_where=where)
            .returning(SegmentAssignmentRow)
        )
        return (await self._session.scalars(statement)).one_or_none()

    async def change(self, assignment_id: int, values: dict[str, Any]) -> None:
        await self._session.execute(
            update(SegmentAssignmentRow).where(SegmentAssignmentRow.id == assignment_id).values(**values)
        )

    async def page(
        self,
        tenant_id: str,
        now: datetime,
        *,
        customer_id: str | None = None,
        session_id: str | None = None,
        scope: str | None = None,
        state: str | None = None,
        after: int | None = None,
        limit: int = 20,
    ) -> list[AssignmentView]:
        """Assignments of a customer or a session in id order from a keyset cursor (limit + 1 rows)."""
        conditions: list[Any] = [SegmentAssignmentRow.tenant_id == tenant_id]
        if customer_id is not None:
            conditions.append(SegmentAssignmentRow.customer_id == customer_id)
        if session_id is not None:
            conditions.append(SegmentAssignmentRow.session_id == session_id)
        if scope is not None:
            conditions.append(SegmentRow.scope == scope)
        if state == "Assigned":
            conditions.append(currently_assigned(now))
        elif state == "Unassigned":
            conditions.append(not_(currently_assigned(now)))
        if after is not None:
            conditions.append(SegmentAssignmentRow.id > after)
        rows = await self._session.execute(
            select(SegmentAssignmentRow, SegmentRow.display_name, SegmentRow.scope)
            .join(SegmentRow, SegmentRow.id == SegmentAssignmentRow.segment_id)
            .where(*conditions)
            .order_by(SegmentAssignmentRow.id)
            .limit(limit + 1)
        )
        return [AssignmentView(a, name, seg_scope) for a, name, seg_scope in rows]

    async def member_page(
        self, tenant_id: str, segment_id: uuid.UUID, now: datetime, *, after: str | None, limit: int
    ) -> list[str]:
        """Customers currently Assigned to the segment (any session), in id order after a cursor."""
        conditions: list[Any] = [
            SegmentAssignmentRow.tenant_id == tenant_id,
            SegmentAssignmentRow.segment_id == segment_id,
            currently_assigned(now),
        ]
        if after is not None:
            conditions.append(SegmentAssignmentRow.customer_id > after)
        rows = await self._session.scalars(
            select(SegmentAssignmentRow.customer_id)
            .where(*conditions)
            .group_by(SegmentAssignmentRow.customer_id)
            .order_by(SegmentAssignmentRow.customer_id)
            .limit(limit)
        )
        return list(rows)

    async def assigned_segment_ids(self, tenant_id: str, customer_id: str, now: datetime) -> list[str]:
        """The segments a customer is in now (for CONDITION rules on `segments`)."""
        rows = await self._session.scalars(
            select(SegmentAssignmentRow.segment_id)
            .where(
                SegmentAssignmentRow.tenant_id == tenant_id,
                SegmentAssignmentRow.customer_id == customer_id,
                currently_assigned(now),
            )
            .distinct()
        )
        return sorted(str(segment_id) for segment_id in rows)

    async def move_customer(self, tenant_id: str, from_customer: str, to_customer: str) -> None:
        """Hand a merged profile's assignments to the known customer, where that one has none."""
        other = SegmentAssignmentRow.__table__.alias("other")
        await self._session.execute(
            update(SegmentAssignmentRow)
            .where(
                SegmentAssignmentRow.tenant_id == tenant_id,
                SegmentAssignmentRow.customer_id == from_customer,
                ~select(other.c.id)
                .where(
                    other.c.tenant_id == tenant_id,
                    other.c.customer_id == to_customer,
                    other.c.segment_id == SegmentAssignmentRow.segment_id,
                    other.c.session_id.is_not_distinct_from(SegmentAssignmentRow.session_id),
                )
                .exists(),
            )
            .values(customer_id=to_customer)
        )
