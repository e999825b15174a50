"""Provider delivery events (POST /v1/deliveryevents) and the suppression list (GET/DELETE
/v1/suppressions), on the real API and PostgreSQL: Standard Webhooks signatures with the tenant's secret
(or a bearer token), bounces and complaints suppressing the message's address until an operator lifts
it, unknown messages kept and ignored, duplicates counted once."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from delivery.webhook_signing import sign
from store.repositories.delivery_events import DeliveryEventRepository
from store.repositories.messages import MessageRepository
from store.repositories.suppressions import SuppressionRepository
from store.rows import DeliveryEventRow
from tests.conftest import ApiClientFor
from tests.support import TENANT

Sessions = async_sessionmaker[AsyncSession]
WHEN = "2026-03-02T09:15:00Z"


async def _message(
    sessions: Sessions,
    *,
    tenant: str = TENANT,
    recipient: str | None = "Ann.Lee@Example.COM",
    channel: str = "EMAIL",
    node_id: str = "mail",
) -> tuple[uuid.UUID, str, str]:
    """A sent message as the send path leaves it: (id, idempotency key, provider message id)."""
    key = f"{uuid.uuid4()}:c1:1:{node_id}:1"
    provider_id = f"<{uuid.uuid4().hex}@journeys>"
    async with sessions() as session, session.begin():
        messages = MessageRepository(session)
        row, _ = await messages.claim_new(
            {
                "tenant_id": tenant,
                "idempotency_key": key,
                "journey_id": uuid.uuid4(),
                "node_id": node_id,
                "customer_id": "c1",
                "channel": channel,
            }
        )
        await messages.mark(
            row.id,
            status="sent",
            sent_at=datetime.now(UTC),
            provider_message_id=provider_id,
            recipient=recipient,
        )
    return row.id, key, provider_id


async def _events_of(sessions: Sessions, message_id: uuid.UUID) -> list[DeliveryEventRow]:
    async with sessions() as session:
        return await DeliveryEventRepository(session).for_message(TENANT, message_id)


async def _secret(http: httpx.AsyncClient) -> str:
    response = await http.post("/v1/deliveryevents/secret")
    assert response.status_code == 200, response.text
    secret: str = response.json()["secret"]
    assert secret.startswith("whsec_")
    return secret


async def _signed(
    http: httpx.AsyncClient,
    body: Any,
    secret: str,
    *,
    path: str = "/v1/deliveryevents",
    tenant: str = TENANT,
    webhook_id: str | None = None,
    timestamp: int | None = None,
    sent_body: bytes | None = None,
) -> httpx.Response:
    """A provider's request: no Authorization header, Standard Webhooks headers signed with `secret`."""
    content = json.dumps(body).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    wid = webhook_id or f"msg_{uuid.uuid4().hex}"
    request = http.build_request(
        "POST",
        path,
        params={"tenant": tenant},
        content=content if sent_body is None else sent_body,
        headers={
            "Content-Type": "application/json",
            "webhook-id": wid,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(secret, wid, stamp, content),
        },
    )
    del request.headers["Authorization"]
    return await http.send(request)


def _event(type_: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "timestamp": WHEN, **fields}


async def test_signatures_are_verified_with_the_tenants_secret(
    api_client_for: ApiClientFor, sessions: Sessions
) -> None:
    message_id, _, provider_id = await _message(sessions)
    event = _event("delivered", messageId=provider_id)
    async with api_client_for(None) as http, api_client_for(None, tenant="globex") as other:
        secret = await _secret(http)
        foreign = await _secret(other)
        good = await _signed(http, event, secret)
        tampered = await _signed(
            http, event, secret, sent_body=json.dumps(_event("opened", messageId=provider_id)).encode()
        )
        wrong_secret = await _signed(http, event, foreign)
        wrong_tenant = await _signed(http, event, secret, tenant="globex")
        stale = await _signed(http, event, secret, timestamp=int(time.time()) - 6 * 60)
        future = await _signed(http, event, secret, timestamp=int(time.time()) + 6 * 60)
        unsigned = http.build_request("POST", "/v1/deliveryevents", params={"tenant": TENANT}, json=event)
        del unsigned.headers["Authorization"]
        no_signature = await http.send(unsigned)
        no_tenant_request = http.build_request("POST", "/v1/deliveryevents", json=event)
        del no_tenant_request.headers["Authorization"]
        no_tenant = await http.send(no_tenant_request)
        rotated = await _secret(http)
        old_secret = await _signed(http, event, secret)
        new_secret = await _signed(http, _event("opened", messageId=provider_id), rotated)

    assert good.status_code == 202, good.text
    assert good.json() == {"accepted": 1, "ignored": 0, "duplicates": 0}
    refused = {
        "tampered body": tampered,
        "another tenant's secret": wrong_secret,
        "another tenant named": wrong_tenant,
        "stale timestamp": stale,
        "timestamp too far ahead": future,
        "no signature": no_signature,
        "no tenant": no_tenant,
        "a rotated-out secret": old_secret,
    }
    for what, response in refused.items():
        assert response.status_code == 401, (what, response.text)
        assert response.headers["content-type"] == "application/problem+json", what
    assert new_secret.status_code == 202, new_secret.text
    assert [e.type for e in await _events_of(sessions, message_id)] == ["delivered", "opened"]


async def test_an_api_client_reports_with_a_bearer_token(
    api_client_for: ApiClientFor, sessions: Sessions
) -> None:
    message_id, key, _ = await _message(sessions)
    async with api_client_for(None) as http:
        by_key = await http.post("/v1/deliveryevents", json=_event("clicked", idempotencyKey=key))
        naming_another_tenant = await http.post(
            "/v1/deliveryevents", params={"tenant": "globex"}, json=_event("opened", idempotencyKey=key)
        )
        neither = await http.post("/v1/deliveryevents", json=_event("opened", recipient="a@example.com"))
        bad_type = await http.post("/v1/deliveryevents", json=_event("bounced", idempotencyKey=key))
    async with api_client_for(None, scopes=["journey:suppression:view"]) as http:
        unscoped = await http.post("/v1/deliveryevents", json=_event("opened", idempotencyKey=key))

    assert by_key.status_code == 202, by_key.text
    assert by_key.json() == {"accepted": 1, "ignored": 0, "duplicates": 0}
    assert naming_another_tenant.status_code == 422
    assert naming_another_tenant.json()["errors"][0]["loc"] == ["query", "tenant"]
    assert neither.status_code == 422 and "messageId" in neither.text, neither.text
    assert bad_type.status_code == 422 and bad_type.json()["errors"][0]["loc"] == ["body", "type"]
    assert unscoped.status_code == 403 and "journey:deliveryevent:add" in unscoped.text
    [recorded] = await _events_of(sessions, message_id)
    assert (recorded.type, recorded.node_id, recorded.outcome) == ("clicked", "mail", "recorded")


async def test_a_bounce_suppresses_the_address_until_it_is_lifted(
    api_client_for: ApiClientFor, sessions: Sessions
) -> None:
    message_id, _, provider_id = await _message(sessions)
    async with api_client_for(None) as http:
        secret = await _secret(http)
        bare_id = provider_id.strip("<>")  # providers often drop the Message-ID's brackets
        bounced = await _signed(
            http, _event("bounce", messageId=bare_id, detail="550 5.1.1 user unknown"), secret
        )
        listed = await http.get("/v1/suppressions")
        by_reason = await http.get("/v1/suppressions", params={"reason": "complained"})
        by_channel = await http.get("/v1/suppressions", params={"channel": "SMS"})
        async with sessions() as session:
            found = await SuppressionRepository(session).find(TENANT, "EMAIL", " ann.lee@example.com ")
        entry = listed.json()["data"][0]
        async with api_client_for(None, tenant="globex") as other:
            foreign = await other.get("/v1/suppressions")
            foreign_lift = await other.delete(f"/v1/suppressions/{entry['id']}")
        lifted = await http.delete(f"/v1/suppressions/{entry['id']}")
        after = await http.get("/v1/suppressions")
        again = await http.delete(f"/v1/suppressions/{entry['id']}")
        async with sessions() as session:
            gone = await SuppressionRepository(session).find(TENANT, "EMAIL", "ann.lee@example.com")

    assert bounced.status_code == 202 and bounced.json()["accepted"] == 1, bounced.text
    assert listed.status_code == 200, listed.text
    assert listed.json()["meta"]["total"] == 1
    assert {k: entry[k] for k in ("channel", "address", "reason", "messageId")} == {
        "channel": "EMAIL",
        "address": "ann.lee@example.com",
        "reason": "bounced",
        "messageId": str(message_id),
    }
    assert by_reason.json()["data"] == [] and by_channel.json()["data"] == []
    assert found is not None and found.detail == "550 5.1.1 user unknown"
    assert foreign.json()["data"] == [] and foreign_lift.status_code == 404  # acme's entry is not globex's
    assert lifted.status_code == 204, lifted.text
    assert after.json()["data"] == [] and gone is None
    assert again.status_code == 404
    [recorded] = await _events_of(sessions, message_id)
    assert recorded.outcome == "suppression: bounced"


async def test_a_complaint_suppresses_and_falls_back_to_the_events_recipient(
    api_client_for: ApiClientFor, sessions: Sessions
) -> None:
    _, key, _ = await _message(sessions, recipient=None)
    _, _, listed_already = await _message(sessions, recipient="bob@example.com")
    async with api_client_for(None) as http:
        complaint = await http.post(
            "/v1/deliveryevents/batch",
            json={
                "events": [
                    _event("complaint", idempotencyKey=key, recipient="Carol@Example.com"),
                    _event("complaint", messageId=listed_already),
                    _event("bounce", messageId=listed_already, id="evt-2"),  # already listed: kept as it is
                ]
            },
        )
        listed = await http.get("/v1/suppressions", params={"reason": "complained"})
    assert complaint.status_code == 202, complaint.text
    assert complaint.json() == {"accepted": 3, "ignored": 0, "duplicates": 0}
    assert sorted(e["address"] for e in listed.json()["data"]) == ["bob@example.com", "carol@example.com"]


async def test_an_event_for_an_unknown_message_is_kept_and_ignored(
    api_client_for: ApiClientFor, sessions: Sessions
) -> None:
    async with api_client_for(None) as http:
        secret = await _secret(http)
        response = await _signed(
            http, _event("bounce", messageId="<nobody@elsewhere>", recipient="x@example.com"), secret
        )
        suppressions = await http.get("/v1/suppressions")
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 0, "ignored": 1, "duplicates": 0}
    assert suppressions.json()["data"] == []
    async with sessions() as session:
        [kept] = await DeliveryEventRepository(session).unmatched(TENANT)
    assert (kept.type, kept.message_id, kept.outcome) == ("bounce", None, "ignored: unknown message")


async def test_a_redelivered_event_counts_once(api_client_for: ApiClientFor, sessions: Sessions) -> None:
    message_id, key, provider_id = await _message(sessions)
    batch = {"events": [_event("delivered", messageId=provider_id), _event("opened", messageId=provider_id)]}
    async with api_client_for(None) as http:
        secret = await _secret(http)
        first = await _signed(http, batch, secret, path="/v1/deliveryevents/batch", webhook_id="msg_1")
        retried = await _signed(http, batch, secret, path="/v1/deliveryevents/batch", webhook_id="msg_1")
        # the provider's own event id wins over the webhook delivery it came in
        own_id = _event("clicked", messageId=provider_id, id="evt-9")
        with_id = await _signed(http, own_id, secret)
        with_id_again = await _signed(http, own_id, secret)
        # a bearer client's event without an id: the same content is the same event
        by_bearer = await http.post("/v1/deliveryevents", json=_event("opened", idempotencyKey=key))
        by_bearer_again = await http.post("/v1/deliveryevents", json=_event("opened", idempotencyKey=key))
    assert first.json() == {"accepted": 2, "ignored": 0, "duplicates": 0}
    assert retried.json() == {"accepted": 0, "ignored": 0, "duplicates": 2}
    assert with_id.json()["accepted"] == 1 and with_id_again.json()["duplicates"] == 1
    assert by_bearer.json()["accepted"] == 1 and by_bearer_again.json()["duplicates"] == 1
    kept = await _events_of(sessions, message_id)
    assert sorted(e.type for e in kept) == ["clicked", "delivered", "opened", "opened"]


async def test_bodies_are_bounded(api_client_for: ApiClientFor) -> None:
    event = _event("opened", idempotencyKey="k")
    async with api_client_for(None) as http:
        too_many = await http.post("/v1/deliveryevents/batch", json={"events": [event] * 501})
        too_big = await http.post("/v1/deliveryevents", json={**event, "detail": "x" * 40_000})
        empty = await http.post("/v1/deliveryevents/batch", json={"events": []})
    assert too_many.status_code == 413, too_many.text
    assert too_big.status_code == 413, too_big.text
    assert empty.status_code == 422 and empty.json()["errors"][0]["loc"] == ["body", "events"]
