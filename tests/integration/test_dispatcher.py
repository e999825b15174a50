"""The outbox and its dispatcher: order per customer across dispatchers, exactly-once effects,
retries with backoff, rows set aside instead of blocking, orphans healed, triggers following
lifecycle changes at once.

The enrollments here run on a task queue no worker polls: Temporal still records each start and
signal in the workflow's history, in the order it accepted them, which is what these tests read.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.payloads import EnrollmentInput, EventSignal
from services.dispatcher import Dispatcher, DispatcherConfig
from services.reconciler import Reconciler, ReconcilerConfig
from services.temporal import EnrollmentGateway, TemporalConnection
from store.db import create_engine
from store.repositories.outbox import OutboxRepository
from store.rows import EnrollmentRow, OutboxRow
from tests.conftest import ApiClientFor
from tests.support import eventually, handle_of

WAITING: dict[str, Any] = {
    "name": "Waiting",
    "nodes": [
        {"id": "start", "type": "TRIGGER", "config": {"triggerType": "EVENT", "event": "signed_up"}},
        {"id": "await", "type": "WAIT_FOR_EVENT", "config": {"event": "never", "timeout": "30 days"}},
        {"id": "end", "type": "EXIT"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "await"},
        {"sourceNodeId": "await", "targetNodeId": "end", "label": "matched"},
        {"sourceNodeId": "await", "targetNodeId": "end", "label": "timeout"},
    ],
}


def track(user: str, event: str, message_id: str) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "messageId": message_id}


async def publish(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    created = await http.post("/v1/journeys", json=body)
    assert created.status_code == 201, created.text
    journey_id: str = created.json()["id"]
    assert (await http.post(f"/v1/journeys/{journey_id}/publish")).status_code == 200
    return journey_id


async def post_batch(http: httpx.AsyncClient, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = await http.post("/v1/events/batch", json={"batch": events})
    assert response.status_code == 202, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


@pytest_asyncio.fixture
async def unpolled_gateway(dev_env: WorkflowEnvironment) -> EnrollmentGateway:
    """Starts land on a task queue of their own that no worker polls."""
    client = dev_env.client
    connection = TemporalConnection("", client.namespace, client=client)
    return EnrollmentGateway(connection, f"unpolled-{uuid.uuid4().hex[:8]}", "")


async def pending(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return (await OutboxRepository(session).backlog()).pending


async def signals_of(client: Client, journey_id: str, customer: str) -> list[str]:
    """The ids of the events signalled to the customer's enrollment, in Temporal's order."""
    history = await handle_of(client, journey_id, customer).fetch_history()
    found: list[str] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attributes = event.workflow_execution_signaled_event_attributes
            [signal] = await client.data_converter.decode(attributes.input.payloads, [EventSignal])
            found.append(signal.event.id)
    return found


async def trigger_of(client: Client, journey_id: str, customer: str) -> str | None:
    history = await handle_of(client, journey_id, customer).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [payload] = await client.data_converter.decode(started.input.payloads, [EnrollmentInput])
    return payload.trigger_event.id if payload.trigger_event else None


async def test_each_customers_events_reach_their_enrollment_once_and_in_order_across_dispatchers(
    api_client_for: ApiClientFor,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    unpolled_gateway: EnrollmentGateway,
    dev_env: WorkflowEnvironment,
) -> None:
    customers = [f"c{i}" for i in range(12)]
    steps = 5
    async with api_client_for(None) as http:
        journey_id = await publish(http, WAITING)
        # Entries, then each customer's events spread over batches and interleaved across customers.
        entered = await post_batch(http, [track(c, "signed_up", f"{c}-in") for c in customers])
        assert all(r["enrolled"] == 1 for r in entered)
        for step in range(steps):
            results = await post_batch(http, [track(c, "step", f"{c}-s{step}") for c in customers])
            assert all(r["signalled"] == 1 for r in results)
    assert await pending(sessions) == len(customers) * (steps + 1)

    # Two dispatcher processes' worth of lanes, small claims: rows of one customer are spread over
    # claims that run side by side, which is where order could be lost.
    config = DispatcherConfig(concurrency=8, batch_size=7, lanes=2, poll_seconds=0.1)
    engines = [create_engine(database_url, pool_size=4) for _ in range(2)]
    async with AsyncExitStack() as stack:
        for engine in engines:
            await stack.enter_async_context(Dispatcher(engine, unpolled_gateway, config=config).running())
        await eventually(lambda: _drained(sessions), timeout=60)
    for engine in engines:
        await engine.dispose()

    client = dev_env.client
    for customer in customers:
        assert await trigger_of(client, journey_id, customer) == f"{customer}-in"
        assert await signals_of(client, journey_id, customer) == [f"{customer}-s{s}" for s in range(steps)]
    async with sessions() as session:
        outcomes = (await session.scalars(select(OutboxRow.outcome))).all()
    assert sorted(set(outcomes)) == ["signalled", "started"]


async def _drained(sessions: async_sessionmaker[AsyncSession]) -> bool:
    return await pending(sessions) == 0


async def test_a_redelivered_row_changes_nothing(
    api_client_for: ApiClientFor,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    unpolled_gateway: EnrollmentGateway,
    dev_env: WorkflowEnvironment,
) -> None:
    """A dispatcher that died after Temporal accepted a call but before recording it: the rows are
    pending again and carried out again; the workflow sees each start and signal once."""
    async with api_client_for(None) as http:
        journey_id = await publish(http, WAITING)
        await post_batch(http, [track("ada", "signed_up", "in"), track("ada", "step", "s0")])
    engine = create_engine(database_url, pool_size=2)
    dispatcher = Dispatcher(engine, unpolled_gateway, config=DispatcherConfig(lanes=1))
    assert await dispatcher.drain_once() == 2
    async with sessions() as session, session.begin():
        await session.execute(update(OutboxRow).values(dispatched_at=None, outcome=None))
    assert await dispatcher.drain_once() == 2
    await engine.dispose()
    assert await signals_of(dev_env.client, journey_id, "ada") == ["s0"]
    history = await handle_of(dev_env.client, journey_id, "ada").fetch_history()
    starts = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED]
    assert len(starts) == 1


async def test_an_unreachable_temporal_is_retried_later_and_a_broken_row_is_set_aside(
    api_client_for: ApiClientFor,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    unpolled_gateway: EnrollmentGateway,
    dev_env: WorkflowEnvironment,
) -> None:
    async with api_client_for(None) as http:
        journey_id = await publish(http, WAITING)
        await post_batch(http, [track("bo", "signed_up", "in"), track("bo", "step", "s0")])
        await post_batch(http, [track("bo", "step", "s1"), track("bo", "step", "s2")])
    # The signal carrying s1 no longer decodes (e.g. written by an older version): set aside, with
    # its reason; the customer's later rows do not wait behind it forever.
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE dispatch_outbox SET payload = jsonb_set(payload, '{event,id}', '\"\"') "
                "WHERE payload->'event'->>'id' = 's1'"
            )
        )
    engine = create_engine(database_url, pool_size=2)
    dead = EnrollmentGateway(TemporalConnection("127.0.0.1:1", "default"), "nowhere", "")
    down = Dispatcher(engine, dead, config=DispatcherConfig(lanes=1))
    assert await down.drain_once() == 4
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
    first = rows[0]
    assert first.dispatched_at is None and first.attempts == 1 and first.last_error
    assert first.available_at > first.created_at, "tried again after a backoff, not at once"
    assert all(r.attempts == 0 for r in rows[1:]), "the customer's later rows wait behind the first"

    up = Dispatcher(engine, unpolled_gateway, config=DispatcherConfig(lanes=1))
    async with sessions() as session, session.begin():
        await session.execute(update(OutboxRow).values(available_at=OutboxRow.created_at))
    await up.drain_once()
    await engine.dispose()
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
        health = await OutboxRepository(session).failed_count()
    assert [r.outcome for r in rows] == ["started", "signalled", None, "signalled"]
    broken = rows[2]
    assert broken.failed_at is not None and "no longer decodes" in (broken.last_error or "")
    assert health == 1
    assert await signals_of(dev_env.client, journey_id, "bo") == ["s0", "s2"]


async def test_triggers_follow_pause_resume_and_new_versions_at_the_next_batch(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with api_client_for(None) as http:
        journey_id = await publish(http, {**WAITING, "settings": {"allowReentry": True}})
        [first] = await post_batch(http, [track("a", "signed_up", "a1")])
        assert (
            await http.post(f"/v1/journeys/{journey_id}/pause", json={"mode": "entry"})
        ).status_code == 200
        [paused] = await post_batch(http, [track("b", "signed_up", "b1")])
        assert (await http.post(f"/v1/journeys/{journey_id}/resume")).status_code == 200
        [resumed] = await post_batch(http, [track("c", "signed_up", "c1")])
        # Version 2 answers to another event: the old name no longer enters, the new one does.
        changed = {**WAITING, "nodes": [dict(n) for n in WAITING["nodes"]]}
        changed["nodes"][0] = {
            "id": "start",
            "type": "TRIGGER",
            "config": {"triggerType": "EVENT", "event": "joined"},
        }
        put = await http.put(
            f"/v1/journeys/{journey_id}/canvas", json={"nodes": changed["nodes"], "edges": changed["edges"]}
        )
        assert put.status_code == 200, put.text
        assert (await http.post(f"/v1/journeys/{journey_id}/publish")).status_code == 200
        [old_name, new_name] = await post_batch(
            http, [track("d", "signed_up", "d1"), track("e", "joined", "e1")]
        )
    assert [first["enrolled"], paused["enrolled"], resumed["enrolled"]] == [1, 0, 1]
    assert [old_name["enrolled"], new_name["enrolled"]] == [0, 1]
    async with sessions() as session:
        rows = await session.execute(select(EnrollmentRow.customer_id, EnrollmentRow.version))
        versions = {customer: version for customer, version in rows}
    assert versions == {"a": 1, "c": 1, "e": 2}


async def test_a_batch_signals_an_enrollment_an_earlier_call_of_it_started(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with api_client_for(None) as http:
        await publish(http, WAITING)
        results = await post_batch(
            http,
            [track("x", "step", "early"), track("x", "signed_up", "in"), track("x", "step", "late")],
        )
    assert [(r["enrolled"], r["signalled"]) for r in results] == [(0, 0), (1, 0), (0, 1)]
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
    assert [(r.kind, r.payload.get("event", {}).get("id")) for r in rows] == [
        ("start", None),
        ("signal", "late"),
    ]
    assert rows[0].payload["triggerEvent"]["id"] == "in"
    assert "definition" not in rows[0].payload, "the dispatcher reads the published version"


async def test_the_reconciler_restarts_an_enrollment_whose_workflow_is_gone(
    api_client_for: ApiClientFor,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    unpolled_gateway: EnrollmentGateway,
    dev_env: WorkflowEnvironment,
) -> None:
    async with api_client_for(None) as http:
        journey_id = await publish(http, WAITING)
        await post_batch(http, [track("lost", "signed_up", "entry-1")])
    # As if the process died before dispatching (or Temporal was restored from an older backup):
    # the row is ACTIVE, Temporal has never heard of the workflow.
    async with sessions() as session, session.begin():
        await session.execute(text("DELETE FROM dispatch_outbox"))
    reconciler = Reconciler(sessions, unpolled_gateway, config=ReconcilerConfig(grace_seconds=0))
    assert await reconciler.sweep_once() == 1
    engine = create_engine(database_url, pool_size=2)
    await Dispatcher(engine, unpolled_gateway, config=DispatcherConfig(lanes=1)).drain_once()
    await engine.dispose()
    assert await trigger_of(dev_env.client, journey_id, "lost") == "entry-1"
    assert await reconciler.sweep_once() == 0, "a workflow that exists is left alone"
    assert reconciler.healed_total == 1


async def test_another_dispatcher_holding_a_customers_row_blocks_only_that_customer(
    api_client_for: ApiClientFor,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    unpolled_gateway: EnrollmentGateway,
    dev_env: WorkflowEnvironment,
) -> None:
    async with api_client_for(None) as http:
        journey_id = await publish(http, WAITING)
        await post_batch(http, [track("held", "signed_up", "h-in"), track("free", "signed_up", "f-in")])
        await post_batch(http, [track("held", "step", "h1"), track("free", "step", "f1")])
    engine = create_engine(database_url, pool_size=3)
    async with sessions() as holder, holder.begin():
        # Another dispatcher's claim of `held`'s first row, in flight.
        await holder.execute(
            text("SELECT id FROM dispatch_outbox WHERE customer_id = 'held' ORDER BY id LIMIT 1 FOR UPDATE")
        )
        dispatcher = Dispatcher(engine, unpolled_gateway, config=DispatcherConfig(lanes=1))
        await asyncio.wait_for(dispatcher.drain_once(), timeout=30)
    async with sessions() as session:
        left = (
            await session.scalars(
                select(OutboxRow.customer_id).where(OutboxRow.dispatched_at.is_(None)).order_by(OutboxRow.id)
            )
        ).all()
    await engine.dispose()
    assert left == ["held", "held"], "its second row waits for the first, held elsewhere"
    assert await signals_of(dev_env.client, journey_id, "free") == ["f1"]
