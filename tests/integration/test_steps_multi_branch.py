"""The steps endpoints with a multi-branch CONDITION: each branch's pointer is
`config.branches[i].nextStepId`, the `else` edge is the step's `nextStepId`, through JSON and the API's
null handling."""

from __future__ import annotations

from typing import Any

from tests.conftest import ApiClientFor


def tier(key: str, spend: int) -> dict[str, Any]:
    return {"key": key, "rules": [{"field": "lifetimeSpend", "operator": "gte", "value": spend}]}


def tiered_steps() -> dict[str, Any]:
    return {
        "name": "Tiers",
        "steps": [
            {"id": "start", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}, "nextStepId": "tier"},
            {
                "id": "tier",
                "type": "CONDITION",
                "config": {
                    "branches": [
                        {**tier("gold", 1000), "nextStepId": "gold_mail"},
                        {**tier("silver", 100), "nextStepId": "done"},
                    ]
                },
                "nextStepId": "done",
                "nextStepYesId": None,
                "nextStepNoId": None,
            },
            {
                "id": "gold_mail",
                "type": "SEND",
                "config": {"channel": "SMS", "body": "Thanks, gold member"},
                "nextStepId": "done",
            },
            {"id": "done", "type": "EXIT"},
        ],
    }


async def test_a_multi_branch_condition_through_the_steps_endpoints(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        created = await http.post("/v1/journeys", json=tiered_steps())
        assert created.status_code == 201, created.text
        journey = created.json()
        assert journey["problems"] == []
        assert sorted((e["sourceNodeId"], e["targetNodeId"], e["label"]) for e in journey["edges"]) == sorted(
            [
                ("start", "tier", "next"),
                ("tier", "gold_mail", "gold"),
                ("tier", "done", "silver"),
                ("tier", "done", "else"),
                ("gold_mail", "done", "next"),
            ]
        )
        path = f"/v1/journeys/{journey['id']}/steps"

        step = (await http.get(path)).json()["data"][1]
        assert [(b["key"], b["nextStepId"]) for b in step["config"]["branches"]] == [
            ("gold", "gold_mail"),
            ("silver", "done"),
        ]
        assert (step["nextStepId"], step["nextStepYesId"], step["nextStepNoId"]) == ("done", None, None)

        # The step as read, with silver re-pointed and a null the branch model reads as absent.
        step["config"]["branches"][1].update(nextStepId="gold_mail", combinator=None)
        body = {key: step[key] for key in ("config", "nextStepId", "nextStepYesId", "nextStepNoId")}
        patched = await http.patch(f"{path}/tier", json=body)
        assert patched.status_code == 200, patched.text
        assert [(b["key"], b["nextStepId"]) for b in patched.json()["config"]["branches"]] == [
            ("gold", "gold_mail"),
            ("silver", "gold_mail"),
        ]
        assert patched.json()["config"]["branches"][1]["combinator"] == "AND"

        refused = await http.patch(f"{path}/tier", json={"nextStepYesId": "done"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["loc"] == ["body", "nextStepYesId"]

        added = await http.post(
            f"{path}",
            json={"type": "WAIT", "config": {"duration": "1 day"}, "afterStepId": "tier", "branch": "else"},
        )
        assert added.status_code == 201, added.text
        assert added.json()["nextStepId"] == "done"
        assert (await http.get(f"{path}")).json()["data"][1]["nextStepId"] == added.json()["id"]
