"""WEBHOOK sends through the engine: action target → signed POST to a real receiver on 127.0.0.1.

The journey TRIGGER → SEND(WEBHOOK) → EXIT runs on the time-skipping server with the project's worker;
the receiver is the raw HTTP server of `test_webhooks.py`, told what to answer per path.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.webhooks import verify
from plumbing.settings import Settings
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.integration.test_webhooks import Receiver, Reply
from tests.support import END, TRIGGER, chain, eventually, handle_of, publish

SECRET = "whsec_" + base64.b64encode(b"journeys-webhook-test-secret-32b").decode()
BODY = '{"hello": "{{ traits.firstName }}"}'


class ScriptedReplies(dict[str, Reply]):
    """Replies per path taken in turn (the last one repeats), with the time each request arrived."""

    def __init__(self, script: dict[str, list[Reply]]) -> None:
        super().__init__()
        self._script = {path: list(replies) for path, replies in script.items()}
        self.arrivals: list[float] = []

    def get(self, path: str, default: Reply | None = None) -> Reply:  # type: ignore[override]
        self.arrivals.append(time.monotonic())
        queue = self._script.get(path)
        if not queue:
            return default or Reply()
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
async def receiver(settings: Settings) -> AsyncIterator[Receiver]:
    # Loopback is refused by the SSRF guard unless allow-listed, at save (API) and at send (worker).
    settings.webhook_allow_list = ["127.0.0.1"]
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


def webhook_send(target_id: str, on_failure: str = "fail") -> dict[str, Any]:
    config = {"channel": "WEBHOOK", "actionTargetId": target_id, "body": BODY, "onFailure": on_failure}
    return {"id": "hook", "type": "SEND", "name": "Notify CRM", "config": config}


async def create_target(http: httpx.AsyncClient, url: str) -> str:
    response = await http.post(
        "/v1/actiontargets",
        json={"name": "CRM", "channel": "WEBHOOK", "settings": {"url": url, "secret": SECRET}},
    )
    assert response.status_code == 201, response.text
    target_id: str = response.json()["id"]
    return target_id


async def enroll_ada(http: httpx.AsyncClient, journey_id: str, customer: str = "ada") -> None:
    await http.put(f"/v1/customers/{customer}", json={"traits": {"firstName": "Ada"}})
    response = await http.post(f"/v1/journeys/{journey_id}/enrollments", json={"customerId": customer})
    assert response.status_code == 201, response.text


async def messages_of(http: httpx.AsyncClient, customer: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = (await http.get(f"/v1/messages?customerId={customer}")).json()["data"]
    return data


async def test_a_webhook_send_is_one_signed_post_keyed_by_the_idempotency_key(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        target_id = await create_target(http, receiver.url("/crm") + "?token=s3cr3t")
        journey_id = await publish(http, chain(TRIGGER, webhook_send(target_id), END))
        await enroll_ada(http, journey_id)
        result = await result_skipping_time(time_skipping_env, handle_of(client, journey_id, "ada"))
        [message] = await messages_of(http, "ada")

    assert result["status"] == "COMPLETED"
    [request] = receiver.received("/crm")
    assert request.method == "POST"
    assert json.loads(request.body) == {"hello": "Ada"}
    assert request.headers["content-type"] == "application/json"
    assert verify(SECRET, request.headers, request.body)
    assert not verify("whsec_" + base64.b64encode(b"x" * 32).decode(), request.headers, request.body)
    assert request.headers["webhook-id"] == message["idempotencyKey"] == message["providerMessageId"]
    assert message["status"] == "sent" and message["channel"] == "WEBHOOK"
    assert message["recipient"] == receiver.url("/crm"), "the query string (a token) stays out of the log"
    assert message["subject"] is None


async def test_410_disables_the_target_and_the_send_follows_on_failure(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    receiver.replies["/gone"] = Reply(status=410, body=b"endpoint retired")
    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        target_id = await create_target(http, receiver.url("/gone"))
        skipping = await publish(http, chain(TRIGGER, webhook_send(target_id, on_failure="skip"), END))
        failing = await publish(http, chain(TRIGGER, webhook_send(target_id), END))

        await enroll_ada(http, skipping, "first")
        first = await result_skipping_time(time_skipping_env, handle_of(client, skipping, "first"))
        target = (await http.get(f"/v1/actiontargets/{target_id}")).json()
        [first_message] = await messages_of(http, "first")

        # The target is off now: the next send fails without a request, and onFailure=fail ends the entry.
        await enroll_ada(http, failing, "second")
        second = await result_skipping_time(time_skipping_env, handle_of(client, failing, "second"))
        [second_message] = await messages_of(http, "second")
        detail = (await http.get(f"/v1/journeys/{failing}/enrollments?status=FAILED")).json()

    assert len(receiver.received("/gone")) == 1, "410 is not retried"
    assert first["status"] == "COMPLETED"
    assert target["enabled"] is False
    assert "410" in target["disabledReason"] and "endpoint retired" in target["disabledReason"]
    assert first_message["status"] == "failed" and "410" in first_message["error"]
    assert first_message["recipient"] == receiver.url("/gone")
    assert second["status"] == "FAILED" and "is disabled" in second["reason"]
    assert second_message["status"] == "failed" and "is disabled" in second_message["error"]
    assert detail["meta"]["total"] == 1


# The send's own backoff starts at 1 s: a 2 s Retry-After shows the receiver's wish is what counts.
@pytest.mark.parametrize("retry_after", [1, 2])
async def test_429_with_retry_after_is_retried_after_the_delay_and_delivered_once(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    receiver: Receiver,
    retry_after: int,
) -> None:
    busy = Reply(status=429, headers={"Retry-After": str(retry_after)})
    replies = ScriptedReplies({"/busy": [busy, Reply(status=200)]})
    receiver.replies = replies
    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        target_id = await create_target(http, receiver.url("/busy"))
        journey_id = await publish(http, chain(TRIGGER, webhook_send(target_id), END))
        await enroll_ada(http, journey_id)

        # Wait on the receiver, not on the workflow: the retry delay is served in real time.
        async def delivered() -> bool:
            return len(receiver.received("/busy")) >= 2

        await eventually(delivered)
        result = await result_skipping_time(time_skipping_env, handle_of(client, journey_id, "ada"))
        [message] = await messages_of(http, "ada")

    first, second = receiver.received("/busy")
    assert result["status"] == "COMPLETED"
    assert len(receiver.received("/busy")) == 2, "delivered once after the 429"
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == message["idempotencyKey"]
    assert verify(SECRET, second.headers, second.body)
    assert retry_after - 0.1 <= replies.arrivals[1] - replies.arrivals[0] < retry_after + 3, replies.arrivals
    assert message["status"] == "sent" and message["error"] is None


async def test_an_unknown_action_target_fails_the_send_without_retrying(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(
            http, chain(TRIGGER, webhook_send("00000000-0000-0000-0000-000000000000"), END)
        )
        await enroll_ada(http, journey_id)
        result = await result_skipping_time(time_skipping_env, handle_of(client, journey_id, "ada"))
        [message] = await messages_of(http, "ada")
    assert result["status"] == "FAILED" and "does not exist" in result["reason"]
    assert message["status"] == "failed" and "action target" in message["error"]
    assert receiver.requests == []
