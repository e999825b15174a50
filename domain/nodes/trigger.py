"""TRIGGER: where an enrollment enters; it passes straight through to its `next` step.

How customers reach it (an event, a segment, by hand, on a schedule) is the entry service's business; the
interpreter only opens and closes its step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from domain.nodes.base import NodeBase, NodeKind, Run
from domain.rules import Rule
from domain.wire import WireModel

TriggerType = Literal["EVENT", "AUDIENCE", "MANUAL", "SCHEDULE"]


class TriggerConfig(WireModel):
    trigger_type: TriggerType = "MANUAL"
    event: str | None = None
    rules: list[Rule] = Field(default_factory=list)
    segment_id: str | None = None
    cron: str | None = None

    @model_validator(mode="after")
    def _required_per_type(self) -> TriggerConfig:
        if self.trigger_type == "EVENT" and not self.event:
            raise ValueError("an EVENT trigger needs `event`")
        if self.trigger_type == "AUDIENCE" and not self.segment_id:
            raise ValueError("an AUDIENCE trigger needs `segmentId`")
        if self.trigger_type == "SCHEDULE" and not self.cron:
            raise ValueError("a SCHEDULE trigger needs `cron`")
        return self


class TriggerNode(NodeBase):
    type: Literal["TRIGGER"]
    config: TriggerConfig = Field(default_factory=TriggerConfig)


class TriggerKind(NodeKind[TriggerNode]):
    node_class = TriggerNode

    def enter(self, node: TriggerNode, run: Run, now: datetime) -> str | None:
        run.close(now, status="COMPLETED")
        return "next"


TRIGGER = TriggerKind()
