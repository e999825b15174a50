"""WAIT_FOR_EVENT: `matched` on the first matching event since entry, `timeout` when the time is up.

A rule may compare with the enrollment's context (`{"field": "properties.cartId", "operator": "eq",
"valueFrom": "entry.properties.cartId"}`: the order of the same cart). A `valueFrom` the enrollment does
not have fails the step and the enrollment when the node is entered, naming the path. The matched event
becomes the context's `event` (templates, later conditions).

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
from domain.rules import Rule, unresolved_paths
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


def _awaited(node: WaitForEventNode, state: JourneyState, event: EventRecord) -> bool:
    # Late: domain.events imports domain.definition, which imports this module.
    from domain.events import matches

    return matches(event, node.config.event, node.config.rules, state.context())


def _take(run: Run, node: WaitForEventNode, event: EventRecord, now: datetime) -> str:
    from domain.context import ContextEvent

    run.state.matched_event = ContextEvent.of(event)
    run.close(now, status="COMPLETED", branch="matched", detail=event.id)
    return "matched"


class WaitForEventKind(NodeKind[WaitForEventNode]):
    node_class = WaitForEventNode
    fixed_labels = ("matched", "timeout")
    waits_for_time = True

    def enter(self, node: WaitForEventNode, run: Run, now: datetime) -> str | None:
        state = run.state
        missing = unresolved_paths(node.config.rules, state.context())
        if missing:
            reason = state.unresolved_reason(missing[0], node.id)
            run.close(now, status="FAILED", detail=reason)
            run.finish("FAILED", now, reason=reason)
            return None
        early = next((e for e in state.buffered_events if _awaited(node, state, e)), None)
        if early is None:
            run.block("event", now + parse_duration(node.config.timeout))
            return None
        state.buffered_events = [e for e in state.buffered_events if e.id != early.id]
        return _take(run, node, early, now)

    def on_event(self, node: WaitForEventNode, run: Run, event: EventRecord, now: datetime) -> str | None:
        if not _awaited(node, run.state, event):
            return None
        return _take(run, node, event, now)

    def on_time_reached(self, node: WaitForEventNode, run: Run, now: datetime) -> str | None:
        run.close(now, status="COMPLETED", branch="timeout")
        return "timeout"

    def wait_label(self, node: WaitForEventNode, state: JourneyState) -> str:
        return f"event {node.config.event}"


WAIT_FOR_EVENT = WaitForEventKind()
