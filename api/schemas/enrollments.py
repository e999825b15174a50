"""Enrollment request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import Field

from api.schemas.common import ApiModel

if TYPE_CHECKING:
    from services.enrollments import EnrollmentDetail
    from store.rows import EnrollmentRow


class EnrollRequest(ApiModel):
    customer_id: str = Field(min_length=1, max_length=256)


class EnrollmentOut(ApiModel):
    id: uuid.UUID
    journey_id: uuid.UUID
    version: int
    customer_id: str
    entry_number: int
    entry_key: str | None = Field(
        description="The key value of a keyed entry (the EVENT trigger's `entryKey`); null when unkeyed"
    )
    status: str
    converted: bool
    current_step_id: str | None
    waiting_until: datetime | None
    enrolled_at: datetime
    completed_at: datetime | None
    test: bool = Field(
        default=False,
        description="A test customer's run (`POST …/tests`): counted in no total, analytics or aggregate",
    )

    @classmethod
    def build(cls, row: EnrollmentRow) -> EnrollmentOut:
        return cls(
            id=row.id,
            journey_id=row.journey_id,
            version=row.version,
            customer_id=row.customer_id,
            entry_number=row.entry_number,
            entry_key=row.entry_key or None,
            status=row.status,
            converted=row.converted,
            current_step_id=row.current_step_id,
            waiting_until=row.waiting_until,
            enrolled_at=row.enrolled_at,
            completed_at=row.completed_at,
            test=row.test,
        )


class StepOut(ApiModel):
    step_id: str
    step_name: str
    step_type: str
    visit: int
    status: str
    branch: str | None
    detail: str | None
    started_at: datetime
    completed_at: datetime | None


class LiveStateOut(ApiModel):
    current_step_id: str | None
    status: str
    waiting_until: datetime | None
    path: list[str]
    paused: bool = Field(default=False, description="Held before its next step until resumed")
    awaiting: str | None = Field(
        default=None,
        description="What the current step waits on: time, event, quiet_hours, window, send, profile, "
        "update, resume (paused)",
    )


class EnrollmentDetailOut(EnrollmentOut):
    steps: list[StepOut]
    live: LiveStateOut | None = Field(description="The running workflow's own answer, if running")
    temporal_url: str

    @classmethod
    def from_detail(cls, detail: EnrollmentDetail) -> EnrollmentDetailOut:
        base = EnrollmentOut.build(detail.enrollment)
        live = detail.live
        return cls(
            **base.model_dump(),
            steps=[
                StepOut(
                    step_id=s.node_id,
                    step_name=s.name,
                    step_type=s.node_type,
                    visit=s.visit,
                    status=s.status,
                    branch=s.branch,
                    detail=s.detail,
                    started_at=s.started_at,
                    completed_at=s.completed_at,
                )
                for s in detail.steps
            ],
            live=None
            if live is None
            else LiveStateOut(
                current_step_id=live.current_node_id,
                status=live.status,
                waiting_until=live.waiting_until,
                path=live.path,
                paused=live.paused,
                awaiting=live.awaiting,
            ),
            temporal_url=detail.temporal_url,
        )
