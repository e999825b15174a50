"""Exit criteria on segments: which ACTIVE enrollments a customer's leaving a segment ends.

An enrollment interprets the version it entered on, so these queries read the exit criteria of the
enrollment's own version (`journey_versions.definition -> 'exitCriteria' -> 'segments'`, segment ids
in canonical form) rather than the journey's live one — a version published later that drops the
criterion does not save the enrollments of an earlier one, and one that adds it does not reach them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from store.repositories.segments import currently_assigned
from store.rows import EnrollmentRow, JourneyVersionRow, SegmentAssignmentRow, SegmentRow


@dataclass(frozen=True)
class SegmentExit:
    """An ACTIVE enrollment to exit because its customer left `segment_name`."""

    tenant_id: str
    customer_id: str
    workflow_id: str
    segment_id: str
    segment_name: str


# Enrollments still ACTIVE whose version lists a segment the customer left by expiry after entering:
# an assignment that read Assigned until an expiration date between the entry and now, and none of
# the customer's assignments to the segment (any session) current now. Versions are read first (few
# carry exit segments), enrollments through ix_enrollments_journey_status.
_EXPIRED = text(
    """
    SELECT e.id, e.tenant_id, e.customer_id, e.workflow_id, s.id::text, s.display_name
    FROM journey_versions v
    CROSS JOIN LATERAL
        jsonb_array_elements_text(v.definition -> 'exitCriteria' -> 'segments') AS x(segment_id)
    JOIN segments s ON s.tenant_id = v.tenant_id AND s.id::text = x.segment_id
    JOIN enrollments e
      ON e.tenant_id = v.tenant_id AND e.journey_id = v.journey_id AND e.version = v.version
     AND e.status = 'ACTIVE'
    WHERE jsonb_typeof(v.definition -> 'exitCriteria' -> 'segments') = 'array'
      AND e.id > :after
      AND EXISTS (
        SELECT 1 FROM segment_assignments a
        WHERE a.tenant_id = e.tenant_id AND a.segment_id = s.id AND a.customer_id = e.customer_id
          AND a.state = 'Assigned' AND a.expiration_date > e.enrolled_at AND a.expiration_date <= :now
      )
      AND NOT EXISTS (
        SELECT 1 FROM segment_assignments a
        WHERE a.tenant_id = e.tenant_id AND a.segment_id = s.id AND a.customer_id = e.customer_id
          AND a.state = 'Assigned' AND (a.expiration_date IS NULL OR a.expiration_date > :now)
      )
    ORDER BY e.id
    LIMIT :limit
    """
)


class ExitSegmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def segment_names(self, tenant_id: str, segment_ids: Sequence[str]) -> dict[str, str]:
        """The given ids that are segments of the tenant, with their display names (one query)."""
        wanted: list[uuid.UUID] = []
        for segment_id in segment_ids:
            try:
                wanted.append(uuid.UUID(segment_id))
            except ValueError:
                continue
        if not wanted:
            return {}
        rows = await self._session.execute(
            select(SegmentRow.id, SegmentRow.display_name).where(
                SegmentRow.tenant_id == tenant_id, SegmentRow.id.in_(wanted)
            )
        )
        return {str(segment_id): str(name) for segment_id, name in rows}

    async def exits_on_leave(
        self, tenant_id: str, customer_id: str, segment: SegmentRow, left_at: datetime, now: datetime
    ) -> list[SegmentExit]:
        """The customer's ACTIVE enrollments, entered by `left_at`, whose own version's exit criteria
        list `segment` — one query (the customer's enrollments by index, their versions by key).

        Nothing while the customer is still in the segment at `now` through another assignment
        (another session of a Session-scoped segment).
        """
        lists_segment = {"exitCriteria": {"segments": [str(segment.id)]}}
        still_in = (
            select(SegmentAssignmentRow.id)
            .where(
                SegmentAssignmentRow.tenant_id == tenant_id,
                SegmentAssignmentRow.segment_id == segment.id,
                SegmentAssignmentRow.customer_id == customer_id,
                currently_assigned(now),
            )
            .exists()
        )
        rows = await self._session.execute(
            select(EnrollmentRow.workflow_id)
            .join(
                JourneyVersionRow,
                and_(
                    JourneyVersionRow.journey_id == EnrollmentRow.journey_id,
                    JourneyVersionRow.version == EnrollmentRow.version,
                ),
            )
            .where(
                EnrollmentRow.tenant_id == tenant_id,
                EnrollmentRow.customer_id == customer_id,
                EnrollmentRow.status == "ACTIVE",
                EnrollmentRow.enrolled_at <= left_at,
                JourneyVersionRow.definition.contains(lists_segment),
                ~still_in,
            )
            .order_by(EnrollmentRow.enrolled_at, EnrollmentRow.id)
        )
        return [
            SegmentExit(tenant_id, customer_id, str(workflow_id), str(segment.id), segment.display_name)
            for (workflow_id,) in rows
        ]

    async def expired_leaves(
        self, now: datetime, *, after: uuid.UUID | None, limit: int
    ) -> list[tuple[uuid.UUID, SegmentExit]]:
        """Across tenants: ACTIVE enrollments whose customer left one of their exit segments because
        the assignment expired (a leave no request makes), in enrollment id order after a cursor, at
        most `limit` (enrollment id, exit) pairs."""
        rows = await self._session.execute(
            _EXPIRED, {"now": now, "after": after or uuid.UUID(int=0), "limit": limit}
        )
        return [
            (enrollment, SegmentExit(str(tenant), str(customer), str(workflow), str(segment), str(name)))
            for enrollment, tenant, customer, workflow, segment, name in rows
        ]
