"""An enrollment's timeline on the real stack (time-skipping Temporal, worker, API, PostgreSQL, SMTP sink):
a CONDITION names its rule with the expected and actual values (an email masked) and the branch, then the
messages, the wait with its deadline, operator actions and the event it received, in time order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from temporalio.testing import WorkflowEnvironment

from devstack import SmtpSink
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.support import eventually, moved_on, publish


def mail(node_id: str, subject: str) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "SEND",
        "config": {"channel": "EMAIL", "subject": subject, "body": subject},
    }


def plan_journey() -> dict[str, Any]:
    rules = [
        {"field": "plan", "operator": "eq", "value": "pro"},
        {"field": "email", "operator": "contains", "value": "@example.com"},
    ]
    return {
        "name": "Pro welcome",
        "nodes": [
            {"id": "start", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}},
            {"id": "is-pro", "type": "CONDITION", "name": "Pro?", "config": {"rules": rules}},
            mail("pro-mail", "Welcome, pro"),
            mail("upgrade-mail", "Go pro"),
            {
                "id": "order",
                "type": "WAIT_FOR_EVENT",
                "config": {"event": "Order Completed", "timeout": "1 day"},
            },
            mail("thanks", "Thanks for your order"),
            {"id": "done", "type": "EXIT"},
        ],
        "edges": [
            {"sourceNodeId": "start", "targetNodeId": "is-pro"},
            {"sourceNodeId": "is-pro", "targetNodeId": "pro-mail", "label": "yes"},
            {"sourceNodeId": "is-pro", "targetNodeId": "upgrade-mail", "label": "no"},
            {"sourceNodeId": "pro-mail", "targetNodeId": "order"},
            {"sourceNodeId": "upgrade-mail", "targetNodeId": "done"},
            {"sourceNodeId": "order", "targetNodeId": "thanks", "label": "matched"},
            {"sourceNodeId": "order", "targetNodeId": "done", "label": "timeout"},
            {"sourceNodeId": "thanks", "targetNodeId": "done"},
        ],
    }


async def test_a_timeline_says_why(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    env = own_time_skipping_env
    async with api_client_for(env.client) as http, run_worker(env.client):
        journey_id = await publish(http, plan_journey())
        traits = {"email": "lee.jones@example.com", "plan": "pro"}
        assert (await http.put("/v1/customers/lee", json={"traits": traits})).status_code in (200, 201)
        enrolled = await http.post(f"/v1/journeys/{journey_id}/enrollments", json={"customerId": "lee"})
        assert enrolled.status_code == 201, enrolled.text
        enrollment = f"/v1/journeys/{journey_id}/enrollments/{enrolled.json()['id']}"

        async def waiting() -> list[dict[str, Any]] | None:
            data: list[dict[str, Any]] = (await http.get(f"{enrollment}/timeline")).json()["data"]
            return data if any(e["kind"] == "wait" and e["nodeId"] == "order" for e in data) else None

        during = await eventually(waiting, what="the timeline shows the wait for an order")
        [wait] = [e for e in during if e["kind"] == "wait"]
        assert wait["awaiting"] == "event" and wait["endedAt"] is None and wait["zone"] is None
        assert datetime.fromisoformat(wait["waitingUntil"]) - datetime.fromisoformat(wait["at"]) == (
            datetime(2026, 1, 2, tzinfo=UTC) - datetime(2026, 1, 1, tzinfo=UTC)
        )

        assert (await http.post(f"/v1/journeys/{journey_id}/pause")).status_code == 200
        assert (await http.post(f"/v1/journeys/{journey_id}/resume")).status_code == 200
        order = {
            "type": "track",
            "userId": "lee",
            "event": "Order Completed",
            "messageId": "timeline-order-1",
            "timestamp": datetime.now(UTC).isoformat(),
        }
        assert (await http.post("/v1/events", json=order)).status_code == 202
        detail = (await http.get(enrollment)).json()
        handle = env.client.get_workflow_handle(unquote(detail["temporalUrl"].rsplit("/", 1)[-1]))
        await moved_on(handle, "event")
        assert (await result_skipping_time(env, handle))["status"] == "COMPLETED"
        await smtp_sink.wait_for(lambda m: m.subject == "Thanks for your order", timeout=20)

        async def written() -> list[dict[str, Any]] | None:
            response = await http.get(f"{enrollment}/timeline")
            assert response.status_code == 200, response.text
            data: list[dict[str, Any]] = response.json()["data"]
            done = any(e["kind"] == "step" and e["nodeId"] == "done" for e in data)
            return data if done and sum(e["kind"] == "message" for e in data) == 2 else None

        timeline = await eventually(written, what="the finished enrollment's timeline")
        ats = [datetime.fromisoformat(e["at"]) for e in timeline]
        assert ats == sorted(ats), "in time order"

        [decided] = [e for e in timeline if e["kind"] == "step" and e["nodeId"] == "is-pro"]
        assert (decided["type"], decided["status"], decided["branch"]) == ("CONDITION", "COMPLETED", "yes")
        decision = decided["decision"]
        assert (decision["branch"], decision["combinator"]) == ("yes", "AND")
        assert [
            (r["field"], r["operator"], r["expected"], r["actual"], r["result"]) for r in decision["rules"]
        ] == [
            ("plan", "eq", "pro", "pro", True),
            ("email", "contains", "@example.com", "l***@example.com", True),
        ]
        assert "lee.jones" not in str(timeline), "the customer's address is masked"

        messages = [e for e in timeline if e["kind"] == "message"]
        assert [(m["nodeId"], m["channel"], m["status"]) for m in messages] == [
            ("pro-mail", "EMAIL", "sent"),
            ("thanks", "EMAIL", "sent"),
        ]
        assert all(m["providerMessageId"] for m in messages) and messages[0]["reason"] is None
        [event] = [e for e in timeline if e["kind"] == "event"]
        assert (event["id"], event["name"], event["entry"]) == ("timeline-order-1", "Order Completed", False)
        actions = [e for e in timeline if e["kind"] == "action"]
        assert [(a["method"], a["path"].rsplit("/", 1)[-1], a["statusCode"]) for a in actions] == [
            ("POST", "pause", 200),
            ("POST", "resume", 200),
        ]
        [ended] = [e for e in timeline if e["kind"] == "wait"]
        assert ended["endedAt"] is not None and ended["waitingUntil"] == wait["waitingUntil"]

        def position(kind: str, node: str) -> int:
            return next(i for i, e in enumerate(timeline) if e["kind"] == kind and e.get("nodeId") == node)

        assert position("step", "is-pro") < position("message", "pro-mail") < position("step", "order")
        assert timeline.index(event) < position("message", "thanks")

    async with api_client_for(env.client, tenant="globex") as other:
        assert (await other.get(f"{enrollment}/timeline")).status_code == 404
