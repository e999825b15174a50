"""`journeys bench ingest --n N`: events/s accepted by `POST /v1/events/batch` — events that match no
journey, and events that each signal one waiting enrollment — and, in the same run, the rate of
inserting the same rows straight into PostgreSQL."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from api.app import create_app
from api.auth import ALL_SCOPES, mint_token
from api.resources import AppResources
from bench.common import TENANT, connect, publish_journey, run_id, start_all, wait_for_projection
from bench.stack import bench_stack
from services.temporal import TemporalConnection
from store.repositories.events import EventRepository
from store.rows import EnrollmentRow

BATCH = 500
SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789"
WAITING = {
    "nodes": [
        {"id": "start", "type": "TRIGGER"},
        {"id": "await", "type": "WAIT_FOR_EVENT", "config": {"event": "activated", "timeout": "30 days"}},
        {"id": "end", "type": "EXIT"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "await"},
        {"sourceNodeId": "await", "targetNodeId": "end", "label": "matched"},
        {"sourceNodeId": "await", "targetNodeId": "end", "label": "timeout"},
    ],
}


@dataclass(frozen=True)
class IngestFigures:
    n: int
    unmatched_per_second: float
    signalling_per_second: float
    raw_per_second: float


def _event(user: str, name: str, message_id: str) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user,
        "event": name,
        "properties": {"plan": "pro", "amount": 42},
        "messageId": message_id,
        "timestamp": datetime.now(UTC).isoformat(),
    }


async def run_ingest_bench(n: int, console: Console) -> IngestFigures:
    with bench_stack() as stack:
        bench = await connect(stack, console)
        sessions, client, gateway = bench.sessions, bench.client, bench.gateway
        resources = AppResources.from_settings(
            stack.settings, database_url=stack.database_url, jwt_secret=SECRET
        )
        resources.temporal = TemporalConnection(stack.temporal.address, "default", client=client)
        resources.gateway = resources.control = gateway
        token = mint_token(
            secret=SECRET,
            tenant=TENANT,
            scopes=ALL_SCOPES,
            audience="journeys",
            issuer="journeys",
            ttl_seconds=3600,
        )
        tag = run_id()
        waiting = [f"w{tag}-{i}" for i in range(n)]
        journey_id, definition = await publish_journey(
            sessions, "Waiting", WAITING, [(c, {}) for c in waiting]
        )

        await start_all(bench, journey_id, "Waiting", definition, waiting)
        # All asleep in their WAIT_FOR_EVENT (they write the projection before a long wait).
        await wait_for_projection(sessions, journey_id, EnrollmentRow.waiting_until.is_not(None), n)

        transport = httpx.ASGITransport(app=create_app(resources))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://api",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        ) as http:
            counter = itertools.count()
            unmatched = [_event(f"u{tag}-{i % 200}", "noise", f"n{tag}-{next(counter)}") for i in range(n)]
            signalling = [_event(c, "activated", f"a{tag}-{next(counter)}") for c in waiting]
            unmatched_seconds = await _post_batches(http, unmatched, "unmatched events")
            signalling_seconds = await _post_batches(http, signalling, "signalling events")

        raw_rows = [
            {
                "tenant_id": TENANT,
                "message_id": f"raw{tag}-{i}",
                "type": "track",
                "customer_id": f"u{tag}-{i % 200}",
                "user_id": f"u{tag}-{i % 200}",
                "name": "noise",
                "properties": {"plan": "pro", "amount": 42},
                "traits": {},
                "context": {},
                "timestamp": datetime.now(UTC),
            }
            for i in range(n)
        ]
        started = time.perf_counter()
        for offset in range(0, n, BATCH):
            async with sessions() as session, session.begin():
                await EventRepository(session).insert_many(raw_rows[offset : offset + BATCH])
        raw_seconds = time.perf_counter() - started
        await resources.close()
        await bench.close()
        return IngestFigures(n, n / unmatched_seconds, n / signalling_seconds, n / raw_seconds)


async def _post_batches(http: httpx.AsyncClient, events: list[dict[str, Any]], label: str) -> float:
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    started = time.perf_counter()
    for batch in batches:
        response = await http.post("/v1/events/batch", json={"batch": batch})
        if response.status_code != 202:
            raise RuntimeError(f"{label}: {response.status_code} {response.text[:300]}")
    return time.perf_counter() - started


def print_ingest(figures: IngestFigures, console: Console) -> None:
    table = Table(title=f"event ingestion × {figures.n} (batches of {BATCH})")
    table.add_column("")
    table.add_column("events/s", justify="right")
    table.add_column("vs raw insert", justify="right")
    for label, rate in (
        ("POST /v1/events/batch, matching no journey", figures.unmatched_per_second),
        ("POST /v1/events/batch, each signalling a waiting enrollment", figures.signalling_per_second),
        ("INSERT of the same rows straight into PostgreSQL", figures.raw_per_second),
    ):
        table.add_row(label, f"{rate:.0f}", f"{rate / figures.raw_per_second:.2f}")
    console.print(table)
