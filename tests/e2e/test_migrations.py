"""Migrations end to end: enrollments waiting on version 1 move to version 2 and send version 2's content.

The real stack: the API, the project's worker on a time-skipping Temporal server, PostgreSQL and the SMTP
sink. A dry run counts what would move and changes nothing; a real run moves every waiting enrollment of
version 1 whose node is mapped (keeping its wait's deadline) and leaves the one at an unmapped node on
version 1; when the wait ends each customer gets exactly one email, with the content of its version. A
worker lost in the middle of a migration loses nothing and sends nothing twice; the request's faults are
422s naming the field, another tenant's journey and an unknown migration 404s.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import IO, Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

import services.migrations
from devstack import SmtpSink
from domain.actions import EnrollmentAction
from domain.payloads import UPDATE_ACTION, EnrollmentStateView
from plumbing.settings import Settings
from store.rows import MigrationRow
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.support import (
    WorkerProcess,
    enroll,
    eventually,
    handle_of,
    live,
    publish,
    worker_environment,
)

pytestmark = pytest.mark.e2e

REGULARS = ("ann", "bob", "cid")
VIP = "vic"


def mail(node_id: str, subject: str) -> dict[str, Any]:
    body = {"channel": "EMAIL", "subject": subject, "body": "Hello {{ traits.firstName }}"}
    return {"id": node_id, "type": "SEND", "name": subject, "config": body}


def journey(version: int, name: str) -> dict[str, Any]:
    """TRIGGER(MANUAL) → CONDITION plan = vip: yes → WAIT 2 days → SEND; no → WAIT 1 day → SEND → EXIT.

    Version 1's regular wait is `w` and its mails say "Old"; version 2 renames the wait `day` and its
    mails say "New" (the VIP path keeps its node ids, and is not mapped)."""
    wait_id = "w" if version == 1 else "day"
    word = "Old" if version == 1 else "New"
    nodes = [
        {"id": "start", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}},
        {
            "id": "vip",
            "type": "CONDITION",
            "name": "VIP?",
            "config": {"rules": [{"field": "plan", "operator": "eq", "value": "vip"}]},
        },
        {"id": "vip-wait", "type": "WAIT", "name": "Two days", "config": {"duration": "2 days"}},
        mail("vip-mail", f"{word} VIP"),
        {"id": wait_id, "type": "WAIT", "name": "A day", "config": {"duration": "1 day"}},
        mail("mail", word),
        {"id": "done", "type": "EXIT"},
    ]
    edges = [
        {"sourceNodeId": "start", "targetNodeId": "vip"},
        {"sourceNodeId": "vip", "targetNodeId": "vip-wait", "label": "yes"},
        {"sourceNodeId": "vip", "targetNodeId": wait_id, "label": "no"},
        {"sourceNodeId": "vip-wait", "targetNodeId": "vip-mail"},
        {"sourceNodeId": "vip-mail", "targetNodeId": "done"},
        {"sourceNodeId": wait_id, "targetNodeId": "mail"},
        {"sourceNodeId": "mail", "targetNodeId": "done"},
    ]
    return {"name": name, "nodes": nodes, "edges": edges}


async def publish_both(http: httpx.AsyncClient) -> str:
    """Version 1 published, then version 2 (its draft saved over the canvas and published)."""
    name = f"Migration {uuid.uuid4().hex[:6]}"
    journey_id = await publish(http, journey(1, name))
    v2 = journey(2, name)
    saved = await http.put(
        f"/v1/journeys/{journey_id}/canvas", json={"nodes": v2["nodes"], "edges": v2["edges"]}
    )
    assert saved.status_code == 200, saved.text
    published = await http.post(f"/v1/journeys/{journey_id}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["version"] == 2
    return journey_id


async def enrollments(http: httpx.AsyncClient, journey_id: str) -> dict[str, dict[str, Any]]:
    listed = await http.get(f"/v1/journeys/{journey_id}/enrollments", params={"limit": 200})
    assert listed.status_code == 200, listed.text
    return {e["customerId"]: e for e in listed.json()["data"]}


async def all_waiting(http: httpx.AsyncClient, journey_id: str, count: int) -> dict[str, dict[str, Any]]:
    """The enrollments once the projection has every one of them at a wait."""

    async def check() -> dict[str, dict[str, Any]] | None:
        rows = await enrollments(http, journey_id)
        waiting = [e for e in rows.values() if e["waitingUntil"] is not None]
        return rows if len(waiting) == count else None

    return await eventually(check, timeout=60, what="every enrollment waiting in the projection")


async def finished(http: httpx.AsyncClient, path: str, timeout: float = 60) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await http.get(path)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body["status"] != "RUNNING" else None

    return await eventually(check, timeout=timeout, interval=0.2, what="the migration to finish")


async def test_a_migration_moves_waiting_enrollments_to_version_2_and_they_send_its_content(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    env = own_time_skipping_env
    async with api_client_for(env.client) as http, run_worker(env.client):
        name = f"Migration {uuid.uuid4().hex[:6]}"
        journey_id = await publish(http, journey(1, name))
        for customer in REGULARS:
            await enroll(http, journey_id, customer)
        await enroll(http, journey_id, VIP, plan="vip")
        before = await all_waiting(http, journey_id, 4)
        assert {c: (e["version"], e["currentStepId"]) for c, e in before.items()} == {
            **{c: (1, "w") for c in REGULARS},
            VIP: (1, "vip-wait"),
        }
        v2 = journey(2, name)
        saved = await http.put(
            f"/v1/journeys/{journey_id}/canvas", json={"nodes": v2["nodes"], "edges": v2["edges"]}
        )
        assert saved.status_code == 200, saved.text
        assert (await http.post(f"/v1/journeys/{journey_id}/publish")).json()["version"] == 2

        path = f"/v1/journeys/{journey_id}/migrations"
        plan = {"fromVersion": 1, "toVersion": 2, "nodeMap": {"w": "day"}}
        dry = await http.post(path, json={**plan, "dryRun": True})
        assert dry.status_code == 200, dry.text
        assert dry.json() == {
            "fromVersion": 1,
            "toVersion": 2,
            "dryRun": True,
            "moves": [{"fromNodeId": "w", "toNodeId": "day", "count": 3}],
            "unmapped": [{"nodeId": "vip-wait", "count": 1}],
        }
        assert await enrollments(http, journey_id) == before, "a dry run changes nothing"
        assert (await live(handle_of(env.client, journey_id, "ann"))).version == 1

        started = await http.post(path, json=plan)
        assert started.status_code == 202, started.text
        migration = started.json()
        assert migration["status"] == "RUNNING" and migration["id"]
        assert started.headers["Location"] == f"{path}/{migration['id']}"
        assert (migration["fromVersion"], migration["toVersion"], migration["nodeMap"]) == (
            1,
            2,
            {"w": "day"},
        )
        assert migration["subject"]

        done = await finished(http, f"{path}/{migration['id']}")
        async with api_client_for(env.client, tenant="globex") as other:
            assert (await other.get(f"{path}/{migration['id']}")).status_code == 404, "another tenant's"
        assert (done["status"], done["moved"], done["skipped"], done["failed"]) == ("COMPLETED", 3, 1, 0)
        assert done["error"] is None and done["completedAt"] is not None

        for customer in REGULARS:
            view = await live(handle_of(env.client, journey_id, customer))
            assert (view.version, view.current_node_id) == (2, "day")
        assert (await live(handle_of(env.client, journey_id, VIP))).version == 1

        async def projected() -> dict[str, dict[str, Any]] | None:
            rows = await enrollments(http, journey_id)
            return rows if all(rows[c]["version"] == 2 for c in REGULARS) else None

        after = await eventually(projected, what="the moved enrollments' version in the projection")
        for customer in REGULARS:
            assert after[customer]["currentStepId"] == "day"
            assert after[customer]["waitingUntil"] == before[customer]["waitingUntil"], (
                "a WAIT keeps its deadline"
            )
        assert after[VIP] == before[VIP], "an enrollment at an unmapped node stays where it is"
        assert smtp_sink.messages() == [], "nothing sent before the waits end"

        for customer in (*REGULARS, VIP):
            result = await result_skipping_time(env, handle_of(env.client, journey_id, customer))
            assert result["status"] == "COMPLETED"
        sent = {(m.rcpt_tos[0].split("@")[0], m.subject) for m in smtp_sink.messages()}
        assert len(smtp_sink.messages()) == 4, [m.subject for m in smtp_sink.messages()]
        assert sent == {*((c, "New") for c in REGULARS), (VIP, "Old VIP")}


async def test_the_request_s_faults_name_their_field_and_other_tenants_see_nothing(
    api_client_for: ApiClientFor,
) -> None:
    async with api_client_for(None) as http, api_client_for(None, tenant="globex") as other:
        journey_id = await publish_both(http)
        path = f"/v1/journeys/{journey_id}/migrations"

        async def fault(body: dict[str, Any]) -> list[Any]:
            response = await http.post(path, json=body)
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            return [error["loc"] for error in response.json()["errors"]]

        plan: dict[str, Any] = {"fromVersion": 1, "toVersion": 2, "nodeMap": {"w": "day"}}
        assert await fault({**plan, "fromVersion": 3}) == [["fromVersion"]]
        assert await fault({**plan, "toVersion": 9, "dryRun": True}) == [["toVersion"]]
        assert await fault({**plan, "toVersion": 1, "nodeMap": {"w": "w"}}) == [["toVersion"]]
        assert await fault({**plan, "nodeMap": {"nope": "day"}}) == [["nodeMap", "nope"]]
        assert await fault({**plan, "nodeMap": {"w": "nope"}}) == [["nodeMap", "w"]]
        assert await fault({**plan, "nodeMap": {"w": "start"}}) == [["nodeMap", "w"]], "not the TRIGGER"
        assert await fault({**plan, "nodeMap": {}}) == [["nodeMap"]], "a real run moves something"
        assert await fault({"toVersion": 2}) == [["body", "fromVersion"]]
        empty = await http.post(path, json={**plan, "nodeMap": {}, "dryRun": True})
        assert empty.status_code == 200, "a dry run with no map shows where everyone is"

        assert (await other.post(path, json={**plan, "dryRun": True})).status_code == 404
        assert (await other.post(path, json=plan)).status_code == 404
        unknown = await http.get(f"{path}/{uuid.uuid4()}")
        assert unknown.status_code == 404 and unknown.json()["detail"].startswith("migration ")
        assert (await http.get(f"{path}/not-a-uuid")).status_code == 404
        elsewhere = f"/v1/journeys/{uuid.uuid4()}/migrations"
        assert (await http.post(elsewhere, json={**plan, "dryRun": True})).status_code == 404


CROWD = 24
PAGE = 5


async def test_a_worker_lost_mid_migration_loses_nothing_and_sends_nothing_twice(
    api_client_for: ApiClientFor,
    dev_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
    settings: Settings,
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    worker_log: IO[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker process is SIGKILLed after the first page's Updates were answered and before its totals
    were written (the test holds the migration's row locked); a new worker moves that page again: those
    enrollments answer with their first outcome (the same update id), every enrollment is counted and
    moved exactly once, and each sends version 2's email once when its wait ends (skipped by an operator's
    `skipWait`: a dev server, whose clock cannot jump, hands a lost worker's cached enrollments to the next
    worker as production does — the time-skipping test server never does)."""
    monkeypatch.setattr(services.migrations, "PAGE_SIZE", PAGE)
    client = dev_env.client
    customers = [f"crowd-{n:02}" for n in range(CROWD)]
    async with api_client_for(client) as http:
        async with run_worker(client):
            journey_id = await publish(http, journey(1, f"Crowd {uuid.uuid4().hex[:6]}"))
            for customer in customers:
                await enroll(http, journey_id, customer)
            before = await all_waiting(http, journey_id, CROWD)
        v2 = journey(2, "Crowd")
        saved = await http.put(
            f"/v1/journeys/{journey_id}/canvas", json={"nodes": v2["nodes"], "edges": v2["edges"]}
        )
        assert saved.status_code == 200, saved.text
        assert (await http.post(f"/v1/journeys/{journey_id}/publish")).json()["version"] == 2

        # No worker runs: the migration is recorded and its workflow started, nothing moves yet.
        path = f"/v1/journeys/{journey_id}/migrations"
        started = await http.post(path, json={"fromVersion": 1, "toVersion": 2, "nodeMap": {"w": "day"}})
        assert started.status_code == 202, started.text
        migration_path = f"{path}/{started.json()['id']}"
        environment = worker_environment(
            database_url, client.service_client.config.target_host, settings, smtp_sink
        )
        first = WorkerProcess(environment, worker_log)
        second = WorkerProcess(environment, worker_log)
        try:
            async with sessions() as lock, lock.begin():
                await lock.execute(
                    select(MigrationRow.id)
                    .where(MigrationRow.id == uuid.UUID(started.json()["id"]))
                    .with_for_update()
                )
                first.start()

                async def first_page_moved() -> bool:
                    rows = await enrollments(http, journey_id)
                    return sum(e["version"] == 2 for e in rows.values()) >= PAGE

                await eventually(first_page_moved, timeout=120, what="the first page moved")
                await asyncio.sleep(1)  # were the page's totals written, a second page would move now
                rows = await enrollments(http, journey_id)
                assert sum(e["version"] == 2 for e in rows.values()) == PAGE, "held at the first page"
                progress = (await http.get(migration_path)).json()
                assert (progress["status"], progress["moved"]) == ("RUNNING", 0), "its totals not written"
                first.kill()
            second.start()
            done = await finished(http, migration_path, timeout=180)
            assert (done["status"], done["moved"], done["skipped"], done["failed"]) == (
                "COMPLETED",
                CROWD,
                0,
                0,
            )
            for customer in customers:
                view = await live(handle_of(client, journey_id, customer))
                assert (view.version, view.current_node_id) == (2, "day")

            async def projected() -> dict[str, dict[str, Any]] | None:
                rows = await enrollments(http, journey_id)
                return rows if all(rows[c]["version"] == 2 for c in customers) else None

            after = await eventually(projected, what="every enrollment on version 2 in the projection")
            for customer in customers:
                assert after[customer]["waitingUntil"] == before[customer]["waitingUntil"]
            assert smtp_sink.messages() == []

            skip = EnrollmentAction(action="skipWait", reason="the test's day is short")
            for customer in customers:
                handle = handle_of(client, journey_id, customer)
                await handle.execute_update(UPDATE_ACTION, skip, result_type=EnrollmentStateView)
            for customer in customers:
                result = await handle_of(client, journey_id, customer).result()
                assert result["status"] == "COMPLETED"
        finally:
            first.stop()
            second.stop()
        received = Counter((m.rcpt_tos[0].split("@")[0], m.subject) for m in smtp_sink.messages())
        assert received == Counter({(customer, "New"): 1 for customer in customers})
