"""Temporal payloads: one model in and one out for every workflow, activity, signal and query.

Each carries `schema_version` so inputs can evolve while old histories still replay.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from domain.definition import (
    FrequencyCap,
    JourneyDefinition,
    ProfileUpdate,
    QuietHours,
    RateLimit,
    SendConfig,
)
from domain.events import EventRecord
from domain.interpreter import EnrollmentStatus, JourneyState, StepRecord
from domain.wire import WireModel

ENROLLMENT_WORKFLOW = "EnrollmentWorkflow"
JOURNEY_CONTROL_WORKFLOW = "JourneyControlWorkflow"

# Signal names of EnrollmentWorkflow.
SIGNAL_EVENT = "event"
SIGNAL_PAUSE = "pause"
SIGNAL_RESUME = "resume"
SIGNAL_EXIT = "exit"
# A profile update changed traits an enrollment reads from its state (the customer's `timezone`).
SIGNAL_TRAITS = "traits"
# Update names of EnrollmentWorkflow: an operator's action (`domain.actions.EnrollmentAction`) and a
# migration's version move (`domain.actions.VersionMove`); both answer with an `EnrollmentStateView`.
UPDATE_ACTION = "action"
UPDATE_MIGRATE = "migrate"

ControlInstruction = Literal["hold", "release", "exit"]


class EnrollmentInput(WireModel):
    schema_version: int = 1
    tenant_id: str
    journey_id: str
    journey_name: str
    version: int
    customer_id: str
    entry_number: int = 1
    enrollment_id: str
    enrolled_at: datetime
    definition: JourneyDefinition
    trigger_event: EventRecord | None = None
    # Set only when the workflow continues as new, carrying what it had.
    state: JourneyState | None = None
    # A test customer's run (`POST /v1/journeys/{id}/tests`): its projection is kept out of the numbers.
    # `version` 0: the draft, carried whole in `definition`.
    test: bool = False


class EnrollmentResult(WireModel):
    schema_version: int = 1
    status: EnrollmentStatus
    converted: bool
    completed_at: datetime | None
    reason: str | None = None


class EventSignal(WireModel):
    schema_version: int = 1
    event: EventRecord


class TraitsSignal(WireModel):
    """The traits a profile update changed (an identify reaches enrollments as an `EventSignal` instead)."""

    schema_version: int = 1
    traits: dict[str, Any] = Field(default_factory=dict)


class ControlSignal(WireModel):
    schema_version: int = 1
    reason: str | None = None


class EnrollmentSnapshot(WireModel):
    """The enrollment row as the projection writes it."""

    tenant_id: str
    enrollment_id: str
    journey_id: str
    version: int
    customer_id: str
    entry_number: int
    workflow_id: str
    status: EnrollmentStatus
    converted: bool
    current_step_id: str | None
    waiting_until: datetime | None
    enrolled_at: datetime
    completed_at: datetime | None
    exit_reason: str | None = None
    converted_at: datetime | None = None
    # A test enrollment: its steps stay out of the rollups (default: payloads recorded before it).
    test: bool = False


class ProgressBatch(WireModel):
    """Step records and the enrollment row, written together in one transaction."""

    schema_version: int = 1
    enrollment: EnrollmentSnapshot
    steps: list[StepRecord] = Field(default_factory=list)


class SendRequest(WireModel):
    schema_version: int = 1
    tenant_id: str
    journey_id: str
    enrollment_id: str
    customer_id: str
    node_id: str
    visit: int
    idempotency_key: str
    config: SendConfig
    # Pending projection records ride along so a send costs no extra round trip.
    progress: ProgressBatch | None = None
    # The journey's delivery policy (settings.frequencyCaps, quietHours, timezone). Defaults keep payloads
    # recorded before these fields existed readable: no caps, no quiet hours.
    frequency_caps: list[FrequencyCap] = Field(default_factory=list)
    quiet_hours: QuietHours | None = None
    timezone: str | None = None
    # The journey's settings.rateLimit (activities.rate_limits); None: no limit.
    rate_limit: RateLimit | None = None
    # The enrollment context templates render with (`entry`, `event`, `journey`; `domain.context`).
    context: dict[str, Any] = Field(default_factory=dict)
    # The journey version the enrollment runs: the send reads the node's destination (templateId,
    # actionTargetId, re-pointable in place) from it at send time. None (payloads recorded before it
    # existed): the destination in `config`.
    version: int | None = None


class SendResult(WireModel):
    schema_version: int = 1
    outcome: Literal["sent", "suppressed", "failed"]
    message_id: str | None = None
    error: str | None = None


class ProfileReadRequest(WireModel):
    schema_version: int = 1
    tenant_id: str
    customer_id: str
    progress: ProgressBatch | None = None


class ProfileSnapshot(WireModel):
    schema_version: int = 1
    traits: dict[str, Any] = Field(default_factory=dict)
    segments: list[str] = Field(default_factory=list)


class ProfileUpdateRequest(WireModel):
    schema_version: int = 1
    tenant_id: str
    customer_id: str
    idempotency_key: str
    updates: list[ProfileUpdate]
    progress: ProgressBatch | None = None


class ProfileUpdateResult(WireModel):
    schema_version: int = 1
    applied: bool


class EnrollmentStateView(WireModel):
    """What the `state` query answers: the live position of an enrollment."""

    schema_version: int = 1
    enrollment_id: str
    journey_id: str
    version: int
    status: EnrollmentStatus
    current_node_id: str | None
    waiting_until: datetime | None
    converted: bool
    path: list[str]
    paused: bool = False
    awaiting: str | None = None
    goal_deadline: datetime | None = None
    exit_reason: str | None = None


class JourneyControlRequest(WireModel):
    """What an enrollment asks before a wait's end moves it on to another node: does its journey hold?"""

    schema_version: int = 1
    tenant_id: str
    journey_id: str


class JourneyControl(WireModel):
    """The journey's control state as an enrollment reads it (`activities.control.JourneyControlReader`)."""

    schema_version: int = 1
    # Paused with mode `all`: in-flight enrollments hold before their next node until resumed.
    held: bool


class JourneyControlInput(WireModel):
    """Reach every running enrollment of one journey with one instruction."""

    schema_version: int = 1
    tenant_id: str
    journey_id: str
    instruction: ControlInstruction
    page_size: int = Field(default=1000, ge=1, le=5000)
    # How long each activity keeps reading pages before answering with its cursor (0: one page each).
    stream_seconds: float = Field(default=30.0, ge=0, le=90)
    # Where a continued run picks up (continue-as-new keeps a long journey's history short).
    after_enrollment_id: str | None = None
    signalled: int = 0


class SignalBatchRequest(WireModel):
    schema_version: int = 1
    tenant_id: str
    journey_id: str
    instruction: ControlInstruction
    after_enrollment_id: str | None = None
    batch_size: int = 500
    # Keep reading pages (the next while this one is signalled) for up to this long before answering;
    # None: one page, as requests recorded before streaming asked.
    stream_seconds: float | None = None


class SignalBatchResult(WireModel):
    schema_version: int = 1
    signalled: int
    last_enrollment_id: str | None
    # Whether the last page was read (a streaming answer); None in answers recorded before streaming,
    # where a page shorter than the batch said so.
    done: bool | None = None


# ---- migrations: moving a journey's in-flight enrollments to another version ----------------------

MIGRATION_WORKFLOW = "MigrationWorkflow"
# The activities of MigrationWorkflow (activities.migration).
LIST_MIGRATION_PAGE = "list_migration_page"
MOVE_ENROLLMENTS = "move_enrollments"
RECORD_MIGRATION = "record_migration"

MigrationStatus = Literal["RUNNING", "COMPLETED", "FAILED"]


class MigrationCounts(WireModel):
    """A migration's totals: enrollments moved, skipped (the enrollment refused: its node is not mapped,
    it ended, it is on another version) and failed (it did not answer)."""

    moved: int = 0
    skipped: int = 0
    failed: int = 0

    def plus(self, other: MigrationCounts) -> MigrationCounts:
        return MigrationCounts(
            moved=self.moved + other.moved,
            skipped=self.skipped + other.skipped,
            failed=self.failed + other.failed,
        )


class MigrationInput(WireModel):
    """Move every ACTIVE enrollment of `from_version` whose node is mapped onto `to_version`."""

    schema_version: int = 1
    tenant_id: str
    journey_id: str
    migration_id: str
    from_version: int
    to_version: int
    node_map: dict[str, str]
    page_size: int = Field(default=200, ge=1, le=1000)
    # Where a continued run picks up (continue-as-new keeps a long migration's history short).
    after_enrollment_id: str | None = None
    counts: MigrationCounts = Field(default_factory=MigrationCounts)


class MigrationPageRequest(WireModel):
    """The next page of ACTIVE enrollments of the version, by enrollment id after the cursor."""

    schema_version: int = 1
    tenant_id: str
    journey_id: str
    version: int
    after_enrollment_id: str | None = None
    limit: int = 200


class MigrationPage(WireModel):
    """The page's enrollments (their workflow ids), recorded in the workflow's history: a move retried
    after a crash reaches exactly these again, whatever the projection says by then."""

    schema_version: int = 1
    workflow_ids: list[str] = Field(default_factory=list)
    last_enrollment_id: str | None = None


class MoveRequest(WireModel):
    """Send the `migrate` Update to each enrollment of a page; `before`: the totals of earlier pages."""

    schema_version: int = 1
    tenant_id: str
    journey_id: str
    migration_id: str
    from_version: int
    to_version: int
    node_map: dict[str, str]
    workflow_ids: list[str]
    before: MigrationCounts = Field(default_factory=MigrationCounts)


class MoveResult(WireModel):
    """The totals after the page (`before` plus the page's own), as written to the migration's row."""

    schema_version: int = 1
    counts: MigrationCounts


class MigrationRecord(WireModel):
    """A migration's end, written to its row: COMPLETED, or FAILED with why."""

    schema_version: int = 1
    tenant_id: str
    migration_id: str
    status: MigrationStatus
    counts: MigrationCounts
    error: str | None = None
