"""Per-enrollment actions: the request (one of six) and the enrollment's state after it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from api.schemas.common import ApiModel
from domain.actions import MAX_REASON, ActionName, EnrollmentAction

if TYPE_CHECKING:
    from domain.payloads import EnrollmentStateView


class EnrollmentActionIn(ApiModel):
    action: ActionName = Field(
        description="skipWait: the current WAIT / WAIT_FOR_EVENT / quiet-hours or window hold ends now (a "
        "WAIT_FOR_EVENT takes its timeout branch); setWait: move the current wait's deadline to `until`; "
        "moveTo: continue from `nodeId` (the open step is left as SKIPPED); exit; pause; resume"
    )
    until: datetime | None = Field(
        default=None, description="setWait: the new deadline, ISO 8601 with a zone (a past time ends it now)"
    )
    node_id: str | None = Field(
        default=None, max_length=64, description="moveTo: a node of the enrollment's version"
    )
    reason: str | None = Field(
        default=None, max_length=MAX_REASON, description="Why: kept in the audit log and the timeline"
    )

    @model_validator(mode="after")
    def _fields_of_the_action(self) -> EnrollmentActionIn:
        if self.action == "setWait" and self.until is None:
            raise ValueError("setWait needs `until`")
        if self.action == "moveTo" and self.node_id is None:
            raise ValueError("moveTo needs `nodeId`")
        return self

    def command(self, actor: str) -> EnrollmentAction:
        return EnrollmentAction(
            action=self.action, until=self.until, node_id=self.node_id, reason=self.reason, actor=actor
        )

    def audit_detail(self) -> dict[str, str]:
        """What the audit log keeps of the request (the path names the enrollment)."""
        detail: dict[str, str] = {"action": self.action}
        if self.until is not None:
            detail["until"] = self.until.isoformat()
        if self.node_id is not None:
            detail["nodeId"] = self.node_id
        if self.reason is not None:
            detail["reason"] = self.reason
        return detail


class EnrollmentStateOut(ApiModel):
    """The running enrollment as its workflow answers right after the action."""

    enrollment_id: str
    journey_id: str
    version: int
    status: Literal["ACTIVE", "COMPLETED", "EXITED", "FAILED"]
    current_step_id: str | None
    waiting_until: datetime | None
    awaiting: str | None = Field(
        description="What the current step waits on: time, event, quiet_hours, window, send, profile, "
        "update, resume (paused)"
    )
    paused: bool
    converted: bool
    path: list[str]
    exit_reason: str | None

    @classmethod
    def of(cls, view: EnrollmentStateView) -> EnrollmentStateOut:
        return cls(
            enrollment_id=view.enrollment_id,
            journey_id=view.journey_id,
            version=view.version,
            status=view.status,
            current_step_id=view.current_node_id,
            waiting_until=view.waiting_until,
            awaiting=view.awaiting,
            paused=view.paused,
            converted=view.converted,
            path=view.path,
            exit_reason=view.exit_reason,
        )
