"""WAIT_FOR_EVENT: `matched` on the first matching event since entry, `timeout` when the time is up.

Events that arrived earlier in the enrollment are buffered by the interpreter, so an event that came
before the node was reached is not lost: entering takes the first buffered match at once. A loop may run
through a WAIT_FOR_EVENT.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from domain.durations import parse_duration
from domain.nodes.base import NodeBase, NodeKind, Run, check_duration
from domain.rules import Rule
from domain.wire import WireModel

if TYPE_CHECKING:
    from domain.events import EventRecord
    from domain.interpreter import JourneyState


class WaitForEventConfig(WireModel):
    event: str
    rules: list[Rule] = Field(default_factory=list)
    timeout: str

    _timeout = field_validator("timeout")(check_duration)


class WaitForEventNode(NodeBase):
    type: Literal["WAIT_FOR_EVENT"]
    config: WaitForEventConfig


def _awaited(node: WaitForEventNode, event: EventRecord) -> bool:
    # Late: domain.events imports domain.definition, which imports this module.
    from domain.events import matches

    return matches(event, node.config.event, node.config.rules)


class WaitForEventKind(NodeKind[WaitForEventNode]):
    node_class = WaitForEventNode
    fixed_labels = ("matched", "timeout")
    waits_for_time = True

    def enter(self, node: WaitForEventNode, run: Run, now: datetime) -> str | None:
        state = run.state
        early = next((e for e in state.buffered_events if _awaited(node, e)), None)
        if early is None:
            run.block("event", now + parse_duration(node.config.timeout))
            return None
        state.buffered_events = [e for e in state.buffered_events if e.id != early.id]
        run.close(now, status="COMPLETED", branch="matched", detail=early.id)
        return "matched"

    def on_event(self, node: WaitForEventNode, run: Run, event: EventRecord, now: datetime) -> str | None:
        if not _awaited(node, event):
            return None
        run.close(now, status="COMPLETED", branch="matched", detail=event.id)
        return "matched"

    def on_time_reached(self, node: WaitForEventNode, run: Run, now: datetime) -> str | None:
        run.close(now, status="COMPLETED", branch="timeout")
        return "timeout"

    def wait_label(self, node: WaitForEventNode, state: JourneyState) -> str:
        return f"event {node.config.event}"


WAIT_FOR_EVENT = WaitForEventKind()
