"""Test customers on the real stack: a never-published draft run for real (its emails arrive through the SMTP
sink, its wait hastened), listed under …/tests, stoppable, and counted nowhere — analytics, totals, the
enrollments list and the aggregates stay at zero."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from tests.conftest import ApiClientFor, RunWorker
from tests.support import chain, eventually

pytestmark = pytest.mark.e2e
_ids = itertools.count()


def hello_bye(**extra: Any) -> dict[str, Any]:
    """TRIGGER → SEND "Test hello" → WAIT 1 hour → SEND "Test bye" → EXIT."""
    return chain(
        {"id": "start", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}},
        {
            "id": "hello",
            "type": "SEND",
            "name": "Hello",
            "config": {"channel": "EMAIL", "subject": "Test hello", "body": "Hello {{ traits.firstName }}"},
        },
        {"id": "hour", "type": "WAIT", "name": "An hour", "config": {"duration": "1 hour"}},
        {
            "id": "bye",
            "type": "SEND",
            "name": "Bye",
            "config": {"channel": "EMAIL", "subject": "Test bye", "body": "Bye {{ traits.firstName }}"},
        },
        {"id": "done", "type": "EXIT"},
        name=f"Tested draft {next(_ids)}",
        **extra,
    )


async def draft(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    created = await http.post("/v1/journeys", json=body)
    assert created.status_code == 201, created.text
    journey_id: str = created.json()["id"]
    return journey_id


async def customer(http: httpx.AsyncClient, customer_id: str) -> str:
    traits = {"email": f"{customer_id}@example.com", "firstName": customer_id.title()}
    response = await http.put(f"/v1/customers/{customer_id}", json={"traits": traits})
    assert response.status_code in (200, 201), response.text
    return customer_id


def numbers(value: Any) -> list[float]:
    """Every number in a JSON answer (ids and timestamps are strings)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in numbers(v)]
    return []


async def test_a_draft_tested_for_two_customers_sends_its_emails_and_counts_nowhere(
    api_client_for: ApiClientFor, dev_env: WorkflowEnvironment, run_worker: RunWorker, smtp_sink: SmtpSink
) -> None:
    tenant = f"testers{uuid.uuid4().hex[:8]}"
    async with api_client_for(dev_env.client, tenant=tenant) as http, run_worker(dev_env.client):
        journey_id = await draft(http, hello_bye())
        ann, bob, cid = [await customer(http, name) for name in ("ann", "bob", "cid")]

        started = await http.post(
            f"/v1/journeys/{journey_id}/tests", json={"customerIds": [ann, bob], "speed": 3600}
        )
        assert started.status_code == 201, started.text
        runs = started.json()["data"]
        assert [(r["customerId"], r["test"], r["version"], r["status"]) for r in runs] == [
            (ann, True, 0, "ACTIVE"),
            (bob, True, 0, "ACTIVE"),
        ]

        # The hour's wait takes a second: both emails of both customers arrive within seconds.
        for name in (ann, bob):
            for subject in ("Test hello", "Test bye"):
                await smtp_sink.wait_for(
                    lambda m, n=name, s=subject: f"{n}@example.com" in m.rcpt_tos and m.subject == s,
                    timeout=30,
                )

        async def both_completed() -> list[dict[str, Any]] | None:
            listed = (await http.get(f"/v1/journeys/{journey_id}/tests")).json()
            done = [r for r in listed["data"] if r["status"] == "COMPLETED"]
            return listed["data"] if len(done) == 2 else None

        listed = await eventually(both_completed, timeout=30, what="both test runs completed")
        assert {r["customerId"] for r in listed} == {ann, bob} and all(r["test"] for r in listed)
        detail = await http.get(f"/v1/journeys/{journey_id}/enrollments/{runs[0]['id']}")
        assert detail.status_code == 200, detail.text
        assert detail.json()["test"] is True
        assert f"enrollment-test%3A{tenant}%3A{journey_id}%3Aann%3A1" in detail.json()["temporalUrl"] or (
            f"enrollment-test:{tenant}:{journey_id}:ann:1" in detail.json()["temporalUrl"]
        )
        assert [s["stepId"] for s in detail.json()["steps"]] == ["start", "hello", "hour", "bye", "done"]
        timeline = await http.get(f"/v1/journeys/{journey_id}/enrollments/{runs[0]['id']}/timeline")
        assert timeline.status_code == 200, timeline.text

        # A run at speed 1 waits its real hour: stopped mid-wait, it ends EXITED.
        slow = (await http.post(f"/v1/journeys/{journey_id}/tests", json={"customerIds": [cid]})).json()
        slow_id = slow["data"][0]["id"]
        await smtp_sink.wait_for(lambda m: f"{cid}@example.com" in m.rcpt_tos, timeout=30)

        async def waiting() -> bool:
            body = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{slow_id}")).json()
            return body["currentStepId"] == "hour"

        await eventually(waiting, timeout=30, what="the slow run in its wait")
        kept = await http.delete(f"/v1/journeys/{journey_id}")
        assert kept.status_code == 409, "a draft is not deleted under a test run still going"
        stopped = await http.delete(f"/v1/journeys/{journey_id}/tests/{slow_id}")
        assert stopped.status_code == 204, stopped.text

        async def exited() -> bool:
            body = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{slow_id}")).json()
            return body["status"] == "EXITED"

        await eventually(exited, timeout=30, what="the stopped run EXITED")
        assert not [
            m for m in smtp_sink.messages() if f"{cid}@example.com" in m.rcpt_tos and m.subject == "Test bye"
        ]
        listed_all = (await http.get(f"/v1/journeys/{journey_id}/tests")).json()
        assert listed_all["meta"]["total"] == 3 and listed_all["data"][0]["id"] == slow_id, "newest first"

        # Counted nowhere.
        analytics = await http.get(f"/v1/journeys/{journey_id}/analytics")
        assert analytics.status_code == 200, analytics.text
        assert sum(numbers(analytics.json())) == 0, analytics.json()
        journey = (await http.get(f"/v1/journeys/{journey_id}")).json()
        assert sum(numbers(journey["totals"])) == journey["totals"]["stepsCount"] == 5
        assert journey["_count"]["enrollments"] == 0
        enrollments = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()
        assert enrollments["meta"]["total"] == 0 and enrollments["data"] == []
        now = datetime.now(UTC)
        interval = f"{(now - timedelta(days=1)).isoformat()}/{(now + timedelta(hours=1)).isoformat()}"
        aggregates = await http.post(
            "/v1/analytics/journeys/aggregates/query",
            json={
                "interval": interval.replace("+00:00", "Z"),
                "metrics": ["nEnrolled", "nCompleted", "nExited", "nStepsEntered", "nMessagesSent"],
            },
        )
        assert aggregates.status_code == 200, aggregates.text
        assert sum(numbers(aggregates.json()["results"])) == 0, aggregates.json()
        graph = await http.get(f"/v1/journeys/{journey_id}/graph")
        assert graph.status_code == 200, graph.text
        counted = [n["counts"] for n in graph.json()["nodes"]] + [e["count"] for e in graph.json()["edges"]]
        assert len(counted) > 5 and sum(numbers(counted)) == 0, counted


async def test_bad_test_requests(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        broken = hello_bye()
        broken["edges"] = broken["edges"][:2]  # the last SEND and the EXIT are cut off
        broken_id = await draft(http, broken)
        refused = await http.post(f"/v1/journeys/{broken_id}/tests", json={"customerIds": ["x1"]})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"], "the draft's problems, as publish names them"

        journey_id = await draft(http, hello_bye())
        for body, field in (
            ({"customerIds": []}, "customerIds"),
            ({"customerIds": ["x1"], "speed": 0}, "speed"),
            ({"customerIds": ["x1"], "speed": 3601}, "speed"),
        ):
            response = await http.post(f"/v1/journeys/{journey_id}/tests", json=body)
            assert response.status_code == 422, (body, response.text)
            assert field in response.text
        unknown = await http.post(
            f"/v1/journeys/{journey_id}/tests", json={"customerIds": ["x1"], "version": 7}
        )
        assert unknown.status_code == 404, unknown.text
        not_a_test = await http.delete(f"/v1/journeys/{journey_id}/tests/{uuid.uuid4()}")
        assert not_a_test.status_code == 404, not_a_test.text

    async with api_client_for(None, tenant="other") as other:
        elsewhere = await other.post(f"/v1/journeys/{journey_id}/tests", json={"customerIds": ["x1"]})
        assert elsewhere.status_code == 404, elsewhere.text
        assert (await other.get(f"/v1/journeys/{journey_id}/tests")).status_code == 404


async def test_events_enter_real_enrollments_only_and_reach_a_running_test(
    api_client_for: ApiClientFor, dev_env: WorkflowEnvironment, run_worker: RunWorker, smtp_sink: SmtpSink
) -> None:
    body = hello_bye()
    body["nodes"][0]["config"] = {"triggerType": "EVENT", "event": "Signed Up"}
    async with api_client_for(dev_env.client) as http, run_worker(dev_env.client):
        journey_id = await draft(http, body)
        dan = await customer(http, f"dan{uuid.uuid4().hex[:6]}")
        started = await http.post(f"/v1/journeys/{journey_id}/tests", json={"customerIds": [dan]})
        assert started.status_code == 201, started.text
        again = await http.post(f"/v1/journeys/{journey_id}/tests", json={"customerIds": [dan]})
        assert again.json()["data"][0]["id"] == started.json()["data"][0]["id"], "a retry starts nothing new"
        published = await http.post(f"/v1/journeys/{journey_id}/publish")
        assert published.status_code == 200, published.text

        event = {"type": "track", "userId": dan, "event": "Signed Up", "messageId": uuid.uuid4().hex}
        answer = await http.post("/v1/events", json=event)
        assert answer.status_code == 202, answer.text
        assert answer.json()["enrolled"] == 1, "the running test run neither blocks nor is the entry"
        assert answer.json()["signalled"] == 1, "the event reaches the running test run as a signal"

        async def real_one() -> list[dict[str, Any]] | None:
            listed = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()["data"]
            return listed or None

        real = await eventually(real_one, timeout=30, what="the real enrollment")
        assert [(r["customerId"], r["test"], r["version"], r["entryNumber"]) for r in real] == [
            (dan, False, 1, 1)
        ]
        tests = (await http.get(f"/v1/journeys/{journey_id}/tests")).json()
        assert tests["meta"]["total"] == 1 and tests["data"][0]["version"] == 0
