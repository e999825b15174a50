"""The A/B readout: conversion per branch of every branching node in the journey report
(`conversion.branches`, docs/analytics.md "The A/B readout")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.interpreter import StepRecord
from domain.payloads import EnrollmentSnapshot, ProgressBatch
from store.repositories.enrollments import EnrollmentRepository
from tests.conftest import ApiClientFor
from tests.support import TENANT, chain, publish

T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
DAY = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"}

_SEND = {"channel": "EMAIL", "subject": "Hi", "body": "x"}
# A CONDITION whose id sorts after the SPLIT's, placed before it: the readout follows the path, not ids.
AB_TEST = {
    "name": "Subject line test",
    "nodes": [
        {"id": "start", "type": "TRIGGER"},
        {
            "id": "z-active",
            "type": "CONDITION",
            "name": "Active?",
            "config": {"rules": [{"field": "active", "operator": "eq", "value": True}]},
        },
        {
            "id": "ab",
            "type": "SPLIT",
            "name": "Subject A/B",
            "config": {
                "splits": [
                    {"key": "a", "percentage": 45},
                    {"key": "b", "percentage": 45},
                    {"key": "holdout", "percentage": 10},
                ]
            },
        },
        {"id": "mail-a", "type": "SEND", "config": _SEND},
        {"id": "mail-b", "type": "SEND", "config": _SEND},
        {"id": "done", "type": "END"},
    ],
    "edges": [
        {"sourceNodeId": "start", "targetNodeId": "z-active"},
        {"sourceNodeId": "z-active", "targetNodeId": "ab", "label": "yes"},
        {"sourceNodeId": "z-active", "targetNodeId": "done", "label": "no"},
        {"sourceNodeId": "ab", "targetNodeId": "mail-a", "label": "a"},
        {"sourceNodeId": "ab", "targetNodeId": "mail-b", "label": "b"},
        {"sourceNodeId": "ab", "targetNodeId": "done", "label": "holdout"},
        {"sourceNodeId": "mail-a", "targetNodeId": "done"},
        {"sourceNodeId": "mail-b", "targetNodeId": "done"},
    ],
}


def _step(node_id: str, node_type: str, branch: str | None = None, visit: int = 1) -> StepRecord:
    return StepRecord(
        node_id=node_id,
        node_type=node_type,
        name=node_id,
        visit=visit,
        status="COMPLETED",
        started_at=T0,
        completed_at=T0,
        branch=branch,
    )


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    journey_id: str,
    steps: list[StepRecord],
    *,
    converted: bool,
    version: int = 1,
    enrolled_at: datetime = T0,
) -> None:
    """One enrollment's row and step history, written by the projection's own batch write."""
    enrollment = uuid.uuid4()
    snapshot = EnrollmentSnapshot(
        tenant_id=TENANT,
        enrollment_id=str(enrollment),
        journey_id=journey_id,
        version=version,
        customer_id=f"c-{enrollment.hex[:12]}",
        entry_number=1,
        workflow_id=f"wf-{enrollment}",
        status="COMPLETED" if steps else "ACTIVE",
        converted=converted,
        current_step_id=None,
        waiting_until=None,
        enrolled_at=enrolled_at,
        completed_at=None,
        converted_at=enrolled_at + timedelta(hours=1) if converted else None,
    )
    async with sessions() as session, session.begin():
        await EnrollmentRepository(session).apply_progress(ProgressBatch(enrollment=snapshot, steps=steps))


def _through_split(branch: str, visits: int = 1) -> list[StepRecord]:
    return [
        _step("start", "TRIGGER"),
        _step("z-active", "CONDITION", "yes"),
        *(_step("ab", "SPLIT", branch, visit) for visit in range(1, visits + 1)),
    ]


def _row(node: str, name: str, kind: str, branch: str, enrolled: int, converted: int) -> dict[str, Any]:
    return {
        "nodeId": node,
        "nodeName": name,
        "nodeType": kind,
        "branch": branch,
        "enrolled": enrolled,
        "converted": converted,
        "rate": converted / enrolled if enrolled else 0.0,
    }


async def test_a_45_45_10_split_reads_out_per_branch(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """20 enrollments through a 45/45/10 SPLIT — a: 9 (3 converted), b: 9 (6), holdout: 2 (1) — answer
    exactly that per branch, after the CONDITION before it (every one by `yes`; `no` with zeros). An
    enrollment that left the split twice counts once; one that never reached it counts in no branch;
    the range and the version filter apply as they do to `conversion`."""
    async with api_client_for(None) as http:
        journey_id = await publish(http, AB_TEST)
        for branch, converted, lost in (("a", 3, 6), ("b", 6, 3), ("holdout", 1, 1)):
            for index in range(converted + lost):
                # one of a's converted ones went round the split twice (same sticky branch): counted once
                visits = 2 if (branch, index) == ("a", 0) else 1
                await _record(
                    sessions, journey_id, _through_split(branch, visits), converted=index < converted
                )
        await _record(sessions, journey_id, [_step("start", "TRIGGER")], converted=False)  # not there yet
        # outside the day: an earlier b, converted
        await _record(
            sessions, journey_id, _through_split("b"), converted=True, enrolled_at=T0 - timedelta(days=2)
        )
        # version 2, through a split the draft no longer has
        await _record(
            sessions,
            journey_id,
            [*_through_split("holdout"), _step("old-split", "SPLIT", "x")],
            converted=False,
            version=2,
        )
        url = f"/v1/journeys/{journey_id}/analytics"
        filtered = await http.get(url, params={**DAY, "version": "1"})
        everything = await http.get(url)
    assert filtered.status_code == everything.status_code == 200, (filtered.text, everything.text)

    conversion = filtered.json()["conversion"]
    assert (conversion["enrolled"], conversion["converted"]) == (21, 10)
    assert conversion["branches"] == [
        _row("z-active", "Active?", "CONDITION", "yes", 20, 10),
        _row("z-active", "Active?", "CONDITION", "no", 0, 0),
        _row("ab", "Subject A/B", "SPLIT", "a", 9, 3),
        _row("ab", "Subject A/B", "SPLIT", "b", 9, 6),
        _row("ab", "Subject A/B", "SPLIT", "holdout", 2, 1),
    ]
    assert [b["rate"] for b in conversion["branches"][2:]] == [3 / 9, 6 / 9, 0.5]

    # No range, all versions: the earlier b and the version-2 holdout count; the split the draft lost
    # comes last, under the name its steps recorded.
    assert everything.json()["conversion"]["branches"] == [
        _row("z-active", "Active?", "CONDITION", "yes", 22, 11),
        _row("z-active", "Active?", "CONDITION", "no", 0, 0),
        _row("ab", "Subject A/B", "SPLIT", "a", 9, 3),
        _row("ab", "Subject A/B", "SPLIT", "b", 10, 7),
        _row("ab", "Subject A/B", "SPLIT", "holdout", 3, 1),
        _row("old-split", "old-split", "SPLIT", "x", 1, 0),
    ]


async def test_a_journey_without_branching_nodes_reads_out_nothing(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with api_client_for(None) as http:
        journey_id = await publish(
            http,
            chain(
                {"id": "start", "type": "TRIGGER"},
                {"id": "mail", "type": "SEND", "config": _SEND},
                {"id": "done", "type": "END"},
            ),
        )
        steps = [_step("start", "TRIGGER"), _step("mail", "SEND"), _step("done", "END")]
        await _record(sessions, journey_id, steps, converted=True)
        await _record(sessions, journey_id, steps, converted=False)
        response = await http.get(f"/v1/journeys/{journey_id}/analytics")
    assert response.status_code == 200, response.text
    conversion = response.json()["conversion"]
    assert (conversion["enrolled"], conversion["converted"], conversion["rate"]) == (2, 1, 0.5)
    assert conversion["branches"] == []
