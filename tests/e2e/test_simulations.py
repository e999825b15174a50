"""Simulations on the real stack: the API, the store's customers and segments, and — for exactness — the
same cohort run for real on the engine (a real worker, a real Temporal server), branch by branch."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

import domain.interpreter
import domain.simulation
import workflows.enrollment
from journeys.cli import app as cli_app
from plumbing.settings import get_settings
from tests.conftest import ApiClientFor, RunWorker
from tests.integration.test_segments import assign, create_segment
from tests.support import eventually, handle_of

pytestmark = pytest.mark.e2e


def tiers(name: str = "Tiers") -> dict[str, Any]:
    """TRIGGER → CONDITION plan = pro → yes: SPLIT 50/50 → (a: EXIT | b: EXIT); no: EXIT."""
    nodes = [
        {"id": "start", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}},
        {
            "id": "pro",
            "type": "CONDITION",
            "name": "Pro?",
            "config": {"combinator": "AND", "rules": [{"field": "plan", "operator": "eq", "value": "pro"}]},
        },
        {
            "id": "ab",
            "type": "SPLIT",
            "name": "A/B",
            "config": {"splits": [{"key": "a", "percentage": 50}, {"key": "b", "percentage": 50}]},
        },
        {"id": "xa", "type": "EXIT"},
        {"id": "xb", "type": "EXIT"},
        {"id": "xfree", "type": "EXIT"},
    ]
    edges = [
        ("start", "pro", "next"),
        ("pro", "ab", "yes"),
        ("pro", "xfree", "no"),
        ("ab", "xa", "a"),
        ("ab", "xb", "b"),
    ]
    return {
        "name": name,
        "nodes": nodes,
        "edges": [{"sourceNodeId": s, "targetNodeId": t, "label": label} for s, t, label in edges],
    }


async def create(http: httpx.AsyncClient, body: dict[str, Any], *, publish: bool = True) -> str:
    created = await http.post("/v1/journeys", json=body)
    assert created.status_code == 201, created.text
    journey_id: str = created.json()["id"]
    if publish:
        published = await http.post(f"/v1/journeys/{journey_id}/publish")
        assert published.status_code == 200, published.text
    return journey_id


async def customers(http: httpx.AsyncClient, prefix: str, n: int) -> list[str]:
    ids = [f"{prefix}{i}" for i in range(n)]
    for i, customer in enumerate(ids):
        traits = {"email": f"{customer}@example.com", "plan": "pro" if i % 3 else "free"}
        response = await http.put(f"/v1/customers/{customer}", json={"traits": traits})
        assert response.status_code in (200, 201), response.text
    return ids


def branches_of(body: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(b["nodeId"], b["label"]): b["count"] for b in body["branches"] if b["count"]}


async def test_simulated_branches_equal_the_engines_branch_by_branch(
    api_client_for: ApiClientFor, dev_env: WorkflowEnvironment, run_worker: RunWorker
) -> None:
    assert domain.simulation.step is domain.interpreter.step is workflows.enrollment.step, (
        "one code path: the simulator and the enrollment workflow call the same interpreter"
    )
    async with api_client_for(dev_env.client) as http, run_worker(dev_env.client):
        journey_id = await create(http, tiers())
        cohort = await customers(http, "ex", 36)

        simulated = await http.post(
            f"/v1/journeys/{journey_id}/simulations",
            json={"cohort": {"customerIds": cohort}, "horizon": "1 day"},
        )
        assert simulated.status_code == 200, simulated.text
        result = simulated.json()["result"]
        assert result["customers"] == 36 and result["statuses"] == {"COMPLETED": 36}
        expected = branches_of(result)
        assert expected[("pro", "yes")] == 24 and expected[("pro", "no")] == 12
        assert 0 < expected[("ab", "a")] < 24 and expected[("ab", "a")] + expected[("ab", "b")] == 24
        assert (await http.get("/v1/messages", params={"journeyId": journey_id})).json()["data"] == []
        listed = await http.get(f"/v1/journeys/{journey_id}/enrollments")
        assert listed.json()["meta"]["total"] == 0, "a simulation enrolls nobody"

        for customer in cohort:
            response = await http.post(
                f"/v1/journeys/{journey_id}/enrollments", json={"customerId": customer}
            )
            assert response.status_code == 201, response.text
        for customer in cohort:
            await handle_of(dev_env.client, journey_id, customer).result()

        async def real_branches() -> dict[tuple[str, str], int] | None:
            body = (await http.get(f"/v1/journeys/{journey_id}/analytics")).json()
            counted = branches_of(body)
            return counted if sum(counted.values()) == sum(expected.values()) else None

        assert await eventually(real_branches, timeout=30, what="the real run's branches") == expected


async def test_cohorts_by_segment_and_sample_scripted_events_and_the_record(
    api_client_for: ApiClientFor,
) -> None:
    async with api_client_for(None) as http:
        body = tiers("Scripted")
        body["nodes"].insert(
            1, {"id": "wfe", "type": "WAIT_FOR_EVENT", "config": {"event": "purchase", "timeout": "3 days"}}
        )
        body["nodes"].append({"id": "bought", "type": "EXIT"})
        body["edges"][0] = {"sourceNodeId": "start", "targetNodeId": "wfe"}
        body["edges"] += [
            {"sourceNodeId": "wfe", "targetNodeId": "bought", "label": "matched"},
            {"sourceNodeId": "wfe", "targetNodeId": "pro", "label": "timeout"},
        ]
        body["goalConfig"] = {"type": "event", "config": {"eventName": "purchase"}}
        journey_id = await create(http, body)
        cohort = await customers(http, "sg", 20)
        segment_id = (await create_segment(http, displayName="Sim cohort"))["id"]
        for customer in cohort[:10]:
            await assign(http, customer, {"segmentId": segment_id, "state": "Assigned"})

        answer = await http.post(
            f"/v1/journeys/{journey_id}/simulations",
            json={
                "cohort": {"segmentId": segment_id},
                "events": [{"after": "1 day", "event": "purchase", "share": 0.5}],
                "horizon": "10 days",
            },
        )
        assert answer.status_code == 200, answer.text
        simulation = answer.json()
        result = simulation["result"]
        assert (simulation["status"], simulation["customers"], simulation["version"]) == ("COMPLETED", 10, 1)
        matched = branches_of(result)[("wfe", "matched")]
        assert 0 < matched < 10 and result["conversion"]["converted"] == matched
        assert result["conversion"]["timeToGoal"]["p50"] == 86400.0
        assert len(result["samples"]) == 5 and result["samples"][0]["path"][0] == "start"
        again = await http.get(f"/v1/journeys/{journey_id}/simulations/{simulation['id']}")
        assert again.status_code == 200 and again.json()["result"] == result

        sampled = await http.post(f"/v1/journeys/{journey_id}/simulations", json={"cohort": {"sample": 7}})
        assert sampled.status_code == 200 and sampled.json()["customers"] == 7
        draft = await http.post(
            f"/v1/journeys/{journey_id}/simulations", json={"version": "draft", "cohort": {"sample": 3}}
        )
        assert draft.status_code == 200 and draft.json()["version"] is None


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        ({"cohort": {"customerIds": []}}, 422, ["body", "cohort"]),
        ({"cohort": {"sample": 3}, "horizon": "400 days"}, 422, ["body", "horizon"]),
        (
            {"cohort": {"sample": 3}, "horizon": "2 days", "events": [{"after": "3 days", "event": "x"}]},
            422,
            ["body", "events", 0, "after"],
        ),
        (
            {"cohort": {"sample": 3, "segmentId": "6f1c2a52-8d1e-4c1b-9a57-3f1e2d4c5b6a"}},
            422,
            ["body", "cohort"],
        ),
        ({"cohort": {"sample": 3}, "version": 9}, 404, None),
    ],
)
async def test_bad_input_names_the_field(
    api_client_for: ApiClientFor, body: dict[str, Any], status: int, where: list[Any] | None
) -> None:
    async with api_client_for(None) as http:
        journey_id = await create(http, tiers("Bad input"))
        await customers(http, "bad", 3)
        response = await http.post(f"/v1/journeys/{journey_id}/simulations", json=body)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        if where is not None:
            assert any(e["loc"][: len(where)] == where for e in response.json()["errors"]), response.text


async def test_a_draft_that_is_not_publishable_is_a_422_with_its_problems(
    api_client_for: ApiClientFor,
) -> None:
    async with api_client_for(None) as http:
        broken = tiers("Broken")
        broken["edges"] = broken["edges"][:2]  # the SPLIT and the 'no' branch lead nowhere
        journey_id = await create(http, broken, publish=False)
        response = await http.post(
            f"/v1/journeys/{journey_id}/simulations", json={"version": "draft", "cohort": {"sample": 1}}
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == "the draft is not publishable" and response.json()["errors"]


async def test_the_cli_prints_the_per_node_table(
    api_client_for: ApiClientFor, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with api_client_for(None, tenant="cli-sim") as http:
        journey_id = await create(http, tiers("From the CLI"))
        await customers(http, "cli", 12)
    monkeypatch.setenv("JOURNEYS_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        args = ["simulate", journey_id, "--cohort", "sample:12", "--horizon", "7d", "--tenant", "cli-sim"]
        ran = await asyncio.to_thread(CliRunner().invoke, cli_app, args)
        refused = await asyncio.to_thread(
            CliRunner().invoke, cli_app, [*args[:-2], "--tenant", "cli-sim", "--horizon", "999d"]
        )
    finally:
        get_settings.cache_clear()
    assert ran.exit_code == 0, ran.output
    assert "12 customers simulated" in ran.output and "Pro?" in ran.output and "A/B → a" in ran.output
    assert refused.exit_code == 1 and "body.horizon: at most 366 days" in refused.output, refused.output
