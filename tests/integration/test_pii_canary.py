"""PII canary: with a payload key configured, nothing a customer told us is readable in Temporal.

A unique address goes where PII really reaches workflow payloads: the properties of the event that
triggers the enrollment (EnrollmentInput.trigger_event), an event signalled to the running enrollment
(EventSignal), the enrollment context the SEND renders with (its request carries the entry event
and the matched event: `entry.properties.contact`, `event.properties.address`), and the SEND's
subject text (SendConfig, part of the definition in every payload). The customer's `email` trait is
the canary too, though traits are read by activities from PostgreSQL and only their rendering
reaches the SMTP sink. The same run without a key must show the canary in the
history, or the test could not fail.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from plumbing.codec import data_converter, generate_key
from plumbing.settings import Settings
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.support import awaiting, handle_of, moved_on, publish


def journey(canary: str) -> dict[str, Any]:
    nodes = [
        {"id": "start", "type": "TRIGGER", "config": {"triggerType": "EVENT", "event": "signed_up"}},
        {
            "id": "confirm",
            "type": "WAIT_FOR_EVENT",
            "name": "Await confirmation",
            "config": {"event": "confirmed", "timeout": "3 days"},
        },
        {
            "id": "mail",
            "type": "SEND",
            "name": "mail",
            "config": {
                "channel": "EMAIL",
                "subject": f"Welcome {{{{ traits.email }}}} (ops copy to {canary})",
                "body": (
                    "Your address is {{ traits.email }}; you signed up as {{ entry.properties.contact }}"
                    " and confirmed {{ event.properties.address }}"
                ),
            },
        },
        {"id": "end", "type": "EXIT"},
    ]
    edges = [
        {"sourceNodeId": "start", "targetNodeId": "confirm"},
        {"sourceNodeId": "confirm", "targetNodeId": "mail", "label": "matched"},
        {"sourceNodeId": "confirm", "targetNodeId": "end", "label": "timeout"},
        {"sourceNodeId": "mail", "targetNodeId": "end"},
    ]
    return {"name": "Canary", "nodes": nodes, "edges": edges}


def data_payloads(events: Any) -> list[Any]:
    """Inputs, signals and activity arguments/results: what the codec covers (search attributes and
    the SDK's own patch markers are written in clear by design and carry no customer data)."""
    found: list[Any] = []
    for event in events:
        kind = event.WhichOneof("attributes")
        attributes = getattr(event, kind)
        for field in ("input", "result"):
            if kind.endswith("_event_attributes") and attributes.DESCRIPTOR.fields_by_name.get(field):
                found.extend(getattr(attributes, field).payloads)
    return found


def track(user: str, event: str, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "properties": properties}


@pytest.mark.parametrize("encrypted", [True, False], ids=["with-key", "without-key"])
async def test_the_canary_never_reaches_temporal_in_clear(
    encrypted: bool,
    settings: Settings,
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    if encrypted:
        settings.payload_encryption_key = SecretStr(generate_key())
    client = Client(**{**time_skipping_env.client.config(), "data_converter": data_converter(settings)})
    canary = f"canary-{uuid.uuid4().hex}@example.com"
    customer = f"c-{uuid.uuid4().hex[:8]}"

    async with api_client_for(client) as http, run_worker(client):
        saved = await http.put(f"/v1/customers/{customer}", json={"traits": {"email": canary}})
        assert saved.status_code in (200, 201), saved.text
        journey_id = await publish(http, journey(canary))
        started = await http.post("/v1/events", json=track(customer, "signed_up", contact=canary))
        assert started.status_code == 202 and started.json()["enrolled"] == 1, started.text
        handle = handle_of(client, journey_id, customer)
        await awaiting(handle, "event")
        confirmed = await http.post("/v1/events", json=track(customer, "confirmed", address=canary))
        assert confirmed.json()["signalled"] == 1, confirmed.text
        await moved_on(handle, "event")
        result = await result_skipping_time(time_skipping_env, handle)
        delivered = await smtp_sink.wait_for(lambda m: canary in m.rcpt_tos, timeout=10)

    assert result["status"] == "COMPLETED"
    assert canary in delivered.subject
    assert delivered.text_body.count(canary) == 3, "traits, entry and matched event all rendered"
    history = await handle.fetch_history()
    raw = b"".join(event.SerializeToString() for event in history.events)
    as_json = history.to_json()
    found = canary.encode() in raw or canary in as_json
    assert found is not encrypted, f"canary {'present' if found else 'absent'} with encrypted={encrypted}"
    if encrypted:
        # Readable again with the key: the enrollment really ran on encrypted payloads.
        assert b"binary/encrypted" in raw
        sealed = [payload.metadata["encoding"] for payload in data_payloads(history.events)]
        assert sealed and set(sealed) == {b"binary/encrypted"}, sealed
