"""Fault test of the ingestion pipeline on real processes: the API (`journeys api`), the dispatcher
(`journeys dispatcher`) and the worker (`journeys worker`), against the dev server, the embedded
PostgreSQL and the SMTP sink.

A client posts `signed_up` events in batches (each enters a journey: email, wait for `activated`,
email, exit), then the same customers' `activated` events. In each run the API is SIGKILLed while a
batch is in its transaction (requests in flight lose their answer) and restarted on its port; the
client resends every batch that got no answer, with the same messageIds, until it gets a 202. The
dispatcher is SIGKILLed in the middle of a pass (rows it had claimed were still unrecorded, and at
least one of them had already reached Temporal) once during the starts' fan-out and once during the
signals', and restarted. The worker is stopped during the activated run until the signals the killed
dispatcher had sent are redelivered, so that a redelivery meets a running workflow (where only its
request id can make Temporal drop it). Then everything must settle as if nothing had happened.

What it catches (the ones marked * were checked by running it against a broken copy):
- an API that acknowledges batches before they are durable (queued in memory, a background task): the
  batches answered just before the kill are not in the database after the run; a batch half stored
  (events without their enrollment or outbox row): the settle times out, the sets below differ;
- a resent batch ingested again: a second enrollment, outbox row or signal;
- * a dispatcher that records rows before carrying them out (at most once): no pass ever holds a row
  that has already reached Temporal, so the kill cannot find its window and the test fails; one that
  dropped the killed pass's rows would leave workflows unstarted or unsignalled (never completed);
- * a redelivered start that runs the workflow again (id reuse / conflict policy): a second run;
- * a signal redelivered without its deterministic request id: a second WorkflowExecutionSignaled;
- an outbox row left pending or set aside as failed, an email without the Message-ID of its key.
Not reliably caught by a kill: an API committing in a teardown run after the response is sent (once
PostgreSQL has received the COMMIT it completes although the API dies, and the window before is too
short); * the second test catches it, with commits slowed down so that the answer would come first.
The reconciler (which restarts orphaned enrollments) is kept out of the way (a grace of an hour), so
it cannot heal what the dispatcher lost.
"""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, TypeVar

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.channels import message_id_for
from devstack import SmtpSink
from devstack.ports import find_free_port
from domain.ids import enrollment_id, enrollment_workflow_id
from domain.interpreter import idempotency_key
from domain.payloads import SIGNAL_EVENT, EnrollmentInput, EventSignal
from plumbing.codec import data_converter
from plumbing.settings import Settings
from tests.conftest import TEST_JWT_SECRET, token_for
from tests.support import TENANT, WorkerProcess, eventually, publish, worker_environment

pytestmark = pytest.mark.e2e
A = TypeVar("A")
B = TypeVar("B")

BATCHES = 16
BATCH_SIZE = 5
CUSTOMERS = BATCHES * BATCH_SIZE
CONCURRENT_REQUESTS = 4
# A dispatcher slow enough for a kill to find a pass in flight: one pass at a time, of 10 rows carried
# out one after the other.
DISPATCHER = {
    "JOURNEYS_DISPATCHER_BATCH_SIZE": "10",
    "JOURNEYS_DISPATCHER_CONCURRENCY": "1",
    "JOURNEYS_DISPATCHER_LANES": "1",
    "JOURNEYS_DISPATCHER_POLL_SECONDS": "0.2",
    # The reconciler must not restart what the dispatcher lost: that is what this test looks for.
    "JOURNEYS_RECONCILE_GRACE_SECONDS": "3600",
}
MAIL = {"channel": "EMAIL", "body": "Hello {{ traits.firstName }}"}
JOURNEY = {
    "name": "Ingest faults",
    "nodes": [
        {"id": "start", "type": "TRIGGER", "config": {"triggerType": "EVENT", "event": "signed_up"}},
        {"id": "welcome", "type": "SEND", "config": {**MAIL, "subject": "welcome"}},
        {
            "id": "activation",
            "type": "WAIT_FOR_EVENT",
            "config": {"event": "activated", "timeout": "30 days"},
        },
        {"id": "congrats", "type": "SEND", "config": {**MAIL, "subject": "congrats"}},
        {"id": "end", "type": "EXIT"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "welcome"},
        {"sourceNodeId": "welcome", "targetNodeId": "activation"},
        {"sourceNodeId": "activation", "targetNodeId": "congrats", "label": "matched"},
        {"sourceNodeId": "activation", "targetNodeId": "end", "label": "timeout"},
        {"sourceNodeId": "congrats", "targetNodeId": "end"},
    ],
}
SENDS = ("welcome", "congrats")

# One statement, so one snapshot: each row of a kind, whether it is recorded as dispatched, and whether
# a running transaction holds it (its xmax is the xid of a live backend: the dispatcher's claim, FOR
# UPDATE, or its uncommitted mark). Read without taking locks, so the probe never slows a claim down.
PROBE = """
    SELECT o.id, o.workflow_id, o.payload::text AS payload, o.dispatched_at IS NOT NULL AS done,
           o.xmax::text IN (SELECT backend_xid::text FROM pg_stat_activity WHERE backend_xid IS NOT NULL)
             AS held
    FROM dispatch_outbox o WHERE o.kind = $1
"""


# Transactions storing events right now (an API request in the middle of its batch): nothing else
# writes to `events`.
INGESTING = """
    SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
    WHERE c.relname = 'events' AND l.mode = 'RowExclusiveLock' AND l.granted AND l.pid <> pg_backend_pid()
"""


class Service:
    """`python -m journeys <command>` as production runs it, output in a log file."""

    def __init__(self, command: str, env: dict[str, str], log: IO[bytes]) -> None:
        self.command = command
        self._env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.write(f"\n===== {self.command} started {datetime.now(UTC):%H:%M:%S.%f} =====\n".encode())
        self.log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "journeys", self.command],
            env=self._env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no shutdown, open transactions and requests simply die
        self.process.wait()
        self.log.write(f"\n===== {self.command} SIGKILLed {datetime.now(UTC):%H:%M:%S.%f} =====\n".encode())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class ClientRun:
    """What the client saw of one run of batches."""

    in_flight: set[int] = field(default_factory=set)
    cut: set[int] = field(default_factory=set)  # batches in flight when the API was killed, unanswered
    failures: Counter[int] = field(default_factory=Counter)  # attempts without an answer, by batch
    kills: int = 0
    statuses: Counter[int] = field(default_factory=Counter)  # answers other than 202 (retried)
    resent_duplicates: int = 0  # events of a resent batch the first attempt had stored
    results: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass
class DispatchKill:
    """Proof that a dispatcher kill landed mid-pass."""

    kind: str
    attempts: int
    dispatched: int  # rows of the kind recorded before the kill
    pending: int  # rows of the kind not yet recorded after it
    landed: list[int]  # rows the killed pass held that had reached Temporal, left unrecorded
    unrecorded: list[int]  # every row of the kind not recorded at the kill (the killed pass's among them)


def track(customer: str, name: str) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": customer,
        "event": name,
        "messageId": f"{name}-{customer}",
        "timestamp": datetime.now(UTC).isoformat(),
    }


def chunks(items: Sequence[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def listen_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def post_until_accepted(
    http: httpx.AsyncClient, index: int, batch: list[dict[str, Any]], run: ClientRun
) -> None:
    """As a Segment client does: a batch without an answer is sent again, as it was, until a 202."""
    attempt = 0
    while True:
        attempt += 1
        run.in_flight.add(index)
        try:
            response = await http.post("/v1/events/batch", json={"batch": batch})
        except httpx.TransportError:
            run.failures[index] += 1
            await asyncio.sleep(0.05)
            continue
        finally:
            run.in_flight.discard(index)
        if response.status_code == 202:
            body: dict[str, Any] = response.json()
            assert len(body["results"]) == len(batch), response.text
            if attempt > 1:
                run.resent_duplicates += body["duplicates"]
            run.results[index] = body
            return
        # An API still starting (or a transient 5xx) is retried; anything else is a failure.
        assert response.status_code in (429, 500, 502, 503, 504), (response.status_code, response.text)
        run.statuses[response.status_code] += 1
        await asyncio.sleep(0.1)


async def send_run(
    http: httpx.AsyncClient, db: asyncpg.Pool, batches: list[list[dict[str, Any]]], api: Service
) -> ClientRun:
    """Every batch, a few requests at a time; once a third are answered, the API SIGKILLed while a
    batch is in its transaction, then restarted on its port."""
    run = ClientRun()
    gate = asyncio.Semaphore(CONCURRENT_REQUESTS)
    a_third = asyncio.Event()

    async def one(index: int, batch: list[dict[str, Any]]) -> None:
        async with gate:
            await post_until_accepted(http, index, batch, run)
        if len(run.results) >= len(batches) // 3:
            a_third.set()

    async def ingesting() -> bool:
        return bool(run.in_flight) and bool(await db.fetchval(INGESTING))

    async def resolved(cut: set[int], before: Counter[int]) -> bool:
        """Each request cut by the kill got its answer after all, or lost it."""
        return all(i in run.results or run.failures[i] > before[i] for i in cut)

    async def kill_api() -> None:
        await a_third.wait()
        for _ in range(3):
            await eventually(ingesting, timeout=60)
            cut, before = set(run.in_flight), Counter(run.failures)
            api.kill()
            api.start()
            run.kills += 1

            await eventually(functools.partial(resolved, cut, before), timeout=60)
            run.cut = {i for i in cut if run.failures[i] > before[i]}
            if run.cut:
                return
            # Every request in flight had its answer in the socket already: once more.

    async with asyncio.TaskGroup() as group:
        group.create_task(kill_api())
        for index, batch in enumerate(batches):
            group.create_task(one(index, batch))
    assert run.cut, "the API was killed with requests in flight, which lost their answer"
    # A client that lost an answer it did get resends too: everything is a duplicate, nothing changes.
    for index in sorted(run.cut):
        again = await http.post("/v1/events/batch", json={"batch": batches[index]})
        assert again.status_code == 202, again.text
        assert again.json()["duplicates"] == len(batches[index]), again.text
    return run


async def unstored(db: asyncpg.Pool, batches: list[list[dict[str, Any]]]) -> list[str]:
    """Accepted events the database does not hold (each was answered 202 by then)."""
    wanted = [event["messageId"] for batch in batches for event in batch]
    rows = await db.fetch(
        "SELECT message_id FROM events WHERE tenant_id = $1 AND message_id = ANY($2::varchar[])",
        TENANT,
        wanted,
    )
    return sorted(set(wanted) - {r["message_id"] for r in rows})


async def landed(client: Client, converter: DataConverter, kind: str, workflow_id: str, payload: Any) -> bool:
    """Whether an outbox row's start or signal is already in Temporal."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        if kind == "start":
            await handle.describe()
            return True
        history = await handle.fetch_history()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    wanted = EventSignal.model_validate(payload).event.id
    return wanted in await signalled_event_ids(converter, history.events)


async def signalled_event_ids(converter: DataConverter, events: Sequence[Any]) -> list[str]:
    ids: list[str] = []
    for event in events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            continue
        attributes = event.workflow_execution_signaled_event_attributes
        assert attributes.signal_name == SIGNAL_EVENT, attributes.signal_name
        [signal] = await converter.decode(attributes.input.payloads, [EventSignal])
        ids.append(signal.event.id)
    return ids


async def kill_mid_dispatch(
    db: asyncpg.Pool, dispatcher: Service, kind: str, client: Client, converter: DataConverter
) -> DispatchKill:
    """SIGKILL the dispatcher in the crash window the outbox exists for: a pass holds rows of `kind`
    (others of the kind already recorded) and one of them has already reached Temporal. Proved after
    the kill: that row is still unrecorded. Tried again after a restart when the pass committed first."""

    async def caught() -> tuple[list[Any], list[bool]] | None:
        rows = await db.fetch(PROBE, kind)
        # A pass carries its rows out lowest id first: those are the ones to look for.
        held = sorted((r for r in rows if r["held"] and not r["done"]), key=lambda r: r["id"])[:3]
        if not held or not any(r["done"] for r in rows):
            return None
        reached = await asyncio.gather(
            *(landed(client, converter, kind, r["workflow_id"], json.loads(r["payload"])) for r in held)
        )
        return (held, list(reached)) if any(reached) else None

    for attempt in range(1, 9):
        try:
            held, reached = await eventually(caught, timeout=60, interval=0.02)
        except TimeoutError:
            # A dispatcher that records rows before carrying them out never shows this moment.
            raise AssertionError(
                f"for 60 s no dispatcher pass held a {kind} row that had already reached Temporal"
            ) from None
        dispatcher.kill()

        async def released() -> bool:  # PostgreSQL has rolled the dead pass back
            return not any(r["held"] for r in await db.fetch(PROBE, kind))

        await eventually(released, timeout=30)
        after = {r["id"]: r["done"] for r in await db.fetch(PROBE, kind)}
        dispatched = sum(after.values())
        pending = len(after) - dispatched
        hits = [r["id"] for r, hit in zip(held, reached, strict=True) if hit and not after[r["id"]]]
        dispatcher.start()
        if hits:  # the kill fell mid-run (rows recorded, rows not) and mid-pass
            assert dispatched > 0 and pending > 0
            unrecorded = [row_id for row_id, done in after.items() if not done]
            return DispatchKill(kind, attempt, dispatched, pending, hits, unrecorded)
    raise AssertionError(f"no dispatcher kill landed between a {kind} reaching Temporal and its record")


async def together(first: Coroutine[Any, Any, A], second: Coroutine[Any, Any, B]) -> tuple[A, B]:
    """Both at once; when one fails the other is cancelled (it must not restart a process later)."""
    async with asyncio.TaskGroup() as group:
        a = group.create_task(first)
        b = group.create_task(second)
    return a.result(), b.result()


async def api_answers(http: httpx.AsyncClient) -> bool:
    try:
        await http.get("/health")
    except httpx.TransportError:
        return False
    return True


async def outbox_summary(db: asyncpg.Pool) -> str:
    rows = await db.fetch(
        "SELECT kind, outcome, dispatched_at IS NOT NULL AS done, failed_at IS NOT NULL AS failed, count(*) "
        "FROM dispatch_outbox GROUP BY 1, 2, 3, 4 ORDER BY 1, 2"
    )
    return ", ".join(f"{dict(r)}" for r in rows)


async def histories(client: Client, workflow_ids: dict[str, str]) -> dict[str, Sequence[Any]]:
    gate = asyncio.Semaphore(16)

    async def one(workflow_id: str) -> Sequence[Any]:
        async with gate:
            return (await client.get_workflow_handle(workflow_id).fetch_history()).events

    fetched = await asyncio.gather(*(one(w) for w in workflow_ids.values()))
    return dict(zip(workflow_ids, fetched, strict=True))


def expected_keys(journey_id: str, customer: str) -> Iterator[tuple[tuple[str, str], str]]:
    """((recipient, subject), idempotency key) of each email the customer's enrollment sends."""
    enrollment = enrollment_id(TENANT, journey_id, customer, 1)
    for node in SENDS:
        yield (f"{customer}@example.com", node), idempotency_key(enrollment, node, 1)


async def test_killing_the_api_and_the_dispatcher_loses_and_repeats_nothing(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    database_url: str,
    smtp_sink: SmtpSink,
    worker_log: IO[bytes],
) -> None:
    client = dev_env.client
    converter = data_converter(settings)  # what the processes use (encrypting if a key is set)
    port = find_free_port()
    env = worker_environment(
        database_url,
        client.service_client.config.target_host,
        settings,
        smtp_sink,
        JOURNEYS_API_HOST="127.0.0.1",
        JOURNEYS_API_PORT=str(port),
        JOURNEYS_JWT_SECRET=TEST_JWT_SECRET,
        **DISPATCHER,
    )
    customers = [f"fault-{i:03d}" for i in range(CUSTOMERS)]
    workflow_ids: dict[str, str] = {}
    began = time.monotonic()
    marks: dict[str, float] = {}  # seconds since `began` at the end of each stage, for the summary
    with (
        tempfile.TemporaryFile(prefix="journeys-api-") as api_log,
        tempfile.TemporaryFile(prefix="journeys-dispatcher-") as dispatcher_log,
    ):
        api = Service("api", env, api_log)
        dispatcher = Service("dispatcher", env, dispatcher_log)
        worker = WorkerProcess(env, worker_log)
        db = await asyncpg.create_pool(listen_dsn(database_url), min_size=1, max_size=4)
        headers = {"Authorization": f"Bearer {token_for(TENANT)}"}
        try:
            worker.start()
            dispatcher.start()
            api.start()
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
            ) as http:
                await eventually(lambda: api_answers(http), timeout=60)
                marks["up"] = time.monotonic() - began
                profiles = [
                    {
                        "type": "identify",
                        "userId": c,
                        "traits": {"email": f"{c}@example.com", "firstName": c},
                        "messageId": f"identify-{c}",
                    }
                    for c in customers
                ]
                for batch in chunks(profiles, 100):
                    identified = await http.post("/v1/events/batch", json={"batch": batch})
                    assert identified.status_code == 202, identified.text
                journey_id = await publish(http, JOURNEY)
                workflow_ids = {c: enrollment_workflow_id(TENANT, journey_id, c, 1) for c in customers}

                signed_up = chunks([track(c, "signed_up") for c in customers], BATCH_SIZE)
                entries, start_kill = await together(
                    send_run(http, db, signed_up, api),
                    kill_mid_dispatch(db, dispatcher, "start", client, converter),
                )
                marks["signed_up"] = time.monotonic() - began
                assert not await unstored(db, signed_up), "accepted (202) but not stored"

                # The worker is stopped while the activated events are dispatched, so that a redelivered
                # signal meets a running workflow, where only its request id makes Temporal drop it; it
                # is started again once the restarted dispatcher has recorded every row that was pending at
                # the kill (whatever the killed pass had sent is among them).
                worker.stop()
                marks["worker stopped"] = time.monotonic() - began
                activated = chunks([track(c, "activated") for c in customers], BATCH_SIZE)

                async def redeliver_then_resume() -> DispatchKill:
                    proof = await kill_mid_dispatch(db, dispatcher, "signal", client, converter)

                    async def redelivered() -> bool:
                        return bool(
                            await db.fetchval(
                                "SELECT bool_and(dispatched_at IS NOT NULL) FROM dispatch_outbox "
                                "WHERE id = ANY($1::bigint[])",
                                proof.unrecorded,
                            )
                        )

                    await eventually(redelivered, timeout=60)
                    worker.start()
                    return proof

                signals, signal_kill = await together(
                    send_run(http, db, activated, api), redeliver_then_resume()
                )
                marks["activated"] = time.monotonic() - began
                assert not await unstored(db, activated), "accepted (202) but not stored"

            # Every answer said what happened: each signed_up entered once, each activated signalled once.
            for run, field_name in ((entries, "enrolled"), (signals, "signalled")):
                assert len(run.results) == BATCHES
                assert all(r[field_name] == 1 for body in run.results.values() for r in body["results"]), (
                    f"each {field_name} call counted once"
                )

            async def settled() -> bool:
                pending = await db.fetchval(
                    "SELECT count(*) FROM dispatch_outbox WHERE dispatched_at IS NULL AND failed_at IS NULL"
                )
                completed = await db.fetchval(
                    "SELECT count(*) FROM enrollments WHERE journey_id = $1 AND status = 'COMPLETED'",
                    uuid.UUID(journey_id),
                )
                return pending == 0 and completed == CUSTOMERS and len(smtp_sink.messages()) >= 2 * CUSTOMERS

            try:
                await eventually(settled, timeout=120)
            except TimeoutError:
                completed = await db.fetchval("SELECT count(*) FROM enrollments WHERE status = 'COMPLETED'")
                raise AssertionError(
                    f"not settled: outbox {await outbox_summary(db)}; {completed} enrollments completed; "
                    f"{len(smtp_sink.messages())} emails"
                ) from None

            by_journey = f"JourneyId = '{journey_id}'"

            async def all_visible() -> bool:
                done = await client.count_workflows(f"{by_journey} AND ExecutionStatus = 'Completed'")
                return done.count == CUSTOMERS

            await eventually(all_visible, timeout=30)
            marks["settled"] = time.monotonic() - began
            executions = [e async for e in client.list_workflows(by_journey)]
            events_of = await histories(client, workflow_ids)
            stored_events = await db.fetch("SELECT message_id FROM events WHERE tenant_id = $1", TENANT)
            enrollments = await db.fetch(
                "SELECT customer_id, entry_number, status, workflow_id, entry_message_id FROM enrollments "
                "WHERE tenant_id = $1 AND journey_id = $2",
                TENANT,
                uuid.UUID(journey_id),
            )
            outbox = await db.fetch(
                "SELECT id, kind, workflow_id, outcome, dispatched_at IS NOT NULL AS done, "
                "failed_at IS NOT NULL AS failed FROM dispatch_outbox"
            )
            delivery_log = await db.fetch(
                "SELECT idempotency_key, status, provider_message_id FROM messages WHERE tenant_id = $1",
                TENANT,
            )
        except BaseException:
            for name, log in (("api", api_log), ("dispatcher", dispatcher_log), ("worker", worker_log)):
                log.seek(0)
                print(f"----- {name} log (tail) -----\n{log.read().decode(errors='replace')[-5000:]}")
            raise
        finally:
            api.stop()
            dispatcher.stop()
            worker.stop()
            await db.close()

    # Every accepted event stored once (the API kept what it acknowledged, resends changed nothing).
    expected_events = {f"{kind}-{c}" for c in customers for kind in ("identify", "signed_up", "activated")}
    stored = Counter(r["message_id"] for r in stored_events)
    assert set(stored) == expected_events and set(stored.values()) == {1}

    # One entry per customer: one enrollment row, one workflow execution (one run), completed.
    assert sorted(r["customer_id"] for r in enrollments) == customers
    for row in enrollments:
        customer = row["customer_id"]
        assert (row["entry_number"], row["status"]) == (1, "COMPLETED"), dict(row)
        assert row["workflow_id"] == workflow_ids[customer]
        assert row["entry_message_id"] == f"signed_up-{customer}"
    assert Counter(e.id for e in executions) == Counter(workflow_ids.values()), "one run per enrollment"
    assert {e.status for e in executions} == {WorkflowExecutionStatus.COMPLETED}

    # Each workflow started by its customer's signed_up, and signalled once, with its activated.
    for customer, events in events_of.items():
        first = events[0]
        assert first.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
        [started] = await converter.decode(
            first.workflow_execution_started_event_attributes.input.payloads, [EnrollmentInput]
        )
        assert started.trigger_event is not None and started.trigger_event.id == f"signed_up-{customer}"
        assert await signalled_event_ids(converter, events) == [f"activated-{customer}"], customer

    # The outbox: one start and one signal per enrollment, all carried out, none pending or set aside.
    # (No signal is `gone`: every workflow was running, waiting for it, when its signals were sent.)
    assert not [dict(r) for r in outbox if not r["done"] or r["failed"]]
    for kind, outcome in (("start", "started"), ("signal", "signalled")):
        rows = [r for r in outbox if r["kind"] == kind]
        assert Counter(r["workflow_id"] for r in rows) == Counter(workflow_ids.values()), kind
        assert {r["outcome"] for r in rows} == {outcome}, kind

    # Emails: the expected ones, once each in the delivery log; every delivery (a duplicate too)
    # carries the Message-ID of its step's idempotency key.
    keys = dict(kv for c in customers for kv in expected_keys(journey_id, c))
    logged = Counter(r["idempotency_key"] for r in delivery_log)
    assert logged == Counter(keys.values()), "one delivery-log row per (enrollment, send)"
    assert all(
        r["status"] == "sent" and r["provider_message_id"] == message_id_for(r["idempotency_key"])
        for r in delivery_log
    )
    received = smtp_sink.messages()
    by_send: dict[tuple[str, str], set[str]] = defaultdict(set)
    for message in received:
        (recipient,) = message.rcpt_tos
        send = (recipient, message.subject)
        assert send in keys, send
        assert message.headers.get("X-Journeys-Idempotency-Key") == keys[send], message.headers
        assert message.message_id == message_id_for(keys[send]), (send, message.message_id)
        by_send[send].add(message.message_id)
    assert set(by_send) == set(keys), "every message arrived"
    assert all(len(ids) == 1 for ids in by_send.values())

    print(
        f"\n{CUSTOMERS} customers, {2 * BATCHES} batches: API killed with "
        f"{len(entries.cut)} + {len(signals.cut)} batches in flight, "
        f"{entries.resent_duplicates + signals.resent_duplicates} events found already stored on resend, "
        f"{entries.kills + signals.kills} API kills, "
        f"{sum((entries.failures + signals.failures).values())} attempts without an answer, "
        f"other answers {dict(entries.statuses + signals.statuses)}; "
        f"dispatcher killed mid-pass ({start_kill.attempts} + {signal_kill.attempts} kills): "
        f"starts {start_kill.dispatched} recorded / {start_kill.pending} not, "
        f"{len(start_kill.landed)} started but unrecorded; "
        f"signals {signal_kill.dispatched} recorded / {signal_kill.pending} not, "
        f"{len(signal_kill.landed)} signalled but unrecorded; "
        f"{len(received) - len(keys)} duplicate emails; "
        f"stages (s): {', '.join(f'{k} {v:.1f}' for k, v in marks.items())}, "
        f"checked {time.monotonic() - began:.1f}"
    )


# Every transaction that stores events takes 100 ms more to commit (a deferred trigger runs at COMMIT),
# so that an answer sent before the commit is seen before the rows are.
SLOW_COMMIT = """
    CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting('faults.slowed', true) IS DISTINCT FROM 'yes' THEN
            PERFORM set_config('faults.slowed', 'yes', true);
            PERFORM pg_sleep(0.1);
        END IF;
        RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON events DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION slow_commit();
"""


async def test_an_accepted_event_is_stored_before_its_answer(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    database_url: str,
    smtp_sink: SmtpSink,
) -> None:
    """202 means durable: the moment the answer arrives the events are in the database. An API that
    committed after answering (a teardown run after the response is sent, a background task) fails
    here, where the kill test above would catch it only by luck (a COMMIT PostgreSQL has received
    completes although the API dies)."""
    port = find_free_port()
    env = worker_environment(
        database_url,
        dev_env.client.service_client.config.target_host,
        settings,
        smtp_sink,
        JOURNEYS_API_HOST="127.0.0.1",
        JOURNEYS_API_PORT=str(port),
        JOURNEYS_JWT_SECRET=TEST_JWT_SECRET,
    )
    headers = {"Authorization": f"Bearer {token_for(TENANT)}"}
    with tempfile.TemporaryFile(prefix="journeys-api-") as api_log:
        api = Service("api", env, api_log)
        db = await asyncpg.create_pool(listen_dsn(database_url), min_size=1, max_size=1)
        await db.execute(SLOW_COMMIT)
        api.start()
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
            ) as http:
                await eventually(lambda: api_answers(http), timeout=60)
                for i in range(3):
                    batch = [track(f"durable-{i}-{j}", "signed_up") for j in range(BATCH_SIZE)]
                    answer = await http.post("/v1/events/batch", json={"batch": batch})
                    assert answer.status_code == 202, answer.text
                    assert not await unstored(db, [batch]), "answered 202 before the batch was committed"
                    single = track(f"durable-{i}", "signed_up")
                    answer = await http.post("/v1/events", json=single)
                    assert answer.status_code == 202, answer.text
                    assert not await unstored(db, [[single]]), "answered 202 before the event was committed"
        except BaseException:
            api_log.seek(0)
            print(f"----- api log (tail) -----\n{api_log.read().decode(errors='replace')[-5000:]}")
            raise
        finally:
            api.stop()
            await db.close()
