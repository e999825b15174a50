"""Migrations: moving a journey's in-flight enrollments from one version to another."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, RootModel

from api.schemas.common import ApiModel
from domain.definition import MAX_NODES

if TYPE_CHECKING:
    from services.migrations import DryRun
    from store.rows import MigrationRow

_MIGRATION_EXAMPLE: dict[str, Any] = {
    "id": "5b0e8a52-3c1f-4e0a-9a43-1f2d3c4b5a69",
    "journeyId": "0c6f3a8e-7d2b-4f4e-8f51-6a1b2c3d4e5f",
    "status": "RUNNING",
    "fromVersion": 1,
    "toVersion": 2,
    "nodeMap": {"wait-a-day": "wait-a-day", "reminder": "reminder-v2"},
    "moved": 0,
    "skipped": 0,
    "failed": 0,
    "subject": "ops@example.com",
    "error": None,
    "createdAt": "2026-03-02T09:00:00Z",
    "completedAt": None,
}
_DRY_RUN_EXAMPLE: dict[str, Any] = {
    "fromVersion": 1,
    "toVersion": 2,
    "dryRun": True,
    "moves": [
        {"fromNodeId": "reminder", "toNodeId": "reminder-v2", "count": 0},
        {"fromNodeId": "wait-a-day", "toNodeId": "wait-a-day", "count": 1250},
    ],
    "unmapped": [{"nodeId": "wait-for-order", "count": 37}],
}


class MigrationCreate(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fromVersion": 1,
                    "toVersion": 2,
                    "nodeMap": {"wait-a-day": "wait-a-day", "reminder": "reminder-v2"},
                    "dryRun": True,
                }
            ]
        }
    )

    from_version: int = Field(ge=1, le=2**31 - 1, description="The version the enrollments are on")
    to_version: int = Field(ge=1, le=2**31 - 1, description="The published version they move to")
    node_map: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_NODES,
        description="oldNodeId → newNodeId: an enrollment at a mapped node of fromVersion continues at "
        "the node it maps to; one at an unmapped node stays where it is",
    )
    dry_run: bool = Field(default=False, description="Count what would move (200), change nothing")


class NodeMoveOut(ApiModel):
    from_node_id: str
    to_node_id: str
    count: int = Field(description="ACTIVE enrollments of fromVersion at fromNodeId now")


class UnmappedNodeOut(ApiModel):
    node_id: str | None = Field(description="A node no entry of nodeMap names; null: not at a node yet")
    count: int


class MigrationDryRunOut(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_DRY_RUN_EXAMPLE]})

    from_version: int
    to_version: int
    dry_run: Literal[True] = True
    moves: list[NodeMoveOut] = Field(description="Each entry of nodeMap and how many it would move")
    unmapped: list[UnmappedNodeOut] = Field(description="Where the enrollments that would stay are")

    @classmethod
    def build(cls, dry_run: DryRun) -> MigrationDryRunOut:
        return cls(
            from_version=dry_run.from_version,
            to_version=dry_run.to_version,
            moves=[
                NodeMoveOut(from_node_id=m.from_node_id, to_node_id=m.to_node_id, count=m.count)
                for m in dry_run.moves
            ],
            unmapped=[UnmappedNodeOut(node_id=u.node_id, count=u.count) for u in dry_run.unmapped],
        )


class MigrationOut(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_MIGRATION_EXAMPLE]})

    id: uuid.UUID
    journey_id: uuid.UUID
    status: Literal["RUNNING", "COMPLETED", "FAILED"]
    from_version: int
    to_version: int
    node_map: dict[str, str]
    moved: int = Field(description="Enrollments moved to toVersion so far")
    skipped: int = Field(description="Enrollments that stayed: unmapped node, ended, or on another version")
    failed: int = Field(description="Enrollments that did not answer (they stay where they were)")
    subject: str = Field(description="Who started it (the token's subject)")
    error: str | None = Field(description="Why it FAILED")
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def build(cls, row: MigrationRow) -> MigrationOut:
        return cls(
            id=row.id,
            journey_id=row.journey_id,
            status=row.status,
            from_version=row.from_version,
            to_version=row.to_version,
            node_map=row.node_map,
            moved=row.moved,
            skipped=row.skipped,
            failed=row.failed,
            subject=row.subject,
            error=row.error,
            created_at=row.created_at,
            completed_at=row.completed_at,
        )


class MigrationAnswer(RootModel[MigrationDryRunOut | MigrationOut]):
    """A dry run's counts (200), or the migration just started (202)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DRY_RUN_EXAMPLE]})
