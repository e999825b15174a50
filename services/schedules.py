"""SCHEDULE journeys: a Temporal schedule enrolls the trigger segment's members at every cron tick.

The schedule exists exactly while the journey is PUBLISHED: publishing (or resuming) creates or updates
it, pausing, unpublishing and archiving delete it, and publishing a version whose trigger is no longer
SCHEDULE deletes it too. Each tick starts `JourneyScheduleWorkflow` (`workflows/schedule.py`), which
pages through the members (`activities/audience.py`); a tick that finds the previous run still going is
skipped. The cron runs in the journey's `settings.timezone`.

`sync_journey_schedule` is the hook `JourneyService` calls from publish and the lifecycle verbs, in the
request's transaction: it checks the trigger (a 422 rolls the publish back) and hands the Temporal call
to after-commit.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.audience import JOURNEY_SCHEDULE_WORKFLOW, ScheduledEntryInput, journey_schedule_id
from domain.definition import JourneyDefinition, TriggerConfig, TriggerNode
from domain.errors import DependencyUnavailableError, FieldIssue, InvalidInputError
from services.temporal import EnrollmentGateway
from services.uow import UnitOfWork
from store.repositories.journeys import JourneyRepository
from store.repositories.segments import SegmentRepository
from store.rows import JourneyRow

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#-]+$")
_CRON_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})


def valid_cron(cron: str) -> bool:
    """Temporal's cron: 5 fields (6 with seconds, 7 with years) or a macro such as `@daily`."""
    text = cron.strip()
    if text in _CRON_MACROS or re.fullmatch(r"@every \d+[smhd]", text):
        return True
    fields = text.split()
    return 5 <= len(fields) <= 7 and all(_CRON_FIELD.match(f) for f in fields)


def scheduled_trigger(definition: JourneyDefinition | None) -> tuple[int, TriggerConfig] | None:
    """The SCHEDULE trigger (and its node's index) of a definition, if it has one."""
    if definition is None:
        return None
    for index, node in enumerate(definition.nodes):
        if isinstance(node, TriggerNode) and node.config.trigger_type == "SCHEDULE":
            return index, node.config
    return None


class JourneySchedules:
    """The Temporal side: one schedule per SCHEDULE journey, id `journey-schedule:<tenant>:<journey>`."""

    def __init__(self, gateway: EnrollmentGateway) -> None:
        self._gateway = gateway

    async def upsert(
        self, tenant_id: str, journey_id: uuid.UUID, cron: str, timezone: str, name: str
    ) -> None:
        schedule_id = journey_schedule_id(tenant_id, str(journey_id))
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                JOURNEY_SCHEDULE_WORKFLOW,
                ScheduledEntryInput(tenant_id=tenant_id, journey_id=str(journey_id)),
                id=f"journey-scheduled-entry:{tenant_id}:{journey_id}",
                task_queue=self._gateway.task_queue,
                static_summary=f"scheduled entry · journey {name}",
            ),
            spec=ScheduleSpec(cron_expressions=[cron], time_zone_name=timezone),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
        client = await self._gateway.connection.client()
        try:
            try:
                await client.create_schedule(schedule_id, schedule)
            except ScheduleAlreadyRunningError:

                def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
                    return ScheduleUpdate(schedule=schedule)

                await client.get_schedule_handle(schedule_id).update(replace)
        except RPCError as exc:
            raise DependencyUnavailableError("temporal", f"could not schedule the journey: {exc}") from exc

    async def delete(self, tenant_id: str, journey_id: uuid.UUID) -> None:
        client = await self._gateway.connection.client()
        try:
            await client.get_schedule_handle(journey_schedule_id(tenant_id, str(journey_id))).delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise DependencyUnavailableError(
                    "temporal", f"could not unschedule the journey: {exc}"
                ) from exc


async def _version_definition(
    journeys: JourneyRepository, journey_id: uuid.UUID, version: int | None
) -> JourneyDefinition | None:
    if not version:
        return None
    row = await journeys.get_version(journey_id, version)
    return JourneyDefinition.model_validate(row.definition) if row is not None else None


async def sync_journey_schedule(
    uow: UnitOfWork,
    control: Any,
    tenant_id: str,
    row: JourneyRow,
    previous_version: int | None = None,
    *,
    live: JourneyDefinition | None = None,
) -> None:
    """Make the journey's schedule match its status and live version (after commit).

    `control` is what the journey service reaches Temporal with; without a gateway (reads, tools)
    only the checks run. `previous_version`: the version live before this publish, if any. `live`:
    the live version's definition when the caller holds it (a publish), else it is read.
    """
    journeys = JourneyRepository(uow.session)
    if live is None:
        live = await _version_definition(journeys, row.id, row.version)
    scheduled = scheduled_trigger(live)
    had_schedule = previous_version != row.version and (
        scheduled_trigger(await _version_definition(journeys, row.id, previous_version)) is not None
    )
    if row.status == "PUBLISHED" and scheduled is not None and live is not None:
        _, trigger = scheduled
        issues = await schedule_issues(uow, tenant_id, live)
        if issues:
            raise InvalidInputError(issues, detail="the journey's SCHEDULE trigger cannot run")
        if isinstance(control, EnrollmentGateway):
            schedules, cron, timezone, name = (
                JourneySchedules(control),
                str(trigger.cron),
                live.settings.timezone,
                row.name,
            )

            async def upsert() -> None:
                await schedules.upsert(tenant_id, row.id, cron, timezone, name)

            uow.after_commit(upsert)
    elif (scheduled is not None or had_schedule) and isinstance(control, EnrollmentGateway):
        schedules = JourneySchedules(control)
        journey_id = row.id

        async def delete() -> None:
            await schedules.delete(tenant_id, journey_id)

        uow.after_commit(delete)


async def schedule_issues(uow: UnitOfWork, tenant_id: str, definition: JourneyDefinition) -> list[FieldIssue]:
    """Why the definition's SCHEDULE trigger could not run (publishing it answers these in a 422);
    nothing for any other trigger."""
    scheduled = scheduled_trigger(definition)
    if scheduled is None:
        return []
    index, trigger = scheduled
    where = ("nodes", index, "config")
    issues: list[FieldIssue] = []
    if not trigger.cron or not valid_cron(trigger.cron):
        issues.append(
            FieldIssue((*where, "cron"), f"not a cron expression Temporal accepts: {trigger.cron!r}")
        )
    if not trigger.segment_id:
        issues.append(
            FieldIssue((*where, "segmentId"), "a SCHEDULE trigger enrolls a segment: give `segmentId`")
        )
    else:
        try:
            segment = await SegmentRepository(uow.session).get(tenant_id, uuid.UUID(trigger.segment_id))
        except ValueError:
            segment = None
        if segment is None:
            issues.append(FieldIssue((*where, "segmentId"), f"unknown segment {trigger.segment_id!r}"))
    return issues
