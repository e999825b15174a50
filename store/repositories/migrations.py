"""Migrations of in-flight enrollments between versions: their rows, and the enrollments they read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.rows import EnrollmentRow, MigrationRow


@dataclass(frozen=True)
class MovableEnrollment:
    id: uuid.UUID
    workflow_id: str


class MigrationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: MigrationRow) -> None:
        self._session.add(row)
        await self._session.flush()

    async def get(
        self, tenant_id: str, journey_id: uuid.UUID, migration_id: uuid.UUID
    ) -> MigrationRow | None:
        return await self._session.scalar(
            select(MigrationRow)
            .where(
                MigrationRow.tenant_id == tenant_id,
                MigrationRow.journey_id == journey_id,
                MigrationRow.id == migration_id,
            )
            .execution_options(populate_existing=True)
        )

    async def active_by_node(
        self, tenant_id: str, journey_id: uuid.UUID, version: int
    ) -> dict[str | None, int]:
        """How many ACTIVE enrollments of the version are at each node, as the projection has them
        (`current_step_id`; None: entered, not at a node yet)."""
        rows = await self._session.execute(
            select(EnrollmentRow.current_step_id, func.count())
            .where(
                EnrollmentRow.tenant_id == tenant_id,
                EnrollmentRow.journey_id == journey_id,
                EnrollmentRow.version == version,
                EnrollmentRow.status == "ACTIVE",
                EnrollmentRow.test.is_(False),
            )
            .group_by(EnrollmentRow.current_step_id)
        )
        return {node_id: int(count) for node_id, count in rows}

    async def active_page(
        self, tenant_id: str, journey_id: uuid.UUID, version: int, *, after: uuid.UUID | None, limit: int
    ) -> list[MovableEnrollment]:
        """ACTIVE enrollments of one version of the journey in id order, from a keyset cursor."""
        conditions: list[Any] = [
            EnrollmentRow.tenant_id == tenant_id,
            EnrollmentRow.journey_id == journey_id,
            EnrollmentRow.version == version,
            EnrollmentRow.status == "ACTIVE",
            EnrollmentRow.test.is_(False),
        ]
        if after is not None:
            conditions.append(EnrollmentRow.id > after)
        rows = await self._session.execute(
            select(EnrollmentRow.id, EnrollmentRow.workflow_id)
            .where(*conditions)
            .order_by(EnrollmentRow.id)
            .limit(limit)
        )
        return [MovableEnrollment(enrollment_id, workflow_id) for enrollment_id, workflow_id in rows]

    async def record_progress(
        self, tenant_id: str, migration_id: uuid.UUID, *, moved: int, skipped: int, failed: int
    ) -> None:
        """Overwrite a running migration's totals (absolute: writing the same page twice is harmless)."""
        await self._session.execute(
            update(MigrationRow)
            .where(
                MigrationRow.tenant_id == tenant_id,
                MigrationRow.id == migration_id,
                MigrationRow.status == "RUNNING",
            )
            .values(moved=moved, skipped=skipped, failed=failed)
        )

    async def finish(
        self,
        tenant_id: str,
        migration_id: uuid.UUID,
        *,
        status: str,
        moved: int,
        skipped: int,
        failed: int,
        error: str | None = None,
    ) -> None:
        """End a running migration (COMPLETED or FAILED) with its totals; an ended one stays as it ended."""
        await self._session.execute(
            update(MigrationRow)
            .where(
                MigrationRow.tenant_id == tenant_id,
                MigrationRow.id == migration_id,
                MigrationRow.status == "RUNNING",
            )
            .values(
                status=status,
                moved=moved,
                skipped=skipped,
                failed=failed,
                error=error,
                completed_at=datetime.now(UTC),
            )
        )
