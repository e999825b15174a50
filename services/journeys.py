"""Journey authoring, lifecycle and versions (SPEC §4 journey rows, §5, §6).

A journey row holds the *draft* definition; publishing freezes it as an immutable version.
Edits to a published journey change the draft, and the next publish makes version N+1.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.definition import JourneyDefinition, SendNode
from domain.errors import ConflictError, FieldIssue, InvalidInputError, NotFoundError
from domain.lifecycle import (
    ALLOWED_FROM,
    LOCKED_WHILE_LIVE,
    RESULTING_STATUS,
    LifecycleAction,
    PauseMode,
    allowed_actions,
    is_live,
)
from domain.validation import validate_for_publish
from services.engine_control import EnrollmentControl, instruction_for
from services.schedules import schedule_issues, sync_journey_schedule
from services.uow import UnitOfWork
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.exit_segments import ExitSegmentRepository
from store.repositories.journeys import JourneyRepository
from store.repositories.pagination import Page, PageRequest
from store.repositories.subscriptions import SubscriptionGroupRepository
from store.rows import JourneyRow, JourneyVersionRow

# Metadata a PATCH may change; definition parts (settings, goal, exit criteria) go to the draft.
METADATA_FIELDS = frozenset({"name", "description", "site_id"})
DEFINITION_FIELDS = frozenset({"settings", "goal", "exit_criteria"})

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewJourney:
    name: str
    description: str | None
    site_id: str | None
    definition: JourneyDefinition


@dataclass(frozen=True)
class JourneyTotals:
    enrolled: int
    active: int
    completed: int
    exited: int
    failed: int
    converted: int

    @classmethod
    def none(cls) -> JourneyTotals:
        """A journey nobody entered yet (one just created)."""
        return cls(0, 0, 0, 0, 0, 0)


@dataclass(frozen=True)
class Journey:
    """A journey row and its draft, parsed once, with what publishing that draft would answer.

    The authoring and lifecycle use cases return it, so the answer to a request neither reads nor
    parses the draft again. `problems` are the items a publish would answer in its 422, in order
    (empty: the draft passes every check publish makes; its status may still refuse a publish).
    """

    row: JourneyRow
    draft: JourneyDefinition
    problems: list[FieldIssue]

    @property
    def publishable(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class DestinationChange:
    node_id: str
    action_target_id: str | None
    template_id: str | None


def _totals(counts: dict[str, int]) -> JourneyTotals:
    by_status = {k: v for k, v in counts.items() if k != "CONVERTED"}
    return JourneyTotals(
        enrolled=sum(by_status.values()),
        active=by_status.get("ACTIVE", 0),
        completed=by_status.get("COMPLETED", 0),
        exited=by_status.get("EXITED", 0),
        failed=by_status.get("FAILED", 0),
        converted=counts.get("CONVERTED", 0),
    )


def definition_of(row: JourneyRow) -> JourneyDefinition:
    return JourneyDefinition.model_validate(row.draft)


def _trigger_type(definition: JourneyDefinition) -> str | None:
    try:
        return definition.trigger().config.trigger_type
    except KeyError:
        return None


def _canonical_uuid(text: str) -> str:
    """`text` as a UUID's canonical spelling, or "" when it is not one."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return ""


def _require_transition(row: JourneyRow, action: LifecycleAction) -> None:
    if row.status not in ALLOWED_FROM[action]:
        allowed = ", ".join(allowed_actions(row.status)) or "none"
        raise ConflictError(
            f"cannot {action} a journey in status {row.status}; allowed from {row.status}: {allowed}"
        )


class JourneyService:
    def __init__(self, uow: UnitOfWork, control: EnrollmentControl | None = None) -> None:
        self._uow = uow
        self._control = control
        self._journeys = JourneyRepository(uow.session)
        self._enrollments = EnrollmentRepository(uow.session)

    # ---- reading ------------------------------------------------------------------------------

    async def get(
        self, tenant_id: str, journey_id: uuid.UUID, *, for_update: bool = False, for_share: bool = False
    ) -> JourneyRow:
        """`for_share` is what an entry takes: a lifecycle change (FOR UPDATE) waits for it to commit."""
        row = await self._journeys.get(tenant_id, journey_id, for_update=for_update, for_share=for_share)
        if row is None:
            raise NotFoundError("journey", str(journey_id))
        return row

    async def load(self, tenant_id: str, journey_id: uuid.UUID) -> Journey:
        """The journey with its draft parsed and judged (what a single-journey answer shows)."""
        return await self.judged(tenant_id, await self.get(tenant_id, journey_id))

    async def judged(
        self, tenant_id: str, row: JourneyRow, draft: JourneyDefinition | None = None
    ) -> Journey:
        """`row` with its draft (parsed here unless given) and the problems publishing it would meet."""
        draft = definition_of(row) if draft is None else draft
        return Journey(row, draft, await self.publish_problems(tenant_id, draft))

    async def publish_problems(self, tenant_id: str, draft: JourneyDefinition) -> list[FieldIssue]:
        """What publishing `draft` would answer in its 422, item for item: the graph rules
        (`domain.validation`), else what keeps a SCHEDULE trigger from running and the exit segments
        that are not the tenant's — publish checks them in that order and answers with the first kind
        that fails."""
        return validate_for_publish(draft) or (
            await schedule_issues(self._uow, tenant_id, draft)
            + await self._exit_segment_issues(tenant_id, draft)
            + await self._subscription_group_issues(tenant_id, draft)
        )

    async def _subscription_group_issues(self, tenant_id: str, draft: JourneyDefinition) -> list[FieldIssue]:
        """Each SEND's `config.subscriptionGroupId` that is not a group of the tenant, or is a group of
        another channel (none when no SEND names a group)."""
        named = [
            (index, node)
            for index, node in enumerate(draft.nodes)
            if isinstance(node, SendNode) and node.config.subscription_group_id is not None
        ]
        if not named:
            return []
        groups = {
            str(row.id): row for row in await SubscriptionGroupRepository(self._uow.session).all(tenant_id)
        }
        issues: list[FieldIssue] = []
        for index, node in named:
            group_id = node.config.subscription_group_id
            group = groups.get(_canonical_uuid(group_id or ""))
            at = ("nodes", index, "config", "subscriptionGroupId")
            if group is None:
                issues.append(FieldIssue(at, f"unknown subscription group {group_id!r}"))
            elif group.channel != node.config.channel:
                issues.append(
                    FieldIssue(
                        at,
                        f"subscription group {group_id!r} is a {group.channel} group; "
                        f"this SEND is {node.config.channel}",
                    )
                )
        return issues

    async def _exit_segment_issues(self, tenant_id: str, draft: JourneyDefinition) -> list[FieldIssue]:
        """Each `exitCriteria.segments[i]` that is not a segment of the tenant (one query, none when
        the draft names no exit segment)."""
        criteria = draft.exit_criteria
        if criteria is None or not criteria.segments:
            return []
        known = await ExitSegmentRepository(self._uow.session).segment_names(tenant_id, criteria.segments)
        return [
            FieldIssue(("exitCriteria", "segments", index), f"unknown segment {segment_id!r}")
            for index, segment_id in enumerate(criteria.segments)
            if segment_id not in known
        ]

    async def search(
        self,
        tenant_id: str,
        page: PageRequest,
        *,
        status: str | None = None,
        site_id: str | None = None,
        trigger_type: str | None = None,
        text: str | None = None,
    ) -> Page[JourneyRow]:
        return await self._journeys.list(
            tenant_id, page, status=status, site_id=site_id, trigger_type=trigger_type, text=text
        )

    async def totals(self, tenant_id: str, journey_id: uuid.UUID) -> JourneyTotals:
        return (await self.totals_of(tenant_id, [journey_id]))[journey_id]

    async def totals_of(
        self, tenant_id: str, journey_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, JourneyTotals]:
        """Every listed journey's enrollment totals in one query (a list page shows them all)."""
        by_journey = await self._enrollments.counts_by_status_many(tenant_id, journey_ids)
        return {journey_id: _totals(counts) for journey_id, counts in by_journey.items()}

    async def live_version(self, row: JourneyRow) -> JourneyVersionRow:
        version = await self._journeys.get_version(row.id, row.version)
        if version is None:
            raise ConflictError(f"journey {row.id} has no published version")
        return version

    async def versions(
        self, tenant_id: str, journey_id: uuid.UUID, page: PageRequest
    ) -> Page[JourneyVersionRow]:
        await self.get(tenant_id, journey_id)
        return await self._journeys.list_versions(tenant_id, journey_id, page)

    async def version(self, tenant_id: str, journey_id: uuid.UUID, number: int) -> JourneyVersionRow:
        await self.get(tenant_id, journey_id)
        row = await self._journeys.get_version(journey_id, number)
        if row is None:
            raise NotFoundError("version", f"{journey_id}/v{number}")
        return row

    async def enrollment_definition(
        self, tenant_id: str, journey_id: uuid.UUID, number: int
    ) -> JourneyDefinition:
        """The definition an enrollment of version `number` reads: the stored version, or for 0 (a test run
        of the draft, which carries its definition in its workflow input) the draft as it is now."""
        if number == 0:
            row = await self.get(tenant_id, journey_id)
            return JourneyDefinition.model_validate(row.draft)
        version = await self.version(tenant_id, journey_id, number)
        return JourneyDefinition.model_validate(version.definition)

    async def has_draft_changes(self, row: JourneyRow) -> bool:
        if row.version == 0:
            return True
        published = await self._journeys.get_version(row.id, row.version)
        if published is None:
            return True
        if published.definition == row.draft:
            return False
        # Compared as models: a field added to the definition since the version was frozen (stored
        # with its default in a draft saved later) is not a change.
        return JourneyDefinition.model_validate(published.definition) != definition_of(row)

    # ---- authoring ----------------------------------------------------------------------------

    async def create(self, tenant_id: str, new: NewJourney) -> Journey:
        _check_size(new.definition)
        now = datetime.now(UTC)
        row = JourneyRow(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            name=new.name,
            description=new.description,
            site_id=new.site_id,
            status="DRAFT",
            trigger_type=_trigger_type(new.definition),
            draft=new.definition.model_dump(mode="json"),
            version=0,
            status_changed_at=now,
            created_at=now,
            updated_at=now,
        )
        await self._journeys.add(row)
        return await self.judged(tenant_id, row, new.definition)

    async def update(self, tenant_id: str, journey_id: uuid.UUID, changes: dict[str, Any]) -> Journey:
        """Partial update. Metadata applies at once; settings, goal and exit criteria go to the draft."""
        row = await self.get(tenant_id, journey_id, for_update=True)
        self._require_editable(row)
        locked = sorted(LOCKED_WHILE_LIVE & changes.keys()) if is_live(row.status) else []
        if locked:
            raise ConflictError(
                f"{', '.join(locked)} cannot change while the journey is {row.status}; unpublish it first"
            )
        for field in METADATA_FIELDS & changes.keys():
            setattr(row, field, changes[field])
        draft = definition_of(row)
        definition_changes = {k: v for k, v in changes.items() if k in DEFINITION_FIELDS}
        if definition_changes:
            draft = draft.model_copy(update=definition_changes)
            self._store_draft(row, draft)
        row.updated_at = datetime.now(UTC)
        await self._uow.session.flush()
        return await self.judged(tenant_id, row, draft)

    async def edit_draft(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        edit: Callable[[JourneyDefinition], JourneyDefinition],
    ) -> Journey:
        """Apply a pure edit (canvas replace, a step operation) to the draft, in this transaction;
        the journey as saved (the draft is parsed once, and judged once)."""
        row = await self.get(tenant_id, journey_id, for_update=True)
        self._require_editable(row)
        draft = edit(definition_of(row))
        self._store_draft(row, draft)
        row.updated_at = datetime.now(UTC)
        await self._uow.session.flush()
        return await self.judged(tenant_id, row, draft)

    async def delete(self, tenant_id: str, journey_id: uuid.UUID) -> Journey | None:
        """A never-published draft is deleted (None); anything else is archived, never lost. A draft with a
        test run still going is not deleted under it (409): its workflow would write to a journey gone."""
        row = await self.get(tenant_id, journey_id, for_update=True)
        if row.version == 0 and row.status == "DRAFT":
            if await self._enrollments.count_active(tenant_id, journey_id) > 0:
                raise ConflictError(
                    f"journey {journey_id} has test runs still going; stop them first (DELETE …/tests/{{id}})"
                )
            await self._journeys.delete(row)
            return None
        if row.status == "ARCHIVED":
            return await self.judged(tenant_id, row)
        return await self.transition(tenant_id, journey_id, "archive")

    async def update_destinations(
        self, tenant_id: str, journey_id: uuid.UUID, changes: list[DestinationChange]
    ) -> Journey:
        """Re-point SEND nodes of the live version (and the draft) without a new version."""
        row = await self.get(tenant_id, journey_id, for_update=True)
        if not is_live(row.status):
            raise ConflictError(f"destinations are changed on a live journey; this one is {row.status}")
        live = await self.live_version(row)
        live_definition = JourneyDefinition.model_validate(live.definition)
        sends = {n.id for n in live_definition.nodes if isinstance(n, SendNode)}
        issues = [
            FieldIssue(
                ("destinations", i, "nodeId"), f"{c.node_id!r} is not a SEND node of version {row.version}"
            )
            for i, c in enumerate(changes)
            if c.node_id not in sends
        ]
        if issues:
            raise InvalidInputError(issues)
        live.definition = _repoint(live_definition, changes).model_dump(mode="json")
        draft = definition_of(row)
        draft_sends = {n.id for n in draft.nodes if isinstance(n, SendNode)}
        draft = _repoint(draft, [c for c in changes if c.node_id in draft_sends])
        self._store_draft(row, draft)
        row.updated_at = datetime.now(UTC)
        await self._uow.session.flush()
        return await self.judged(tenant_id, row, draft)

    # ---- lifecycle ----------------------------------------------------------------------------

    async def publish(self, tenant_id: str, journey_id: uuid.UUID) -> Journey:
        """Freeze the draft as the next immutable version; new entries take it from now on.

        Publishing an unchanged published journey is a no-op, so a retried publish is safe.
        """
        row = await self.get(tenant_id, journey_id, for_update=True)
        _require_transition(row, "publish")
        definition = definition_of(row)
        issues = validate_for_publish(definition)
        if issues:
            raise InvalidInputError(issues, detail="the journey graph is not publishable")
        exit_issues = await self._exit_segment_issues(tenant_id, definition)
        group_issues = await self._subscription_group_issues(tenant_id, definition)
        if exit_issues or group_issues:
            # With the SCHEDULE trigger's, if any: the same items, in the order `problems` lists them.
            what = [
                *(["its exit criteria name segments it does not have"] if exit_issues else []),
                *(["its SENDs name subscription groups it does not have"] if group_issues else []),
            ]
            raise InvalidInputError(
                await schedule_issues(self._uow, tenant_id, definition) + exit_issues + group_issues,
                detail="the journey's " + " and ".join(what).removeprefix("its "),
            )
        if row.status == "PUBLISHED" and not await self.has_draft_changes(row):
            await self._sync_schedule(tenant_id, row, live=definition)
            return Journey(row, definition, [])
        now = datetime.now(UTC)
        previous_version = row.version
        row.version += 1
        await self._journeys.add_version(
            JourneyVersionRow(
                journey_id=row.id,
                version=row.version,
                tenant_id=tenant_id,
                definition=definition.model_dump(mode="json"),
                published_at=now,
            )
        )
        self._set_status(row, "publish", now)
        row.published_at = now
        await self._uow.session.flush()
        await self._sync_schedule(tenant_id, row, previous_version, live=definition)
        return Journey(row, definition, [])  # published: its draft passed every check

    async def transition(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        action: LifecycleAction,
        *,
        pause_mode: PauseMode | None = None,
    ) -> Journey:
        """pause / resume / unpublish / archive / restore (publish has its own use case)."""
        if action == "publish":
            return await self.publish(tenant_id, journey_id)
        row = await self.get(tenant_id, journey_id, for_update=True)
        _require_transition(row, action)
        new_mode: PauseMode | None = (pause_mode or "all") if action == "pause" else None
        if action == "pause" and row.status == "PAUSED" and row.pause_mode == new_mode:
            return await self.judged(tenant_id, row)
        instruction = instruction_for(
            action, previous_status=row.status, previous_mode=row.pause_mode, new_mode=new_mode
        )
        self._set_status(row, action, datetime.now(UTC))
        row.pause_mode = new_mode
        await self._uow.session.flush()
        await self._sync_schedule(tenant_id, row)
        # Entries hold the journey row FOR SHARE, so no entry can slip in between this count and commit.
        reachable = (
            instruction is not None and await self._enrollments.count_active(tenant_id, journey_id) > 0
        )
        if self._control is not None and instruction is not None and reachable:
            control = self._control

            async def reach_enrollments() -> None:
                await control.apply(tenant_id, journey_id, instruction)

            self._uow.after_commit(reach_enrollments)
        return await self.judged(tenant_id, row)

    # ---- helpers ------------------------------------------------------------------------------

    async def _sync_schedule(
        self,
        tenant_id: str,
        row: JourneyRow,
        previous_version: int | None = None,
        *,
        live: JourneyDefinition | None = None,
    ) -> None:
        """SCHEDULE journeys keep a Temporal schedule exactly while PUBLISHED (services.schedules)."""
        await sync_journey_schedule(self._uow, self._control, tenant_id, row, previous_version, live=live)

    @staticmethod
    def _require_editable(row: JourneyRow) -> None:
        if row.status == "ARCHIVED":
            raise ConflictError("an archived journey cannot be edited; restore it first")

    @staticmethod
    def _store_draft(row: JourneyRow, definition: JourneyDefinition) -> None:
        _check_size(definition)
        row.draft = definition.model_dump(mode="json")
        row.trigger_type = _trigger_type(definition)

    def _set_status(self, row: JourneyRow, action: LifecycleAction, now: datetime) -> None:
        previous, row.status = row.status, RESULTING_STATUS[action]
        row.status_changed_at = now
        row.updated_at = now
        tenant_id, journey_id, status, version = row.tenant_id, str(row.id), row.status, row.version

        async def announce() -> None:  # once it is committed: the line never reports a rolled-back change
            logger.info(
                "journey %s: %s -> %s (%s, version %d)",
                journey_id,
                previous,
                status,
                action,
                version,
                extra={"tenant_id": tenant_id, "journey_id": journey_id},
            )

        self._uow.after_commit(announce)


def _repoint(definition: JourneyDefinition, changes: list[DestinationChange]) -> JourneyDefinition:
    by_node = {c.node_id: c for c in changes}
    nodes = []
    for node in definition.nodes:
        change = by_node.get(node.id)
        if isinstance(node, SendNode) and change is not None:
            update: dict[str, Any] = {}
            if change.action_target_id is not None:
                update["action_target_id"] = change.action_target_id
            if change.template_id is not None:
                update["template_id"] = change.template_id
            node = node.model_copy(update={"config": node.config.model_copy(update=update)})
        nodes.append(node)
    return definition.model_copy(update={"nodes": nodes})


def _check_size(definition: JourneyDefinition) -> None:
    issues = definition.size_issues()
    if issues:
        raise InvalidInputError([FieldIssue(("body", *loc), message) for loc, message in issues])
