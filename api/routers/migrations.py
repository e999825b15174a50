"""/v1/journeys/{journeyId}/migrations: moving in-flight enrollments from one version to another."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.auth import Principal
from api.deps import Resources, Uow, parse_id, require
from api.schemas.migrations import MigrationAnswer, MigrationCreate, MigrationDryRunOut, MigrationOut
from services.migrations import MigrationPlan, MigrationService

router = APIRouter(prefix="/v1/journeys/{journeyId}/migrations", tags=["migrations"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MigrationAnswer,
    responses={
        200: {"description": "A dry run: what would move, counted now; nothing changed"},
        202: {"description": "The migration started: follow it with GET …/migrations/{migrationId}"},
    },
)
async def start_migration(
    journeyId: str,  # noqa: N803
    body: MigrationCreate,
    uow: Uow,
    res: Resources,
    response: Response,
    principal: Annotated[Principal, Depends(require("journey:enrollment:edit"))],
) -> MigrationAnswer:
    """Move the journey's ACTIVE enrollments of `fromVersion` onto `toVersion`: each one whose current node
    `nodeMap` names continues at the node it maps to, keeping its context, visits, goal deadline and (a
    WAIT mapped to a WAIT) its deadline; the others stay where they are. `dryRun: true` answers 200 with
    how many would move from each mapped node and where the others are, and changes nothing; a real run
    answers 202 with the migration, which runs in the background (a Temporal workflow). A version the
    journey has not published, equal versions, or a `nodeMap` entry naming a node that is not in its
    version (or the TRIGGER as a target) is a 422 naming the field."""
    service = MigrationService(uow, res.gateway)
    journey_id = parse_id(journeyId, "journey")
    plan = MigrationPlan(body.from_version, body.to_version, dict(body.node_map), body.dry_run)
    if body.dry_run:
        response.status_code = status.HTTP_200_OK
        return MigrationAnswer(
            MigrationDryRunOut.build(await service.dry_run(principal.tenant_id, journey_id, plan))
        )
    row = await service.start(principal.tenant_id, journey_id, plan, subject=principal.subject)
    response.headers["Location"] = f"/v1/journeys/{journey_id}/migrations/{row.id}"
    return MigrationAnswer(MigrationOut.build(row))


@router.get("/{migrationId}", response_model=MigrationOut)
async def get_migration(
    journeyId: str,  # noqa: N803
    migrationId: str,  # noqa: N803
    uow: Uow,
    res: Resources,
    principal: Annotated[Principal, Depends(require("journey:enrollment:view"))],
) -> MigrationOut:
    """One migration: `status` RUNNING, COMPLETED or FAILED (with `error`), and how many enrollments it
    `moved`, `skipped` (their node is not mapped, they ended, or they are on another version) and `failed`
    (they did not answer) so far."""
    row = await MigrationService(uow, res.gateway).get(
        principal.tenant_id, parse_id(journeyId, "journey"), parse_id(migrationId, "migration")
    )
    return MigrationOut.build(row)
