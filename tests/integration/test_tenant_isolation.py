"""Tenant isolation, enumerated: every /v1 route with an id in its path, called by another tenant.

The route list comes from the app's OpenAPI document, so a new route is covered (or fails this test
with "unmapped path parameter") without anyone remembering to add it here.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from tests.conftest import ApiClientFor
from tests.journey_examples import welcome_journey

CUSTOMER = "c1"
EXTERNAL_CONTACT = "crm-acme-1"
SESSION = "acme-session-1"
TRAITS = {"firstName": "Ada", "email": "ada@acme.example", "externalContactId": EXTERNAL_CONTACT}
WEBHOOK = {
    "name": "CRM hook",
    "channel": "WEBHOOK",
    "settings": {"url": "https://hooks.example.com/x"},
}
SUBSCRIPTION_GROUP = {"name": "Acme news", "channel": "EMAIL", "type": "OPT_IN"}
TEMPLATE = {"name": "Welcome", "channel": "EMAIL", "subject": "Hi {{ traits.firstName }}", "body": "Hello!"}
PARAMETER = re.compile(r"\{([^}]+)\}")

# Routes that may answer 2xx to another tenant, because what they do is scoped to the caller's own
# tenant and cannot reveal or touch acme's rows. For each, the response must hold none of acme's ids.
ALLOWED_2XX: dict[tuple[str, str], str] = {
    ("PUT", "/v1/customers/{customerId}"): "creates (or replaces) globex's own profile c1",
    ("GET", "/v1/sessions/{sessionId}/segments"): (
        "a session id is not a row that must exist: globex's (empty) assignments of that session"
    ),
    ("POST", "/v1/externalcontacts/{externalContactId}/segments"): (
        "names globex's own external contact (created when first named) and globex's own segment"
    ),
}
# Sent after every other route: they create globex's own rows under acme's ids, which would turn
# later lookups into globex's own (legitimate) 200s.
CREATES_FOR_CALLER = (
    ("POST", "/v1/externalcontacts/{externalContactId}/segments"),
    ("PUT", "/v1/customers/{customerId}"),
)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json()


async def create_acme_objects(http: httpx.AsyncClient) -> dict[str, str]:
    journey = ok(await http.post("/v1/journeys", json=welcome_journey()), 201)
    ok(await http.post(f"/v1/journeys/{journey['id']}/publish"))
    ok(await http.put(f"/v1/customers/{CUSTOMER}", json={"traits": TRAITS}))
    segment = ok(await http.post("/v1/segments", json={"displayName": "Acme VIPs"}), 201)
    assigned = ok(
        await http.post(
            f"/v1/externalcontacts/{EXTERNAL_CONTACT}/segments",
            json=[{"segmentId": segment["id"], "state": "Assigned"}],
        )
    )
    assert [a["segment"]["id"] for a in assigned["data"]] == [segment["id"]]
    target = ok(await http.post("/v1/actiontargets", json=WEBHOOK), 201)
    template = ok(await http.post("/v1/templates", json=TEMPLATE), 201)
    source = ok(await http.post("/v1/sources", json={"name": "Acme site"}), 201)
    group = ok(await http.post("/v1/subscriptiongroups", json=SUBSCRIPTION_GROUP), 201)
    ok(await http.put(f"/v1/customers/{CUSTOMER}/subscriptions/{group['id']}", json={"subscribed": True}))
    # One refused event, so that the source has a rejection to (not) show.
    tracked = await http.post(
        "/v1/batch",
        json={"batch": [{"type": "track", "userId": CUSTOMER}]},
        auth=(source["writeKey"], ""),
    )
    assert ok(tracked)["rejected"][0]["code"] == "missing_event"
    return {
        "journey": journey["id"],
        "segment": segment["id"],
        "actionTarget": target["id"],
        "template": template["id"],
        "source": source["id"],
        "subscriptionGroup": group["id"],
        "assignedCustomer": assigned["data"][0]["customerId"],
    }


async def snapshot(http: httpx.AsyncClient, ids: dict[str, str]) -> dict[str, Any]:
    """Every acme object, read back as acme (full JSON, nothing ignored)."""
    jid = ids["journey"]
    paths = [
        f"/v1/journeys/{jid}",
        f"/v1/journeys/{jid}/steps",
        f"/v1/journeys/{jid}/versions",
        f"/v1/journeys/{jid}/versions/1",
        f"/v1/journeys/{jid}/enrollments",
        f"/v1/customers/{CUSTOMER}",
        f"/v1/customers/{CUSTOMER}/enrollments",
        f"/v1/customers/{CUSTOMER}/inbox",
        f"/v1/customers/userId/{CUSTOMER}/segments",
        f"/v1/externalcontacts/{EXTERNAL_CONTACT}/segments",
        f"/v1/customers/{ids['assignedCustomer']}",
        f"/v1/segments/{ids['segment']}",
        f"/v1/actiontargets/{ids['actionTarget']}",
        f"/v1/templates/{ids['template']}",
        f"/v1/sources/{ids['source']}",
        f"/v1/sources/{ids['source']}/rejections",
        f"/v1/subscriptiongroups/{ids['subscriptionGroup']}",
        f"/v1/customers/{CUSTOMER}/subscriptions",
        "/v1/subscriptiongroups",
        "/v1/journeys",
        "/v1/segments",
        "/v1/actiontargets",
        "/v1/templates",
        "/v1/sources",
    ]
    return {path: ok(await http.get(path)) for path in paths}


def acme_values(ids: dict[str, str]) -> list[str]:
    """Strings that must not appear in a 2xx answer to globex."""
    return [
        ids["journey"],
        ids["segment"],
        ids["actionTarget"],
        ids["template"],
        ids["source"],
        ids["subscriptionGroup"],
        "Acme VIPs",
        "Acme news",
        "Acme site",
        "ada@acme.example",
        "Ada",
    ]


# Public routes a recipient reaches from an email: their signed token, not a bearer, names the tenant.
TOKEN_ROUTES = ("/v1/unsubscribe/", "/v1/preferences/")


async def test_every_id_route_is_404_for_another_tenant(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None, tenant="acme") as acme:
        ids = await create_acme_objects(acme)
        before = await snapshot(acme, ids)
        document = ok(await acme.get("/openapi.json"))
    async with api_client_for(None, tenant="globex") as globex:
        globex_segment = ok(await globex.post("/v1/segments", json={"displayName": "Globex own"}), 201)

    jid = ids["journey"]
    step_ids = [node["id"] for node in welcome_journey()["nodes"]]
    values: dict[str, str] = {
        "journeyId": jid,
        "journey_id": jid,
        "stepId": "welcome",
        "enrollmentId": str(uuid.uuid4()),
        "customerId": CUSTOMER,
        "idType": "userId",
        "segmentId": ids["segment"],
        "actionTargetId": ids["actionTarget"],
        "templateId": ids["template"],
        "sourceId": ids["source"],
        "sessionId": SESSION,
        "externalContactId": EXTERNAL_CONTACT,
        "version": "1",
        "messageId": str(uuid.uuid4()),
        "subscriptionGroupId": ids["subscriptionGroup"],
        # an acme entry lifted by globex: tests/integration/test_delivery_events.py
        "suppressionId": str(uuid.uuid4()),
        "migrationId": str(uuid.uuid4()),
        "simulationId": str(uuid.uuid4()),
    }
    canvas = {key: welcome_journey()[key] for key in ("nodes", "edges")}
    bodies: dict[tuple[str, str], Any] = {
        ("PATCH", "/v1/journeys/{journeyId}"): {"name": "Renamed by globex"},
        ("PUT", "/v1/journeys/{journeyId}/canvas"): canvas,
        ("POST", "/v1/journeys/{journeyId}/pause"): {"mode": "entry"},
        ("PATCH", "/v1/journeys/{journeyId}/destinations"): {
            "destinations": [{"nodeId": "welcome", "templateId": ids["template"]}]
        },
        ("POST", "/v1/journeys/{journeyId}/steps"): {"type": "WAIT", "config": {"duration": "1 day"}},
        ("PATCH", "/v1/journeys/{journeyId}/steps/{stepId}"): {"name": "Renamed by globex"},
        ("POST", "/v1/journeys/{journeyId}/steps/reorder"): {"stepIds": step_ids},
        ("POST", "/v1/journeys/{journeyId}/enrollments"): {"customerId": CUSTOMER},
        ("POST", "/v1/journeys/{journeyId}/migrations"): {
            "fromVersion": 1,
            "toVersion": 2,
            "nodeMap": {"welcome": "welcome"},
        },
        ("POST", "/v1/journeys/{journeyId}/enrollments/{enrollmentId}/actions"): {"action": "exit"},
        ("POST", "/v1/journeys/{journeyId}/simulations"): {"cohort": {"customerIds": [CUSTOMER]}},
        ("POST", "/v1/journeys/{journeyId}/tests"): {"customerIds": [CUSTOMER], "speed": 60},
        ("PUT", "/v1/customers/{customerId}"): {"traits": {"firstName": "Globex"}},
        ("PATCH", "/v1/customers/{customerId}"): {"traits": {"firstName": "Globex"}},
        ("PATCH", "/v1/actiontargets/{actionTargetId}"): {"name": "Renamed by globex"},
        ("PATCH", "/v1/templates/{templateId}"): {"body": "Bye"},
        ("PATCH", "/v1/segments/{segmentId}"): {"displayName": "Renamed by globex"},
        ("PATCH", "/v1/subscriptiongroups/{subscriptionGroupId}"): {"name": "Renamed by globex"},
        ("PUT", "/v1/customers/{customerId}/subscriptions/{subscriptionGroupId}"): {"subscribed": False},
        ("POST", "/v1/externalcontacts/{externalContactId}/segments"): [
            {"segmentId": globex_segment["id"], "state": "Assigned"}
        ],
    }

    calls: list[tuple[str, str]] = []
    for template, operations in document["paths"].items():
        if not template.startswith("/v1/") or "{" not in template:
            continue
        if template.startswith(TOKEN_ROUTES):
            continue  # no bearer: the link's token names the tenant (test_unsubscribe_api.py)
        for method in operations:
            if method in {"get", "put", "post", "patch", "delete"}:
                calls.append((method.upper(), template))
    calls.sort(key=lambda call: call in CREATES_FOR_CALLER)
    assert len(calls) >= 40, calls  # the enumeration found the routes

    unmapped = {
        (method, template, name)
        for method, template in calls
        for name in PARAMETER.findall(template)
        if name not in values
    }
    assert not unmapped, f"path parameters this test does not map (add them to `values`): {unmapped}"
    missing_bodies = [
        call
        for call in calls
        if document["paths"][call[1]][call[0].lower()].get("requestBody", {}).get("required")
        and call not in bodies
    ]
    assert not missing_bodies, f"routes needing a body this test does not provide: {missing_bodies}"
    stale = (set(bodies) | set(ALLOWED_2XX)) - set(calls)
    assert not stale, f"routes this test names that the app no longer has: {stale}"

    failures: list[str] = []
    async with api_client_for(None, tenant="globex") as globex:
        for method, template in calls:
            path = PARAMETER.sub(lambda match: values[match.group(1)], template)
            response = await globex.request(method, path, json=bodies.get((method, template)))
            where = f"{method} {template} -> {response.status_code}: {response.text[:300]}"
            if (method, template) in ALLOWED_2XX:
                if response.status_code not in (200, 201, 204, 404):
                    failures.append(where)
                leaked = [value for value in acme_values(ids) if value in response.text]
                if leaked:
                    failures.append(f"{where} (acme data in the answer: {leaked})")
                if response.status_code == 200 and template.startswith("/v1/externalcontacts/"):
                    # Customer ids are per tenant (globex gets its own `ext-crm-acme-1`); the answer
                    # must list globex's segment only.
                    listed = {item["segment"]["id"] for item in response.json()["data"]}
                    if listed != {globex_segment["id"]}:
                        failures.append(f"{where} (segments other than globex's own)")
            elif response.status_code != 404:
                failures.append(where)
    assert not failures, "routes not isolated from another tenant:\n" + "\n".join(failures)

    async with api_client_for(None, tenant="acme") as acme:
        after = await snapshot(acme, ids)
    assert after == before
