"""The reference journey of SPEC §12 — SEND → WAIT 1 s → CONDITION → SEND → EXIT — as a journey
definition for the engine, and as two hand-written Temporal workflows doing the same activities and
timer, the controls the engine is measured against: one with ordinary activities, and a tuned one
with local activities where a careful engineer would use them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.definition import SendConfig
    from domain.payloads import ProfileReadRequest, ProfileSnapshot, SendRequest, SendResult
    from domain.rules import Rule, evaluate_rules
    from domain.wire import WireModel
    from workflows.enrollment import (
        SEND_RETRY,
        SEND_SCHEDULE_TO_CLOSE,
        SEND_START_TO_CLOSE,
        STORE_RETRY,
        STORE_START_TO_CLOSE,
    )

CONTROL_WORKFLOW = "ReferenceControlWorkflow"
TUNED_CONTROL_WORKFLOW = "ReferenceTunedControlWorkflow"
WELCOME = {"channel": "EMAIL", "subject": "Welcome {{ traits.firstName }}", "body": "Hello"}
FOLLOW_UP = {"channel": "EMAIL", "subject": "Still there, {{ traits.firstName }}?", "body": "Hi again"}
ENGAGED = [{"field": "plan", "operator": "eq", "value": "pro"}]


def reference_journey() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "TRIGGER"},
            {"id": "welcome", "type": "SEND", "name": "Welcome", "config": WELCOME},
            {"id": "pause", "type": "WAIT", "name": "One second", "config": {"duration": "1 second"}},
            {"id": "engaged", "type": "CONDITION", "name": "Pro?", "config": {"rules": ENGAGED}},
            {"id": "follow", "type": "SEND", "name": "Follow-up", "config": FOLLOW_UP},
            {"id": "end", "type": "EXIT"},
        ],
        "edges": [
            {"sourceNodeId": "start", "targetNodeId": "welcome"},
            {"sourceNodeId": "welcome", "targetNodeId": "pause"},
            {"sourceNodeId": "pause", "targetNodeId": "engaged"},
            {"sourceNodeId": "engaged", "targetNodeId": "follow", "label": "yes"},
            {"sourceNodeId": "engaged", "targetNodeId": "end", "label": "no"},
            {"sourceNodeId": "follow", "targetNodeId": "end"},
        ],
    }


class ControlInput(WireModel):
    tenant_id: str
    journey_id: str
    enrollment_id: str
    customer_id: str


_SEND_OPTIONS: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=15),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5)),
}


@workflow.defn(name=CONTROL_WORKFLOW)
class ReferenceControlWorkflow:
    """The journey written by hand with ordinary activities (each a server round trip): no
    interpreter, no projection."""

    @workflow.run
    async def run(self, input: ControlInput) -> str:
        await self._send(input, "welcome", WELCOME)
        await workflow.sleep(timedelta(seconds=1))
        profile = await workflow.execute_activity(
            "read_profile",
            ProfileReadRequest(tenant_id=input.tenant_id, customer_id=input.customer_id),
            result_type=ProfileSnapshot,
            **_SEND_OPTIONS,
        )
        if evaluate_rules([Rule.model_validate(r) for r in ENGAGED], profile.traits):
            await self._send(input, "follow", FOLLOW_UP)
        return "done"

    async def _send(self, input: ControlInput, node_id: str, config: dict[str, Any]) -> SendResult:
        result: SendResult = await workflow.execute_activity(
            "send_message",
            _send_request(input, node_id, config),
            result_type=SendResult,
            **_SEND_OPTIONS,
        )
        return result


def _send_request(input: ControlInput, node_id: str, config: dict[str, Any]) -> SendRequest:
    return SendRequest(
        tenant_id=input.tenant_id,
        journey_id=input.journey_id,
        enrollment_id=input.enrollment_id,
        customer_id=input.customer_id,
        node_id=node_id,
        visit=1,
        idempotency_key=f"{input.enrollment_id}:{node_id}:1",
        config=SendConfig.model_validate(config),
    )


@workflow.defn(name=TUNED_CONTROL_WORKFLOW)
class ReferenceTunedControlWorkflow:
    """The same journey by hand, tuned as a careful engineer would: the sends are local activities with
    the engine's idempotency keys and retry horizon (a day, the same backoff), the profile read is a
    local activity; the wait is the only server round trip. Still no interpreter and no projection."""

    @workflow.run
    async def run(self, input: ControlInput) -> str:
        await self._send(input, "welcome", WELCOME)
        await workflow.sleep(timedelta(seconds=1))
        profile = await workflow.execute_local_activity(
            "read_profile",
            ProfileReadRequest(tenant_id=input.tenant_id, customer_id=input.customer_id),
            result_type=ProfileSnapshot,
            start_to_close_timeout=STORE_START_TO_CLOSE,
            retry_policy=STORE_RETRY,
        )
        if evaluate_rules([Rule.model_validate(r) for r in ENGAGED], profile.traits):
            await self._send(input, "follow", FOLLOW_UP)
        return "done"

    async def _send(self, input: ControlInput, node_id: str, config: dict[str, Any]) -> SendResult:
        result: SendResult = await workflow.execute_local_activity(
            "send_message",
            _send_request(input, node_id, config),
            result_type=SendResult,
            start_to_close_timeout=SEND_START_TO_CLOSE,
            schedule_to_close_timeout=SEND_SCHEDULE_TO_CLOSE,
            retry_policy=SEND_RETRY,
        )
        return result
