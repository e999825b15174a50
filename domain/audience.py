"""Temporal payloads of scheduled audience entry: a SCHEDULE journey enrolls its segment's members.

The Temporal schedule of a journey starts `JourneyScheduleWorkflow` at every cron tick; the workflow
pages through the segment's Assigned members with the `enroll_audience_page` activity.
"""

from __future__ import annotations

from domain.wire import WireModel

JOURNEY_SCHEDULE_WORKFLOW = "JourneyScheduleWorkflow"
ENROLL_AUDIENCE_PAGE = "enroll_audience_page"


def journey_schedule_id(tenant_id: str, journey_id: str) -> str:
    """The Temporal schedule of one journey (its runs are `<this id>-<timestamp>` workflows)."""
    return f"journey-schedule:{tenant_id}:{journey_id}"


class ScheduledEntryInput(WireModel):
    schema_version: int = 1
    tenant_id: str
    journey_id: str


class AudiencePageRequest(WireModel):
    schema_version: int = 1
    tenant_id: str
    journey_id: str
    after_customer_id: str | None = None
    batch_size: int = 200


class AudiencePageResult(WireModel):
    schema_version: int = 1
    members: int
    enrolled: int
    last_customer_id: str | None
    # False when the journey stopped taking entries (paused, unpublished…) or lost its segment.
    proceed: bool = True
