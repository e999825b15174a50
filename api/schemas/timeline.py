"""An enrollment's timeline: entries of five kinds, in time order."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from api.schemas.common import ApiModel
from domain.rules import StepDecision

if TYPE_CHECKING:
    from services.timeline import Timeline, TimelineEntry


class TimelineStepOut(ApiModel):
    kind: Literal["step"] = "step"
    at: datetime = Field(description="When the step was entered")
    node_id: str
    name: str
    type: str
    visit: int
    status: str
    branch: str | None
    detail: str | None
    completed_at: datetime | None
    decision: StepDecision | None = Field(
        default=None,
        description="How a CONDITION, SPLIT or GOAL_CHECK step decided (each rule's field, operator, "
        "expected and actual value and result; the bucket and weights; the goal); emails and phone "
        "numbers masked. Null for other steps and for steps recorded before decisions were kept",
    )


class TimelineEventOut(ApiModel):
    kind: Literal["event"] = "event"
    at: datetime = Field(description="When the event was received")
    id: str = Field(description="The event's messageId")
    name: str
    type: str
    entry: bool = Field(description="The event that entered the customer into the journey")


class TimelineMessageOut(ApiModel):
    kind: Literal["message"] = "message"
    at: datetime = Field(description="When the send was attempted")
    id: uuid.UUID
    node_id: str | None
    channel: str
    status: str
    reason: str | None
    error: str | None
    provider_message_id: str | None
    sent_at: datetime | None


class TimelineActionOut(ApiModel):
    kind: Literal["action"] = "action"
    at: datetime
    method: str
    path: str
    status_code: int
    subject: str = Field(description="Who (the token's subject)")
    request_id: str
    action: str | None = Field(
        default=None,
        description="An enrollment action's name (skipWait, setWait, moveTo, exit, pause, resume)",
    )
    reason: str | None = Field(default=None, description="Why, as the operator said it")
    until: datetime | None = Field(default=None, description="setWait: the new deadline")
    node_id: str | None = Field(default=None, description="moveTo: the node it continued from")


class TimelineWaitOut(ApiModel):
    kind: Literal["wait"] = "wait"
    at: datetime = Field(description="When the step began to wait")
    node_id: str
    awaiting: str = Field(description="time, event, quiet_hours, window (a held SEND), hold")
    waiting_until: datetime = Field(description="The computed deadline")
    zone: str | None = Field(description="The zone a local time or a hold was read in; null for a duration")
    ended_at: datetime | None


TimelineEntryOut = Annotated[
    TimelineStepOut | TimelineEventOut | TimelineMessageOut | TimelineActionOut | TimelineWaitOut,
    Field(discriminator="kind"),
]
_MODELS: dict[str, type[ApiModel]] = {
    "step": TimelineStepOut,
    "event": TimelineEventOut,
    "message": TimelineMessageOut,
    "action": TimelineActionOut,
    "wait": TimelineWaitOut,
}


class TimelineOut(ApiModel):
    data: list[TimelineEntryOut] = Field(description="In time order")

    @classmethod
    def build(cls, timeline: Timeline) -> TimelineOut:
        return cls(data=[_entry(entry) for entry in timeline.entries])


def _entry(entry: TimelineEntry) -> ApiModel:
    values = {"at": entry.at, **entry.fields}
    if entry.kind == "step":
        values["decision"] = entry.decision
    return _MODELS[entry.kind].model_validate(values)
