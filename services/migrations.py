"""Moving a journey's in-flight enrollments from one published version to another (migrations).

A dry run counts, from the projection, the ACTIVE enrollments of `fromVersion` at each node: those whose
node the map names move, the others would stay. A real run records the migration (RUNNING) and, once that
is committed, starts a `MigrationWorkflow` (workflows.migration) that pages through those enrollments and
sends each the `migrate` Update (domain.actions.VersionMove); each enrollment judges the move itself, so
an unmapped or ended one refuses it and stays as it is. Progress is written to the migration's row.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain.actions import target_problem
from domain.definition import JourneyDefinition
from domain.errors import DependencyUnavailableError, FieldIssue, InvalidInputError, NotFoundError
from domain.payloads import MIGRATION_WORKFLOW, MigrationInput
from services.journeys import JourneyService
from services.temporal import EnrollmentGateway
from services.uow import UnitOfWork
from store.repositories.journeys import JourneyRepository
from store.repositories.migrations import MigrationRepository
from store.rows import MigrationRow

# Enrollments per page of a migration (one listing and one round of Updates each).
PAGE_SIZE = 200

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MigrationPlan:
    from_version: int
    to_version: int
    node_map: dict[str, str]
    dry_run: bool = False


@dataclass(frozen=True)
class NodeMove:
    from_node_id: str
    to_node_id: str
    count: int


@dataclass(frozen=True)
class UnmappedNode:
    node_id: str | None  # None: entered, not at a node yet
    count: int


@dataclass(frozen=True)
class DryRun:
    from_version: int
    to_version: int
    moves: list[NodeMove]
    unmapped: list[UnmappedNode]


def migration_workflow_id(tenant_id: str, migration_id: uuid.UUID | str) -> str:
    return f"migration:{tenant_id}:{migration_id}"


class MigrationLauncher:
    """Starts a migration's workflow on the worker's task queue (idempotent: its id is the migration's)."""

    def __init__(self, gateway: EnrollmentGateway) -> None:
        self._gateway = gateway

    async def start(self, payload: MigrationInput) -> None:
        client = await self._gateway.connection.client()
        try:
            await client.start_workflow(
                MIGRATION_WORKFLOW,
                payload,
                id=migration_workflow_id(payload.tenant_id, payload.migration_id),
                task_queue=self._gateway.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                static_summary=(
                    f"migrate journey {payload.journey_id} v{payload.from_version} → v{payload.to_version}"
                ),
            )
        except WorkflowAlreadyStartedError:
            return
        except RPCError as exc:
            raise DependencyUnavailableError("temporal", f"could not start the migration: {exc}") from exc


class MigrationService:
    def __init__(self, uow: UnitOfWork, gateway: EnrollmentGateway) -> None:
        self._uow = uow
        self._gateway = gateway
        self._journeys = JourneyService(uow)
        self._versions = JourneyRepository(uow.session)
        self._migrations = MigrationRepository(uow.session)

    async def dry_run(self, tenant_id: str, journey_id: uuid.UUID, plan: MigrationPlan) -> DryRun:
        """What a real run would move now, from the projection; changes nothing."""
        await self._checked(tenant_id, journey_id, plan)
        at_nodes = await self._migrations.active_by_node(tenant_id, journey_id, plan.from_version)
        moves = [
            NodeMove(from_node, to_node, at_nodes.get(from_node, 0))
            for from_node, to_node in sorted(plan.node_map.items())
        ]
        unmapped = [
            UnmappedNode(node_id, count)
            for node_id, count in sorted(at_nodes.items(), key=lambda item: (item[0] is None, item[0] or ""))
            if node_id is None or node_id not in plan.node_map
        ]
        return DryRun(plan.from_version, plan.to_version, moves, unmapped)

    async def start(
        self, tenant_id: str, journey_id: uuid.UUID, plan: MigrationPlan, *, subject: str
    ) -> MigrationRow:
        """Record the migration (RUNNING) and start its workflow once that is committed."""
        await self._checked(tenant_id, journey_id, plan)
        row = MigrationRow(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            journey_id=journey_id,
            from_version=plan.from_version,
            to_version=plan.to_version,
            node_map=dict(plan.node_map),
            status="RUNNING",
            moved=0,
            skipped=0,
            failed=0,
            subject=subject,
            error=None,
            created_at=datetime.now(UTC),
            completed_at=None,
        )
        await self._migrations.add(row)
        payload = MigrationInput(
            tenant_id=tenant_id,
            journey_id=str(journey_id),
            migration_id=str(row.id),
            from_version=plan.from_version,
            to_version=plan.to_version,
            node_map=dict(plan.node_map),
            page_size=PAGE_SIZE,
        )
        launcher, migrations, session = MigrationLauncher(self._gateway), self._migrations, self._uow.session

        async def launch() -> None:
            try:
                await launcher.start(payload)
            except DependencyUnavailableError as exc:
                # Nothing will run it: say so on the row rather than leave it RUNNING (the 503 follows).
                await migrations.finish(
                    tenant_id, row.id, status="FAILED", moved=0, skipped=0, failed=0, error=exc.detail
                )
                await session.commit()
                raise
            logger.info(
                "migration %s of journey %s started: v%d -> v%d",
                payload.migration_id,
                payload.journey_id,
                payload.from_version,
                payload.to_version,
                extra={"tenant_id": tenant_id, "journey_id": payload.journey_id},
            )

        self._uow.after_commit(launch)
        return row

    async def get(self, tenant_id: str, journey_id: uuid.UUID, migration_id: uuid.UUID) -> MigrationRow:
        await self._journeys.get(tenant_id, journey_id)
        row = await self._migrations.get(tenant_id, journey_id, migration_id)
        if row is None:
            raise NotFoundError("migration", str(migration_id))
        return row

    async def _checked(self, tenant_id: str, journey_id: uuid.UUID, plan: MigrationPlan) -> None:
        """404 for a journey the tenant does not have; 422 naming each field at fault."""
        await self._journeys.get(tenant_id, journey_id)
        issues: list[FieldIssue] = []
        source = await self._definition(journey_id, plan.from_version, "fromVersion", issues)
        target = await self._definition(journey_id, plan.to_version, "toVersion", issues)
        if plan.from_version == plan.to_version:
            issues.append(FieldIssue(("toVersion",), "toVersion must differ from fromVersion"))
        if not plan.node_map and not plan.dry_run:
            issues.append(
                FieldIssue(
                    ("nodeMap",), "map at least one node of fromVersion: with none, nothing would move"
                )
            )
        for from_node, to_node in plan.node_map.items():
            at = ("nodeMap", from_node)
            if source is not None and not any(node.id == from_node for node in source.nodes):
                issues.append(FieldIssue(at, f"{from_node!r} is not a node of version {plan.from_version}"))
            elif target is not None:
                problem = target_problem(target, to_node)
                if problem is not None:
                    issues.append(FieldIssue(at, f"version {plan.to_version}: {problem}"))
        if issues:
            raise InvalidInputError(issues)

    async def _definition(
        self, journey_id: uuid.UUID, version: int, field: str, issues: list[FieldIssue]
    ) -> JourneyDefinition | None:
        row = await self._versions.get_version(journey_id, version)
        if row is None:
            issues.append(FieldIssue((field,), f"the journey has no published version {version}"))
            return None
        return JourneyDefinition.model_validate(row.definition)
