"""Destinations reach the customers already inside: `PATCH …/destinations` re-points the live version's
SENDs in place, and an enrollment that entered before — waiting since — sends to the new destination when
it wakes (the send activity reads the node's destination from the stored version at send time).

The real stack: time-skipping Temporal, PostgreSQL, the SMTP sink; and the read itself on PostgreSQL.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.sending import current_destination
from devstack import SmtpSink
from domain.definition import SendConfig
from domain.payloads import SendRequest
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.support import TENANT, chain, enroll, handle_of, publish


async def create_template(http: httpx.AsyncClient, subject: str) -> str:
    body = {"name": subject, "channel": "EMAIL", "subject": subject, "body": "Hello {{ traits.firstName }}"}
    created = await http.post("/v1/templates", json=body)
    assert created.status_code == 201, created.text
    template_id: str = created.json()["id"]
    return template_id


def series(template_id: str) -> dict[str, Any]:
    """TRIGGER(MANUAL) → SEND → WAIT 1 day → SEND → EXIT, both SENDs with `template_id`."""
    mail = {"channel": "EMAIL", "templateId": template_id}
    return chain(
        {"id": "start", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}},
        {"id": "first", "type": "SEND", "name": "First", "config": mail},
        {"id": "pause", "type": "WAIT", "name": "A day", "config": {"duration": "1 day"}},
        {"id": "second", "type": "SEND", "name": "Second", "config": mail},
        {"id": "done", "type": "EXIT"},
        name=f"Destinations {uuid.uuid4().hex[:6]}",
    )


async def test_a_waiting_enrollment_sends_with_the_re_pointed_template(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    env = own_time_skipping_env
    async with api_client_for(env.client) as http, run_worker(env.client):
        old = await create_template(http, "Old subject")
        new = await create_template(http, "New subject")
        journey_id = await publish(http, series(old))
        await enroll(http, journey_id, "wendy")
        first = await smtp_sink.wait_for(lambda m: "wendy@example.com" in m.rcpt_tos, timeout=30)
        assert first.subject == "Old subject"

        # The enrollment waits a day on version 1; its input carries version 1 as published.
        repoint = {"destinations": [{"nodeId": "second", "templateId": new}]}
        response = await http.patch(f"/v1/journeys/{journey_id}/destinations", json=repoint)
        assert response.status_code == 200, response.text
        assert response.json()["version"] == 1, "re-pointed in place, no new version"

        result = await result_skipping_time(env, handle_of(env.client, journey_id, "wendy"))
        assert result["status"] == "COMPLETED"
        assert [m.subject for m in smtp_sink.messages()] == ["Old subject", "New subject"]
        log = (await http.get("/v1/messages", params={"journeyId": journey_id})).json()["data"]
        assert {m["nodeId"]: m["subject"] for m in log} == {"first": "Old subject", "second": "New subject"}


def request_for(journey_id: str, node_id: str, config: SendConfig, version: int | None) -> SendRequest:
    return SendRequest(
        tenant_id=TENANT,
        journey_id=journey_id,
        enrollment_id=str(uuid.uuid4()),
        customer_id="c",
        node_id=node_id,
        visit=1,
        idempotency_key=f"k-{uuid.uuid4().hex}",
        config=config,
        version=version,
    )


async def test_the_send_reads_the_destination_of_its_version_and_falls_back_to_its_own(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with api_client_for(None) as http:
        old = await create_template(http, "Old subject")
        new = await create_template(http, "New subject")
        journey_id = await publish(http, series(old))
        repoint = {"destinations": [{"nodeId": "second", "templateId": new}]}
        assert (await http.patch(f"/v1/journeys/{journey_id}/destinations", json=repoint)).status_code == 200

    config = SendConfig(channel="EMAIL", template_id=old)
    async with sessions() as session:

        async def template_of(node_id: str, version: int | None, *, tenant: str = TENANT) -> str | None:
            request = request_for(journey_id, node_id, config, version)
            request.tenant_id = tenant
            return (await current_destination(session, request)).config.template_id

        assert await template_of("second", 1) == new, "re-pointed: the stored node's template"
        assert await template_of("first", 1) == old, "not re-pointed: as it came"
        assert await template_of("second", None) == old, "a request naming no version: as it came"
        assert await template_of("second", 7) == old, "a version that does not exist: as it came"
        assert await template_of("gone", 1) == old, "a node the version does not have: as it came"
        assert await template_of("pause", 1) == old, "not a SEND: as it came"
        assert await template_of("second", 1, tenant="other") == old, "another tenant's version: unread"
        sms = request_for(journey_id, "second", SendConfig(channel="SMS", body="Hi"), 1)
        assert (await current_destination(session, sms)).config.template_id is None, "another channel"
