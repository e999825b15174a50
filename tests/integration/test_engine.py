"""The enrollment engine on the time-skipping server: events, goals, exits, lifecycle, re-entry."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from domain.events import EventRecord
from domain.payloads import EventSignal
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.integration.test_enrollment_workflow import save_history
from tests.support import (
    END,
    MAIL,
    TENANT,
    TRIGGER,
    awaiting,
    chain,
    enroll,
    eventually,
    handle_of,
    live,
    publish,
)


def send(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "SEND", "name": node_id, "config": dict(MAIL)}


def wait(node_id: str, duration: str) -> dict[str, Any]:
    return {"id": node_id, "type": "WAIT", "name": node_id, "config": {"duration": duration}}


def purchase(event_id: str, amount: int = 20, name: str = "purchase") -> EventSignal:
    return EventSignal(
        event=EventRecord(id=event_id, name=name, properties={"amount": amount}, timestamp=datetime.now(UTC))
    )


WAIT_FOR_PURCHASE = {
    "nodes": [
        TRIGGER,
        {"id": "welcome", "type": "SEND", "name": "welcome", "config": dict(MAIL)},
        {
            "id": "await",
            "type": "WAIT_FOR_EVENT",
            "name": "Await purchase",
            "config": {
                "event": "purchase",
                "rules": [{"field": "amount", "operator": "gte", "value": 10}],
                "timeout": "3 days",
            },
        },
        {"id": "thanks", "type": "SEND", "name": "thanks", "config": dict(MAIL)},
        {
            "id": "nudge",
            "type": "UPDATE",
            "name": "Tag as nudged",
            "config": {"updates": [{"field": "nudges", "action": "increment", "value": 1}]},
        },
        {"id": "done", "type": "END"},
        {"id": "gone", "type": "EXIT"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "welcome"},
        {"sourceNodeId": "welcome", "targetNodeId": "await"},
        {"sourceNodeId": "await", "targetNodeId": "thanks", "label": "matched"},
        {"sourceNodeId": "await", "targetNodeId": "nudge", "label": "timeout"},
        {"sourceNodeId": "thanks", "targetNodeId": "done"},
        {"sourceNodeId": "nudge", "targetNodeId": "gone"},
    ],
}


async def test_thirty_days_of_waits_finish_in_seconds(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = time_skipping_env.client
    body = chain(
        TRIGGER,
        send("d0"),
        wait("w1", "7 days"),
        send("d7"),
        wait("w2", "P14D"),
        send("d21"),
        wait("w3", "9 days"),
        send("d30"),
        END,
    )
    started = asyncio.get_running_loop().time()
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, body)
        enrollment = await enroll(http, journey_id, "long")
        result = await result_skipping_time(time_skipping_env, handle_of(client, journey_id, "long"))
        detail = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{enrollment['id']}")).json()
    assert result["status"] == "COMPLETED"
    assert asyncio.get_running_loop().time() - started < 30
    first, last = detail["steps"][0]["startedAt"], detail["steps"][-1]["completedAt"]
    assert datetime.fromisoformat(last) - datetime.fromisoformat(first) >= timedelta(days=30)
    assert len([m for m in smtp_sink.messages() if "long@example.com" in m.rcpt_tos]) == 4


async def test_wait_for_event_matched_and_timed_out(
    api_client_for: ApiClientFor, time_skipping_env: WorkflowEnvironment, run_worker: RunWorker
) -> None:
    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, {"name": "Await", **WAIT_FOR_PURCHASE})
        await enroll(http, journey_id, "buyer")
        await enroll(http, journey_id, "idler")
        buyer, idler = handle_of(client, journey_id, "buyer"), handle_of(client, journey_id, "idler")
        await awaiting(buyer, "event")
        await buyer.signal("event", purchase("too-small", amount=5))
        await buyer.signal("event", purchase("big-enough", amount=50))
        await buyer.signal("event", purchase("big-enough", amount=50))  # a duplicate delivery
        bought = await result_skipping_time(time_skipping_env, buyer)
        await save_history(buyer, "wait_for_event_matched")
        idled = await result_skipping_time(time_skipping_env, idler)
        await save_history(idler, "wait_for_event_timeout_update")
        idler_traits = (await http.get("/v1/customers/idler")).json()["traits"]
    assert bought["status"] == "COMPLETED"
    assert idled["status"] == "COMPLETED" and idler_traits["nudges"] == 1, "the UPDATE applied exactly once"


async def test_an_event_sent_before_the_wait_for_event_is_not_lost(
    api_client_for: ApiClientFor, time_skipping_env: WorkflowEnvironment, run_worker: RunWorker
) -> None:
    client = time_skipping_env.client
    body = {"name": "Early", **WAIT_FOR_PURCHASE}
    body["nodes"] = [*body["nodes"], wait("hour", "1 hour")]
    body["edges"] = [
        {"sourceNodeId": "start", "targetNodeId": "hour"},
        {"sourceNodeId": "hour", "targetNodeId": "welcome"},
        *body["edges"][1:],
    ]
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, body)
        await enroll(http, journey_id, "early")
        handle = handle_of(client, journey_id, "early")
        await awaiting(handle, "time")
        await handle.signal("event", purchase("early-bird"))
        result = await result_skipping_time(time_skipping_env, handle)
        detail = await http.get(f"/v1/journeys/{journey_id}/enrollments?status=COMPLETED")
    assert result["status"] == "COMPLETED" and detail.json()["meta"]["total"] == 1


async def test_goal_met_before_deadline_and_deadline_passed(
    api_client_for: ApiClientFor, time_skipping_env: WorkflowEnvironment, run_worker: RunWorker
) -> None:
    client = time_skipping_env.client
    body = chain(
        TRIGGER,
        wait("w", "30 days"),
        END,
        goalConfig={"type": "event", "config": {"eventName": "purchase"}, "deadline": 7},
    )
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, body)
        await enroll(http, journey_id, "converts")
        await enroll(http, journey_id, "abandons")
        converts = handle_of(client, journey_id, "converts")
        await awaiting(converts, "time")
        await converts.signal("event", purchase("p1"))
        converted = await result_skipping_time(time_skipping_env, converts)
        await save_history(converts, "goal_converted")
        abandoned = await result_skipping_time(time_skipping_env, handle_of(client, journey_id, "abandons"))
        await save_history(handle_of(client, journey_id, "abandons"), "goal_deadline_abandoned")
        totals = (await http.get(f"/v1/journeys/{journey_id}")).json()["totals"]
        analytics = (await http.get(f"/v1/journeys/{journey_id}/analytics")).json()
        only_converted = (await http.get(f"/v1/journeys/{journey_id}/enrollments?converted=true")).json()
    assert [row["customerId"] for row in only_converted["data"]] == ["converts"]
    conversion = analytics["conversion"]
    assert conversion["enrolled"] == 2 and conversion["converted"] == 1 and conversion["rate"] == 0.5
    assert conversion["timeToGoal"]["count"] == 1
    # Entry time comes from the API's clock, conversion time from the (skipped) workflow clock here.
    assert conversion["timeToGoal"]["p50Seconds"] >= 0
    assert converted["status"] == "COMPLETED" and converted["converted"] is True
    assert abandoned["status"] == "EXITED" and abandoned["converted"] is False
    assert "abandoned" in abandoned["reason"]
    assert totals["converted"] == 1 and totals["exited"] == 1 and totals["completed"] == 1


async def test_exit_criteria_and_api_exit_end_an_enrollment_mid_wait(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = time_skipping_env.client
    body = chain(
        TRIGGER, wait("w", "10 days"), send("late"), END, exitCriteria={"events": [{"event": "unsubscribed"}]}
    )
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, body)
        await enroll(http, journey_id, "quitter")
        await enroll(http, journey_id, "removed")
        quitter, removed = handle_of(client, journey_id, "quitter"), handle_of(client, journey_id, "removed")
        await awaiting(quitter, "time")
        await quitter.signal("event", purchase("u1", name="unsubscribed"))
        quit_result = await quitter.result()
        await save_history(quitter, "exit_criteria")

        await awaiting(removed, "time")
        assert (await http.delete(f"/v1/journeys/{journey_id}/enrollments/removed")).status_code == 204
        removed_result = await removed.result()
        assert (await http.delete(f"/v1/journeys/{journey_id}/enrollments/removed")).status_code == 204
        assert (await http.delete(f"/v1/journeys/{journey_id}/enrollments/stranger")).status_code == 404
        listed = (await http.get(f"/v1/journeys/{journey_id}/enrollments?status=EXITED")).json()
    assert quit_result["status"] == "EXITED" and quit_result["reason"] == "exit criteria: unsubscribed"
    assert removed_result["status"] == "EXITED" and removed_result["reason"] == "exited by API"
    assert listed["meta"]["total"] == 2
    assert not [m for m in smtp_sink.messages() if m.subject], "nobody reached the late send"


async def test_pause_resume_and_archive_reach_in_flight_enrollments(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = time_skipping_env.client
    body = chain(TRIGGER, wait("w", "1 day"), send("after"), END)
    customers = [f"held-{i}" for i in range(5)]
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, body)
        for customer in customers:
            await enroll(http, journey_id, customer)
        handles = [handle_of(client, journey_id, c) for c in customers]
        for handle in handles:
            await awaiting(handle, "time")
        control = client.get_workflow_handle(f"journey-control:{TENANT}:{journey_id}")

        paused = await http.post(f"/v1/journeys/{journey_id}/pause", json={"mode": "all"})
        assert paused.status_code == 200, paused.text
        assert await control.result() == 5
        await time_skipping_env.sleep(timedelta(days=2))
        for handle in handles:
            await awaiting(handle, "resume")
        assert smtp_sink.messages() == [], "held before the send"

        await http.post(f"/v1/journeys/{journey_id}/resume")
        for handle in handles[:3]:
            assert (await result_skipping_time(time_skipping_env, handle))["status"] == "COMPLETED"
        await save_history(handles[0], "pause_resume")

        # The last two are still running? No: resume released all five; archive a fresh batch instead.
        for handle in handles[3:]:
            await handle.result()
        await enroll(http, journey_id, "archived-1")
        doomed = handle_of(client, journey_id, "archived-1")
        await awaiting(doomed, "time")
        await http.post(f"/v1/journeys/{journey_id}/archive")
        archived = await result_skipping_time(time_skipping_env, doomed)
    assert archived["status"] == "EXITED" and archived["reason"] == "journey archived"
    assert len(smtp_sink.messages()) == 5


async def test_reentry_off_and_on_under_20_concurrent_entries(
    api_client_for: ApiClientFor, time_skipping_env: WorkflowEnvironment, run_worker: RunWorker
) -> None:
    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        await http.put("/v1/customers/racer", json={"traits": {"email": "racer@example.com"}})
        once = await publish(http, chain(TRIGGER, wait("w", "1 hour"), END))
        again = await publish(http, chain(TRIGGER, wait("w", "1 hour"), END, settings={"allowReentry": True}))
        for journey_id in (once, again):
            responses = await asyncio.gather(
                *(
                    http.post(f"/v1/journeys/{journey_id}/enrollments", json={"customerId": "racer"})
                    for _ in range(20)
                )
            )
            codes = sorted(r.status_code for r in responses)
            assert codes == [200] * 19 + [201], codes
            assert len({r.json()["id"] for r in responses}) == 1, "everyone got the same enrollment"
            listed = (await http.get(f"/v1/journeys/{journey_id}/enrollments?status=ACTIVE")).json()
            assert listed["meta"]["total"] == 1
            await result_skipping_time(time_skipping_env, handle_of(client, journey_id, "racer"))

        async def finished(journey_id: str) -> bool:
            rows = (await http.get(f"/v1/journeys/{journey_id}/enrollments?status=COMPLETED")).json()
            return bool(rows["meta"]["total"] == 1)

        await eventually(lambda: finished(once))
        await eventually(lambda: finished(again))
        refused = await http.post(f"/v1/journeys/{once}/enrollments", json={"customerId": "racer"})
        assert refused.status_code == 409 and "re-entry is off" in refused.json()["detail"]
        second = await http.post(f"/v1/journeys/{again}/enrollments", json={"customerId": "racer"})
        assert second.status_code == 201 and second.json()["entryNumber"] == 2
        # Leave nothing running: a workflow stranded on this test's task queue stalls the shared clock.
        await result_skipping_time(time_skipping_env, handle_of(client, again, "racer", entry=2))


async def test_a_reissued_start_keeps_the_version_the_enrollment_entered_on(
    api_client_for: ApiClientFor, dev_env: WorkflowEnvironment, run_worker: RunWorker
) -> None:
    """A workflow lost while its row is ACTIVE (e.g. Temporal restored from an older backup) is
    started again by a repeated entry: on version 1, although version 2 is live by then."""
    client = dev_env.client
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, chain(TRIGGER, wait("first", "1 hour"), END))
        await enroll(http, journey_id, "lost")
        handle = handle_of(client, journey_id, "lost")
        await awaiting(handle, "time")
        await client.workflow_service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(
                namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=handle.id)
            )
        )

        async def gone() -> bool:
            try:
                await handle.describe()
            except RPCError as exc:
                return exc.status == RPCStatusCode.NOT_FOUND
            return False

        await eventually(gone)
        second = chain(TRIGGER, wait("second", "1 hour"), END)
        canvas = await http.put(
            f"/v1/journeys/{journey_id}/canvas", json={"nodes": second["nodes"], "edges": second["edges"]}
        )
        assert canvas.status_code == 200, canvas.text
        republished = await http.post(f"/v1/journeys/{journey_id}/publish")
        assert republished.json()["version"] == 2

        again = await http.post(f"/v1/journeys/{journey_id}/enrollments", json={"customerId": "lost"})
        assert again.status_code == 200 and again.json()["version"] == 1
        restarted = handle_of(client, journey_id, "lost")
        await awaiting(restarted, "time")
        state = await live(restarted)
        assert (state.version, state.current_node_id) == (1, "first")
        await restarted.terminate(reason="done")


async def test_control_signals_without_input_from_an_operator(
    api_client_for: ApiClientFor, dev_env: WorkflowEnvironment, run_worker: RunWorker
) -> None:
    """`temporal workflow signal --name pause` with no --input: held, then exited, nothing stuck."""
    client = dev_env.client
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, chain(TRIGGER, wait("nap", "1 hour"), END))
        await enroll(http, journey_id, "bare")
        handle = handle_of(client, journey_id, "bare")
        await awaiting(handle, "time")
        await handle.signal("pause")

        async def held() -> bool:
            return (await live(handle)).paused

        await eventually(held)  # the wait in progress runs out first, then it holds
        await handle.signal("exit")
        result = await handle.result()
        assert (result["status"], result["reason"]) == ("EXITED", "exited")


EVERY_NODE_TYPE = {
    "name": "Every node type",
    "goalConfig": {"type": "attribute_match", "config": {"field": "plan", "value": "pro"}},
    "settings": {"timezone": "Europe/Paris"},
    "nodes": [
        TRIGGER,
        {
            "id": "upgrade",
            "type": "UPDATE",
            "name": "Upgrade",
            "config": {
                "updates": [
                    {"field": "plan", "action": "set", "value": "pro"},
                    {"field": "tags", "action": "add", "value": "trial"},
                ]
            },
        },
        {
            "id": "is-pro",
            "type": "CONDITION",
            "name": "Is pro?",
            "config": {"rules": [{"field": "plan", "operator": "eq", "value": "pro"}]},
        },
        {
            "id": "ab",
            "type": "SPLIT",
            "name": "A/B",
            "config": {"splits": [{"key": "a", "percentage": 50}, {"key": "b", "percentage": 50}]},
        },
        {"id": "morning", "type": "WAIT", "name": "Next 09:00", "config": {"until": {"time": "09:00"}}},
        {
            "id": "before-renewal",
            "type": "WAIT",
            "name": "Day before renewal",
            "config": {"untilTrait": {"field": "renewalDate", "offset": "-1 day"}},
        },
        {"id": "goal", "type": "GOAL_CHECK", "name": "Converted?"},
        {"id": "mail", "type": "SEND", "name": "Congrats", "config": dict(MAIL)},
        {"id": "won", "type": "END"},
        {"id": "lost", "type": "EXIT"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "upgrade"},
        {"sourceNodeId": "upgrade", "targetNodeId": "is-pro"},
        {"sourceNodeId": "is-pro", "targetNodeId": "ab", "label": "yes"},
        {"sourceNodeId": "is-pro", "targetNodeId": "lost", "label": "no"},
        {"sourceNodeId": "ab", "targetNodeId": "morning", "label": "a"},
        {"sourceNodeId": "ab", "targetNodeId": "before-renewal", "label": "b"},
        {"sourceNodeId": "morning", "targetNodeId": "goal"},
        {"sourceNodeId": "before-renewal", "targetNodeId": "goal"},
        {"sourceNodeId": "goal", "targetNodeId": "mail", "label": "yes"},
        {"sourceNodeId": "goal", "targetNodeId": "lost", "label": "no"},
        {"sourceNodeId": "mail", "targetNodeId": "won"},
    ],
}


async def test_every_node_type_in_one_journey(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    from domain.interpreter import split_bucket

    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, EVERY_NODE_TYPE)
        # One customer per split branch, found by the same sticky hash the engine uses.
        pool = (f"user-{i}" for i in itertools.count())
        branch_a = next(c for c in pool if split_bucket(journey_id, "ab", c) < 50)
        branch_b = next(c for c in pool if split_bucket(journey_id, "ab", c) >= 50)
        results = {}
        for customer, name in ((branch_a, "every_node_type_a"), (branch_b, "every_node_type_b")):
            # The shared time-skipping clock runs ahead of the wall clock: date traits follow the server.
            renewal = (await time_skipping_env.get_current_time() + timedelta(days=10)).isoformat()
            await enroll(http, journey_id, customer, renewalDate=renewal)
            handle = handle_of(client, journey_id, customer)
            results[customer] = await result_skipping_time(time_skipping_env, handle)
            await save_history(handle, name)
            detail = (await http.get(f"/v1/journeys/{journey_id}/enrollments?status=COMPLETED")).json()
        traits = (await http.get(f"/v1/customers/{branch_a}")).json()["traits"]
        rows = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()["data"]
        waited = {}
        for row in rows:
            steps = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{row['id']}")).json()["steps"]
            waits = [s for s in steps if s["stepType"] == "WAIT"]
            waited[row["customerId"]] = (
                waits[0]["stepId"],
                waits[0]["detail"],
                waits[0]["startedAt"],
                waits[0]["completedAt"],
            )
    assert all(r["status"] == "COMPLETED" and r["converted"] for r in results.values())
    assert traits["plan"] == "pro" and traits["tags"] == ["trial"]
    assert detail["meta"]["total"] == 2
    assert len(smtp_sink.messages()) == 2
    assert waited[branch_a][0] == "morning" and waited[branch_b][0] == "before-renewal"
    for customer in (branch_a, branch_b):
        assert waited[customer][1] is None, "a real wait, not skipped for want of data"
    started, ended = (datetime.fromisoformat(t) for t in waited[branch_b][2:])
    assert timedelta(days=8, hours=23) < ended - started <= timedelta(days=9, minutes=1)
