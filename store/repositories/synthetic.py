"""Bulk synthetic data for benchmarks: journeys, enrollments and step history made in SQL, fast."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

STEPS_PER_ENROLLMENT = 5
# Rows per statement: each statement stays well inside the engine's command timeout on a busy machine.
_CHUNK = 50_000

_DURATION_MS = "floor(extract(epoch FROM s.completed_at - s.started_at) * 1000)"


class SyntheticRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def load_steps(
        self, tenant_id: str, journey_ids: list[uuid.UUID], rows: int, start: datetime
    ) -> None:
        """`rows` completed SEND steps: enrollments spread over 30 days from `start`, five steps each, a
        minute apart; each enrollment COMPLETED at its last step."""
        enrollments = rows // STEPS_PER_ENROLLMENT
        for journey_id in journey_ids:
            await self._session.execute(
                text(
                    "INSERT INTO journeys (id, tenant_id, name, status, draft, version) "
                    "VALUES (:id, :tenant, 'synthetic', 'PUBLISHED', '{}'::jsonb, 1)"
                ),
                {"id": journey_id, "tenant": tenant_id},
            )
        for first in range(0, enrollments, _CHUNK):
            await self._session.execute(
                text(
                    "INSERT INTO enrollments (id, tenant_id, journey_id, version, customer_id, entry_number, "
                    "workflow_id, status, converted, current_step_id, enrolled_at, completed_at) "
                    "SELECT md5(:tenant || i)::uuid, :tenant, "
                    "(CAST(:journeys AS uuid[]))[1 + i % cardinality(CAST(:journeys AS uuid[]))], 1, "
                    "'c' || i, 1, 'wf-' || i, 'COMPLETED', i % 7 = 0, 'node-' || (:k - 1), "
                    "CAST(:start AS timestamptz) + (i % 43200) * interval '1 minute', "
                    "CAST(:start AS timestamptz) + (i % 43200 + :k) * interval '1 minute' "
                    "FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS i"
                ),
                {
                    "tenant": tenant_id,
                    "journeys": journey_ids,
                    "start": start,
                    "k": STEPS_PER_ENROLLMENT,
                    "first": first,
                    "last": min(first + _CHUNK, enrollments) - 1,
                },
            )
        for journey_id in journey_ids:
            await self._session.execute(
                text(
                    "INSERT INTO enrollment_steps (enrollment_id, node_id, visit, tenant_id, node_type, "
                    "name, status, branch, started_at, completed_at) "
                    "SELECT e.id, 'node-' || s, 1, e.tenant_id, 'SEND', 'node-' || s, 'COMPLETED', NULL, "
                    "e.enrolled_at + s * interval '1 minute', "
                    "e.enrolled_at + s * interval '1 minute' + (i.ms || ' milliseconds')::interval "
                    "FROM enrollments e CROSS JOIN generate_series(0, :k - 1) AS s "
                    "CROSS JOIN LATERAL (SELECT 200 + (hashtext(e.id::text || s) & 1023) AS ms) AS i "
                    "WHERE e.tenant_id = :tenant AND e.journey_id = :journey"
                ),
                {"tenant": tenant_id, "journey": journey_id, "k": STEPS_PER_ENROLLMENT},
            )

    async def rebuild_rollups(self, tenant_id: str) -> None:
        """Rollup cells for everything loaded in bulk — the same cells the projection maintains step by
        step, computed by GROUP BY (a bulk load bypasses `apply_progress`): hourly from the steps, daily
        from the hourly cells."""
        # One day of steps per statement, cells in time order: as the projection writes them over time,
        # so a table's rows for one hour or day sit together, as they would in production.
        days = await self._session.scalar(
            text(
                "SELECT array_agg(DISTINCT date_trunc('day', started_at AT TIME ZONE 'UTC') "
                "AT TIME ZONE 'UTC') FROM enrollment_steps WHERE tenant_id = :tenant"
            ),
            {"tenant": tenant_id},
        )
        for day in sorted(days or []):
            await self._session.execute(
                text(
                    "INSERT INTO step_rollups (tenant_id, journey_id, version, node_id, node_type, "
                    "bucket_hour, status, branch, count, duration_count, duration_sum_ms, duration_min_ms, "
                    "duration_max_ms) "
                    "SELECT s.tenant_id, e.journey_id, e.version, s.node_id, s.node_type, "
                    "date_trunc('hour', s.started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', s.status, "
                    f"coalesce(s.branch, ''), count(*), count(s.completed_at), "
                    f"coalesce(sum({_DURATION_MS}), 0)::bigint, min({_DURATION_MS})::bigint, "
                    f"max({_DURATION_MS})::bigint "
                    "FROM enrollment_steps s JOIN enrollments e ON e.id = s.enrollment_id "
                    "WHERE s.tenant_id = :tenant AND s.started_at >= :day "
                    "AND s.started_at < :day + interval '1 day' "
                    "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 6, 2, 4"
                ),
                {"tenant": tenant_id, "day": day},
            )
        await self._session.execute(
            text(
                "INSERT INTO step_rollups_daily (tenant_id, journey_id, version, node_id, node_type, "
                "bucket_day, status, branch, count, duration_count, duration_sum_ms, duration_min_ms, "
                "duration_max_ms) "
                "SELECT tenant_id, journey_id, version, node_id, node_type, "
                "date_trunc('day', bucket_hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', status, branch, "
                "sum(count), sum(duration_count), sum(duration_sum_ms), min(duration_min_ms), "
                "max(duration_max_ms) "
                "FROM step_rollups WHERE tenant_id = :tenant GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 6, 2, 4"
            ),
            {"tenant": tenant_id},
        )
        for table in ("enrollment_steps", "step_rollups", "step_rollups_daily", "enrollments"):
            await self._session.execute(text(f"ANALYZE {table}"))

    async def scan_completed(
        self,
        tenant_id: str,
        start: datetime,
        end: datetime,
        unit: Literal["day", "week", "month"],
        time_zone: str,
    ) -> list[tuple[uuid.UUID, str, datetime, int]]:
        """nStepsCompleted by journey, node and local `unit` the slow way: every step row read, grouped."""
        rows = await self._session.execute(
            text(
                "SELECT e.journey_id, s.node_id, "
                "date_trunc(CAST(:unit AS text), s.started_at AT TIME ZONE :tz) AS bucket, count(*) "
                "FROM enrollment_steps s JOIN enrollments e ON e.id = s.enrollment_id "
                "WHERE s.tenant_id = :tenant AND s.status = 'COMPLETED' "
                "AND s.started_at >= :start AND s.started_at < :end GROUP BY 1, 2, 3"
            ),
            {"tenant": tenant_id, "unit": unit, "tz": time_zone, "start": start, "end": end},
        )
        return [(j, n, b, int(c)) for j, n, b, c in rows]
