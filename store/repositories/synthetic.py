"""Bulk synthetic data for benchmarks: journeys, enrollments and step history made in SQL, fast."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

STEPS_PER_ENROLLMENT = 5


class SyntheticRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def load_steps(
        self, tenant_id: str, journey_ids: list[uuid.UUID], rows: int, start: datetime
    ) -> None:
        """`rows` completed SEND steps: enrollments spread over 30 days from `start`, five steps each."""
        enrollments = rows // STEPS_PER_ENROLLMENT
        for journey_id in journey_ids:
            await self._session.execute(
                text(
                    "INSERT INTO journeys (id, tenant_id, name, status, draft, version) "
                    "VALUES (:id, :tenant, 'synthetic', 'PUBLISHED', '{}'::jsonb, 1)"
                ),
                {"id": journey_id, "tenant": tenant_id},
            )
        await self._session.execute(
            text(
                "INSERT INTO enrollments (id, tenant_id, journey_id, version, customer_id, entry_number, "
                "workflow_id, status, converted, enrolled_at, completed_at) "
                "SELECT md5(:tenant || i)::uuid, :tenant, "
                "(CAST(:journeys AS uuid[]))[1 + i % cardinality(CAST(:journeys AS uuid[]))], 1, "
                "'c' || i, 1, 'wf-' || i, 'COMPLETED', i % 7 = 0, "
                "CAST(:start AS timestamptz) + (i % 43200) * interval '1 minute', "
                "CAST(:start AS timestamptz) + (i % 43200) * interval '1 minute' "
                "FROM generate_series(0, :n - 1) AS i"
            ),
            {"tenant": tenant_id, "journeys": journey_ids, "start": start, "n": enrollments},
        )
        await self._session.execute(
            text(
                "INSERT INTO enrollment_steps (enrollment_id, node_id, visit, tenant_id, node_type, name, "
                "status, branch, started_at, completed_at) "
                "SELECT e.id, 'node-' || s, 1, e.tenant_id, 'SEND', 'node-' || s, 'COMPLETED', NULL, "
                "e.enrolled_at + s * interval '1 minute', "
                "e.enrolled_at + s * interval '1 minute' + (i.ms || ' milliseconds')::interval "
                "FROM enrollments e CROSS JOIN generate_series(0, :k - 1) AS s "
                "CROSS JOIN LATERAL (SELECT 200 + (hashtext(e.id::text || s) & 1023) AS ms) AS i "
                "WHERE e.tenant_id = :tenant"
            ),
            {"tenant": tenant_id, "k": STEPS_PER_ENROLLMENT},
        )

    async def rebuild_rollups(self, tenant_id: str) -> None:
        """Rollup cells for everything loaded in bulk: the same cells the projection maintains step by
        step, computed in one statement (a bulk load bypasses `apply_progress`)."""
        await self._session.execute(
            text(
                "INSERT INTO step_rollups (tenant_id, journey_id, version, node_id, node_type, bucket_hour, "
                "status, branch, count, duration_count, duration_sum_ms, duration_min_ms, duration_max_ms) "
                "SELECT s.tenant_id, e.journey_id, e.version, s.node_id, s.node_type, "
                "date_trunc('hour', s.started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', s.status, "
                "coalesce(s.branch, ''), count(*), count(s.completed_at), "
                "coalesce(sum(floor(extract(epoch FROM s.completed_at - s.started_at) * 1000))::bigint, 0), "
                "min(floor(extract(epoch FROM s.completed_at - s.started_at) * 1000))::bigint, "
                "max(floor(extract(epoch FROM s.completed_at - s.started_at) * 1000))::bigint "
                "FROM enrollment_steps s JOIN enrollments e ON e.id = s.enrollment_id "
                "WHERE s.tenant_id = :tenant GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
            ),
            {"tenant": tenant_id},
        )
        for table in ("enrollment_steps", "step_rollups", "enrollments"):
            await self._session.execute(text(f"ANALYZE {table}"))

    async def scan_daily_completed(
        self, tenant_id: str, start: datetime, end: datetime, time_zone: str
    ) -> list[tuple[uuid.UUID, str, datetime, int]]:
        """The query's answer the slow way: every step row read, grouped by journey, node, local day."""
        rows = await self._session.execute(
            text(
                "SELECT e.journey_id, s.node_id, "
                "date_trunc('day', s.started_at AT TIME ZONE :tz) AS day, count(*) "
                "FROM enrollment_steps s JOIN enrollments e ON e.id = s.enrollment_id "
                "WHERE s.tenant_id = :tenant AND s.status = 'COMPLETED' "
                "AND s.started_at >= :start AND s.started_at < :end GROUP BY 1, 2, 3"
            ),
            {"tenant": tenant_id, "tz": time_zone, "start": start, "end": end},
        )
        return [(j, n, d, int(c)) for j, n, d, c in rows]
