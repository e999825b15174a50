"""TRIGGER: where an enrollment enters; it passes straight through to its `next` step.

How customers reach it (an event, a segment, by hand, on a schedule) is the entry service's business; the
interpreter only opens and closes its step. An EVENT trigger may name `entryKey`, a dotted path into the
entry event (`properties.cartId`): each distinct key value of a customer is then its own enrollment
(`domain.entry_keys` reads the key; a publish problem on any other trigger type).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from domain.nodes.base import Loc, NodeBase, NodeKind, Run
from domain.rules import Rule
from domain.wire import WireModel

TriggerType = Literal["EVENT", "AUDIENCE", "MANUAL", "SCHEDULE"]


class TriggerConfig(WireModel):
    trigger_type: TriggerType = "MANUAL"
    event: str | None = None
    rules: list[Rule] = Field(default_factory=list)
    segment_id: str | None = None
    cron: str | None = None
    entry_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[^.]+(\.[^.]+)*$",
        description="EVENT only: a dotted path into the entry event (e.g. `properties.cartId`); each "
        "distinct value is its own enrollment of the customer",
    )

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

    def issues(self, node: TriggerNode) -> list[tuple[Loc, str]]:
        config = node.config
        if config.entry_key is not None and config.trigger_type != "EVENT":
            message = f"only an EVENT trigger may name an entryKey (this one is {config.trigger_type})"
            return [(("config", "entryKey"), message)]
        return []

    def enter(self, node: TriggerNode, run: Run, now: datetime) -> str | None:
        run.close(now, status="COMPLETED")
        return "next"


TRIGGER = TriggerKind()
