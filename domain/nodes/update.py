"""UPDATE: profile updates, applied once per (enrollment, node, visit); a failure fails the enrollment."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from domain.nodes.base import NodeBase, NodeKind, Run, idempotency_key
from domain.wire import WireModel

if TYPE_CHECKING:
    from domain.interpreter import JourneyState, ProfileUpdated


class ProfileUpdate(WireModel):
    field: str
    action: Literal["set", "unset", "add", "remove", "increment"] = "set"
    value: Any = None


class UpdateConfig(WireModel):
    updates: list[ProfileUpdate] = Field(min_length=1)


class UpdateNode(NodeBase):
    type: Literal["UPDATE"]
    config: UpdateConfig


class UpdateProfile(WireModel):
    """Command: apply the node's updates to the customer's profile, once per idempotency key."""

    kind: Literal["update_profile"] = "update_profile"
    node_id: str
    node_name: str
    visit: int
    idempotency_key: str
    updates: list[ProfileUpdate]


class UpdateKind(NodeKind[UpdateNode]):
    node_class = UpdateNode

    def enter(self, node: UpdateNode, run: Run, now: datetime) -> str | None:
        run.block("update")
        return None

    def effect(self, node: UpdateNode, state: JourneyState) -> UpdateProfile:
        assert state.open_step is not None
        visit = state.open_step.visit
        return UpdateProfile(
            node_id=node.id,
            node_name=node.name or node.type,
            visit=visit,
            idempotency_key=idempotency_key(state.enrollment_id, node.id, visit),
            updates=node.config.updates,
        )

    def on_profile_updated(self, node: UpdateNode, run: Run, outcome: ProfileUpdated) -> str | None:
        if outcome.error is not None:
            run.close(outcome.now, status="FAILED", detail=outcome.error)
            run.finish("FAILED", outcome.now, reason=outcome.error)
            return None
        run.close(outcome.now, status="COMPLETED")
        return "next"


UPDATE = UpdateKind()
