"""Per SEND node message counts in the journey report (`messages`, docs/analytics.md "Messages per SEND
node"): sent, suppressed per reason, failed, and what providers reported (delivered, opened, clicked,
bounced, complained) — every SEND node in path order, zeros where nothing happened."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.repositories.messages import MessageRepository
from tests.conftest import ApiClientFor
from tests.support import TENANT, publish

T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
DAY = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
REASONS = ("unsubscribed", "not_opted_in", "bounced", "complained", "frequency_cap")
_SEND = {"channel": "EMAIL", "subject": "Hi", "body": "x"}
# SEND ids that sort against the path: the readout follows the edges (z-first, then a-second).
JOURNEY = {
    "name": "Nudges",
    "nodes": [
        {"id": "start", "type": "TRIGGER"},
        {"id": "z-first", "type": "SEND", "name": "Welcome", "config": _SEND},
        {"id": "wait", "type": "WAIT", "config": {"duration": "1 day"}},
        {"id": "a-second", "type": "SEND", "name": "Nudge", "config": _SEND},
        {"id": "m-never", "type": "SEND", "config": _SEND},
        {"id": "done", "type": "END"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "z-first"},
        {"sourceNodeId": "z-first", "targetNodeId": "wait"},
        {"sourceNodeId": "wait", "targetNodeId": "a-second"},
        {"sourceNodeId": "a-second", "targetNodeId": "m-never"},
        {"sourceNodeId": "m-never", "targetNodeId": "done"},
    ],
}


async def _message(
    sessions: async_sessionmaker[AsyncSession],
    journey_id: str,
    node_id: str,
    status: str,
    reason: str | None = None,
    *,
    created_at: datetime = T0,
) -> str:
    """A message row as the send path leaves it; returns its idempotency key."""
    key = f"{journey_id}:{uuid.uuid4().hex}:1:{node_id}:1"
    async with sessions() as session, session.begin():
        messages = MessageRepository(session)
        row, _ = await messages.claim_new(
            {
                "tenant_id": TENANT,
                "idempotency_key": key,
                "journey_id": uuid.UUID(journey_id),
                "node_id": node_id,
                "customer_id": "c1",
                "channel": "EMAIL",
                "recipient": "c1@example.com",
                "reason": reason,
                "created_at": created_at,
            }
        )
        await messages.mark(row.id, status=status, sent_at=created_at if status == "sent" else None)
    return key


async def _report(http: httpx.AsyncClient, *events: tuple[str, str] | tuple[str, str, datetime]) -> None:
    body = {
        "events": [
            {"type": e[0], "idempotencyKey": e[1], "timestamp": (e[2] if len(e) > 2 else T0).isoformat()}
            for e in events
        ]
    }
    response = await http.post("/v1/deliveryevents/batch", json=body)
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": len(events), "ignored": 0, "duplicates": 0}


def _row(node: str, name: str, suppressed: dict[str, int] | None = None, **counts: int) -> dict[str, Any]:
    fields = ("sent", "failed", "delivered", "opened", "clicked", "bounced", "complained")
    return {
        "nodeId": node,
        "nodeName": name,
        **{f: counts.get(f, 0) for f in fields},
        "suppressed": {reason: (suppressed or {}).get(reason, 0) for reason in REASONS},
    }


async def test_each_send_node_counts_its_messages_and_what_providers_reported(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with api_client_for(None) as http:
        journey_id = await publish(http, JOURNEY)
        first = [await _message(sessions, journey_id, "z-first", "sent") for _ in range(3)]
        for reason in ("unsubscribed", "not_opted_in", "not_opted_in", "bounced", "frequency_cap"):
            await _message(sessions, journey_id, "z-first", "suppressed", reason)
        await _message(sessions, journey_id, "z-first", "failed")
        second = await _message(sessions, journey_id, "a-second", "sent")
        await _message(sessions, journey_id, "a-second", "suppressed", "complained")
        # the day before: counted without a range only, as are the provider's reports about it
        earlier = await _message(sessions, journey_id, "a-second", "sent", created_at=T0 - timedelta(days=1))
        # a SEND since removed from the draft
        await _message(sessions, journey_id, "gone", "sent")
        await _report(
            http,
            *(("delivered", key) for key in first),
            ("opened", first[0]),
            ("opened", first[0], T0 + timedelta(minutes=5)),  # opened again: still one message opened
            ("opened", first[1]),
            ("clicked", first[1]),
            ("bounce", first[2]),
            ("delivered", second),
            ("complaint", second),
            ("opened", earlier),
        )
        url = f"/v1/journeys/{journey_id}/analytics"
        in_day = await http.get(url, params=DAY)
        everything = await http.get(url)
        another_day = await http.get(
            url, params={"from": "2026-03-05T00:00:00Z", "to": "2026-03-06T00:00:00Z"}
        )
    assert in_day.status_code == everything.status_code == another_day.status_code == 200, in_day.text

    welcome = _row(
        "z-first",
        "Welcome",
        {"unsubscribed": 1, "not_opted_in": 2, "bounced": 1, "frequency_cap": 1},
        sent=3,
        failed=1,
        delivered=3,
        opened=2,
        clicked=1,
        bounced=1,
    )
    assert in_day.json()["messages"] == [
        welcome,
        _row("a-second", "Nudge", {"complained": 1}, sent=1, delivered=1, complained=1),
        _row("m-never", "SEND"),
        _row("gone", "gone", sent=1),
    ]
    assert everything.json()["messages"][1] == _row(
        "a-second", "Nudge", {"complained": 1}, sent=2, delivered=1, opened=1, complained=1
    )
    assert another_day.json()["messages"] == [
        _row("z-first", "Welcome"),
        _row("a-second", "Nudge"),
        _row("m-never", "SEND"),
    ]
    nodes = {n["nodeId"]: n for n in in_day.json()["nodes"]}
    assert (nodes["z-first"]["sent"], nodes["z-first"]["suppressed"]) == (3, 5)
