"""Per-enrollment actions end to end: the real API, Temporal Updates on a real dev server, a real worker,
the real SMTP sink. skipWait, setWait, moveTo, pause, resume and exit, their refusals (409 with the reason,
nothing changed), their 422s, the scope, and the audit log and timeline that keep who, what and why."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from devstack import SmtpSink, temporal_cli_path
from journeys.cli import app as cli_app
from plumbing.settings import Settings
from tests.conftest import ApiClientFor, RunWorker, token_for
from tests.e2e.test_real_sdks import served
from tests.integration.test_enrollment_workflow import save_history
from tests.support import END, TENANT, enroll, eventually, handle_of, live, publish

pytestmark = pytest.mark.e2e


def two_mails() -> dict[str, Any]:
    """TRIGGER → WAIT 3 days → SEND "First" → WAIT_FOR_EVENT purchase (2 days) → [timeout] "Nudge" → EXIT."""
    nodes = [
        {"id": "start", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}},
        {"id": "w1", "type": "WAIT", "name": "Three days", "config": {"duration": "3 days"}},
        {
            "id": "s1",
            "type": "SEND",
            "name": "First",
            "config": {"channel": "EMAIL", "subject": "First", "body": "1"},
        },
        {
            "id": "wfe",
            "type": "WAIT_FOR_EVENT",
            "name": "Await purchase",
            "config": {"event": "purchase", "timeout": "2 days"},
        },
        {
            "id": "s2",
            "type": "SEND",
            "name": "Nudge",
            "config": {"channel": "EMAIL", "subject": "Nudge", "body": "2"},
        },
        END,
    ]
    edges = [
        ("start", "w1", "next"),
        ("w1", "s1", "next"),
        ("s1", "wfe", "next"),
        ("wfe", "end", "matched"),
        ("wfe", "s2", "timeout"),
        ("s2", "end", "next"),
    ]
    return {
        "name": "Steering",
        "nodes": nodes,
        "edges": [{"sourceNodeId": s, "targetNodeId": t, "label": label} for s, t, label in edges],
    }


async def act(http: httpx.AsyncClient, journey_id: str, enrollment_id: str, **body: Any) -> httpx.Response:
    return await http.post(f"/v1/journeys/{journey_id}/enrollments/{enrollment_id}/actions", json=body)


async def test_skip_set_move_pause_resume_exit_and_their_refusals(
    api_client_for: ApiClientFor, dev_env: WorkflowEnvironment, run_worker: RunWorker, smtp_sink: SmtpSink
) -> None:
    async with api_client_for(dev_env.client) as http, run_worker(dev_env.client):
        journey_id = await publish(http, two_mails())
        ana = (await enroll(http, journey_id, "ana"))["id"]
        ben = (await enroll(http, journey_id, "ben"))["id"]
        ana_handle = handle_of(dev_env.client, journey_id, "ana")

        async def waiting_at(handle: Any, node: str) -> bool:
            return (await live(handle)).current_node_id == node

        await eventually(lambda: waiting_at(ana_handle, "w1"), what="ana waits at w1")

        # setWait: a deadline in the past ends the wait now; the first email goes out.
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        moved = await act(http, journey_id, ana, action="setWait", until=past, reason="launch moved up")
        assert moved.status_code == 200, moved.text
        first = await smtp_sink.wait_for(lambda m: "ana@example.com" in m.rcpt_tos, timeout=30)
        assert first.subject == "First"
        await eventually(lambda: waiting_at(ana_handle, "wfe"), what="ana waits for the purchase")

        # skipWait on a WAIT_FOR_EVENT takes its timeout branch: the nudge, then the end.
        skipped = await act(http, journey_id, ana, action="skipWait")
        assert skipped.status_code == 200, skipped.text
        nudge = await smtp_sink.wait_for(
            lambda m: "ana@example.com" in m.rcpt_tos and m.subject == "Nudge", timeout=30
        )
        assert nudge.subject == "Nudge"
        assert (await ana_handle.result())["status"] == "COMPLETED"
        ended = await act(http, journey_id, ana, action="exit")
        assert ended.status_code == 409 and "ended" in ended.json()["detail"], ended.text

        # ben: refusals first — each a 409 saying why, nothing changed.
        ben_handle = handle_of(dev_env.client, journey_id, "ben")
        await eventually(lambda: waiting_at(ben_handle, "w1"), what="ben waits at w1")
        before = await live(ben_handle)
        refused = await act(http, journey_id, ben, action="resume")
        assert refused.status_code == 409, refused.text
        assert refused.json()["detail"] == "the enrollment is not paused"
        problem = await act(http, journey_id, ben, action="moveTo", nodeId="nowhere")
        assert problem.status_code == 422, problem.text
        assert problem.headers["content-type"].startswith("application/problem+json")
        assert any(e["loc"][-1] == "nodeId" for e in problem.json()["errors"]), problem.text
        unknown = await act(http, journey_id, ben, action="teleport")
        assert unknown.status_code == 422 and any(e["loc"][-1] == "action" for e in unknown.json()["errors"])
        missing = await act(http, journey_id, ben, action="setWait")
        assert missing.status_code == 422, missing.text
        assert await live(ben_handle) == before, "a refused action changes nothing"

        # moveTo skips the first email: ben now waits for the purchase, with its fresh timeout.
        moved_to = await act(http, journey_id, ben, action="moveTo", nodeId="wfe", reason="already bought")
        assert moved_to.status_code == 200, moved_to.text
        state = moved_to.json()
        assert (state["currentStepId"], state["awaiting"], state["status"]) == ("wfe", "event", "ACTIVE")
        later = datetime.now(UTC) + timedelta(days=10)
        stretched = await act(http, journey_id, ben, action="setWait", until=later.isoformat())
        assert stretched.status_code == 200, stretched.text
        assert datetime.fromisoformat(stretched.json()["waitingUntil"]) == later

        paused = await act(http, journey_id, ben, action="pause", reason="investigating")
        assert paused.status_code == 200 and paused.json()["paused"] is True, paused.text
        again = await act(http, journey_id, ben, action="pause")
        assert again.status_code == 409 and again.json()["detail"] == "the enrollment is already paused"
        resumed = await act(http, journey_id, ben, action="resume")
        assert resumed.status_code == 200 and resumed.json()["paused"] is False, resumed.text

        exited = await act(http, journey_id, ben, action="exit", reason="asked us to stop")
        assert exited.status_code == 200, exited.text
        assert (exited.json()["status"], exited.json()["exitReason"]) == ("EXITED", "asked us to stop")
        assert (await ben_handle.result())["status"] == "EXITED"
        await save_history(ben_handle, "operator_actions")
        assert [m.subject for m in smtp_sink.messages() if "ben@example.com" in m.rcpt_tos] == []

        # Who, what and why: in the enrollment's timeline and in the audit log.
        async def actions_of(enrollment_id: str) -> list[dict[str, Any]]:
            response = await http.get(f"/v1/journeys/{journey_id}/enrollments/{enrollment_id}/timeline")
            assert response.status_code == 200, response.text
            return [e for e in response.json()["data"] if e["kind"] == "action"]

        ben_actions = await eventually(lambda: actions_of(ben), what="ben's actions in the timeline")
        # A body the API could not read (an unknown action, setWait without `until`) is kept without its name.
        assert [(a["action"], a["statusCode"], a["reason"]) for a in ben_actions] == [
            ("resume", 409, None),
            ("moveTo", 422, None),
            (None, 422, None),
            (None, 422, None),
            ("moveTo", 200, "already bought"),
            ("setWait", 200, None),
            ("pause", 200, "investigating"),
            ("pause", 409, None),
            ("resume", 200, None),
            ("exit", 200, "asked us to stop"),
        ]
        assert ben_actions[4]["nodeId"] == "wfe" and ben_actions[0]["subject"]
        audit = (await http.get("/v1/audit", params={"limit": 50})).json()["data"]
        assert {"action": "setWait", "until": past, "reason": "launch moved up"} in [
            e["detail"] for e in audit
        ]


async def test_actions_need_the_edit_scope(
    api_client_for: ApiClientFor, dev_env: WorkflowEnvironment, run_worker: RunWorker
) -> None:
    async with api_client_for(dev_env.client) as http, run_worker(dev_env.client):
        journey_id = await publish(http, two_mails())
        enrollment = (await enroll(http, journey_id, "cy"))["id"]
    viewer = ("journey:enrollment:view", "journey:journey:view")
    async with api_client_for(dev_env.client, scopes=viewer) as http:
        refused = await act(http, journey_id, enrollment, action="exit")
        assert refused.status_code == 403, refused.text
    async with api_client_for(dev_env.client, tenant="other") as http:
        hidden = await act(http, journey_id, enrollment, action="exit")
        assert hidden.status_code == 404, hidden.text
    described = await handle_of(dev_env.client, journey_id, "cy").describe()
    assert described.status == WorkflowExecutionStatus.RUNNING, "refused callers changed nothing"


async def test_the_cli_steers_through_the_api(
    api_client_for: ApiClientFor,
    dev_env: WorkflowEnvironment,
    run_worker: RunWorker,
    settings: Settings,
    database_url: str,
    smtp_sink: SmtpSink,
) -> None:
    """`journeys enrollment skip-wait …` against the API served on a real socket, as an operator runs it."""
    linked = settings.model_copy(
        update={"temporal_address": dev_env.client.service_client.config.target_host}
    )
    async with (
        api_client_for(dev_env.client) as http,
        run_worker(dev_env.client),
        served(linked, database_url) as base,
    ):
        journey_id = await publish(http, two_mails())
        enrollment = (await enroll(http, journey_id, "dee"))["id"]
        handle = handle_of(dev_env.client, journey_id, "dee")
        await eventually(lambda: _at(handle, "w1"), what="dee waits at w1")

        def run(*args: str) -> Result:
            return CliRunner().invoke(
                cli_app,
                ["enrollment", *args, journey_id, enrollment, "--api", base, "--token", token_for(TENANT)],
            )

        refused = await asyncio.to_thread(run, "resume")
        assert refused.exit_code == 1 and "the enrollment is not paused" in refused.output, refused.output
        skipped = await asyncio.to_thread(run, "skip-wait", "--reason", "from the CLI")
        assert skipped.exit_code == 0, skipped.output
        assert "ACTIVE" in skipped.output
        first = await smtp_sink.wait_for(lambda m: "dee@example.com" in m.rcpt_tos, timeout=30)
        assert first.subject == "First"


async def _at(handle: Any, node: str) -> bool:
    return (await live(handle)).current_node_id == node


async def test_the_documented_temporal_cli_update(
    api_client_for: ApiClientFor, dev_env: WorkflowEnvironment, run_worker: RunWorker
) -> None:
    """What docs/steering.md shows operators who live in the Temporal CLI: `temporal workflow update execute
    --name action`, answered with the state, or refused with the reason and nothing written."""
    async with api_client_for(dev_env.client) as http, run_worker(dev_env.client):
        journey_id = await publish(http, two_mails())
        await enroll(http, journey_id, "eve")
        handle = handle_of(dev_env.client, journey_id, "eve")
        await eventually(lambda: _at(handle, "w1"), what="eve waits at w1")
        address = dev_env.client.service_client.config.target_host

        async def update(body: str) -> tuple[int, str]:
            process = await asyncio.create_subprocess_exec(
                temporal_cli_path(),
                *("workflow", "update", "execute", "--address", address, "--workflow-id", handle.id),
                *("--name", "action", "--input", body),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await process.communicate()
            return process.returncode or 0, output.decode()

        events_before = len((await handle.fetch_history()).events)
        code, output = await update('{"action": "resume"}')
        assert code != 0 and "the enrollment is not paused" in output, output
        assert len((await handle.fetch_history()).events) == events_before, "a rejected update writes nothing"
        code, output = await update('{"action": "moveTo", "nodeId": "wfe", "reason": "ops"}')
        assert code == 0, output
        assert "currentNodeId:wfe" in output and "awaiting:event" in output, output
        assert (await live(handle)).awaiting == "event"
