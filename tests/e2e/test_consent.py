"""Consent end to end: the real API, a real worker on a real Temporal server, the real SMTP sink.

A newsletter series in an OPT_OUT group: the first email carries RFC 8058's two headers, a one-click POST
to its link (as a mailbox provider sends it) suppresses the rest of the series with `unsubscribed`. An
OPT_IN group reaches only the customer who joined. A hard bounce reported by the provider (a signed
delivery event) suppresses every later send to that address with `bounced`.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from delivery.webhook_signing import sign
from devstack import SmtpSink
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.journey_examples import followup_journey, welcome_journey
from tests.support import TENANT, chain, enroll, handle_of, publish

pytestmark = pytest.mark.e2e
_ids = itertools.count()


def newsletter(group_id: str, issues: int = 3) -> dict[str, Any]:
    """TRIGGER(MANUAL) → (SEND → WAIT 1 day) × n → EXIT, every SEND in `group_id`."""
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "TRIGGER", "name": "Manual entry", "config": {"triggerType": "MANUAL"}}
    ]
    for n in range(1, issues + 1):
        nodes.append(
            {
                "id": f"issue{n}",
                "type": "SEND",
                "name": f"Issue {n}",
                "config": {
                    "channel": "EMAIL",
                    "subscriptionGroupId": group_id,
                    "subject": f"Newsletter #{n}",
                    "body": "Hi {{ traits.firstName }}. Unsubscribe: {{ unsubscribe_url }}",
                },
            }
        )
        if n < issues:
            nodes.append(
                {"id": f"pause{n}", "type": "WAIT", "name": "A day", "config": {"duration": "1 day"}}
            )
    nodes.append({"id": "done", "type": "EXIT", "name": "Done"})
    return chain(*nodes, name=f"Newsletter {next(_ids)}")


async def create_group(http: httpx.AsyncClient, name: str, type_: str) -> str:
    response = await http.post(
        "/v1/subscriptiongroups", json={"name": name, "channel": "EMAIL", "type": type_}
    )
    assert response.status_code == 201, response.text
    group_id: str = response.json()["id"]
    return group_id


async def messages_of(http: httpx.AsyncClient, journey_id: str) -> list[dict[str, Any]]:
    response = await http.get("/v1/messages", params={"journeyId": journey_id, "limit": 100})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["data"]
    return sorted(entries, key=lambda entry: str(entry["nodeId"]))


def link_in(header: str) -> str:
    """The https/http URL of a List-Unsubscribe header (which may also hold a mailto:)."""
    urls: list[str] = re.findall(r"<([^>]+)>", header)
    web = [url for url in urls if url.startswith(("http://", "https://"))]
    assert web, f"no web link in List-Unsubscribe: {header!r}"
    return web[0]


async def test_one_click_unsubscribe_suppresses_the_rest_of_the_series(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    env = own_time_skipping_env
    async with api_client_for(env.client) as http, run_worker(env.client):
        group = await create_group(http, "Newsletter", "OPT_OUT")
        journey_id = await publish(http, newsletter(group))
        await enroll(http, journey_id, "nora")

        first = await smtp_sink.wait_for(lambda m: "nora@example.com" in m.rcpt_tos, timeout=30)
        assert first.subject == "Newsletter #1"
        assert first.headers.get("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
        url = link_in(first.headers["List-Unsubscribe"])
        # As a mailbox provider reads it: the raw header line holds the <URL> itself (RFC 2369), not an
        # RFC 2047 encoded-word (which providers do not decode).
        assert f"List-Unsubscribe: <{url}>".encode() in first.raw
        assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in first.raw
        assert url in first.text_body, "the template's unsubscribe_url is the header's link"
        assert "nora" not in url and journey_id not in url, "the link names nobody"

        # What a mailbox provider sends (RFC 8058 §3.2): no login, the one form field.
        path = urlsplit(url).path
        async with httpx.AsyncClient(transport=http._transport, base_url="http://api") as anonymous:
            scanned = await anonymous.get(path)
            assert scanned.status_code == 200 and "<form" in scanned.text
            states = (await http.get("/v1/customers/nora/subscriptions")).json()["data"]
            assert [s["subscribed"] for s in states if s["subscriptionGroupId"] == group] == [True], (
                "a GET (a link scanner) changes nothing"
            )
            clicked = await anonymous.post(path, data={"List-Unsubscribe": "One-Click"})
            assert clicked.status_code == 200, clicked.text
            again = await anonymous.post(path, data={"List-Unsubscribe": "One-Click"})
            assert again.status_code == 200, "one-click is idempotent"

        states = (await http.get("/v1/customers/nora/subscriptions")).json()["data"]
        mine = next(s for s in states if s["subscriptionGroupId"] == group)
        assert (mine["subscribed"], mine["source"]) == (False, "unsubscribe_link")

        result = await result_skipping_time(env, handle_of(env.client, journey_id, "nora"))
        assert result["status"] == "COMPLETED", "suppressed sends do not stop the journey"

        log = await messages_of(http, journey_id)
        assert [(m["nodeId"], m["status"], m["reason"]) for m in log] == [
            ("issue1", "sent", None),
            ("issue2", "suppressed", "unsubscribed"),
            ("issue3", "suppressed", "unsubscribed"),
        ]
        assert [m.subject for m in smtp_sink.messages()] == ["Newsletter #1"], "no provider call after"
        filtered = await http.get("/v1/messages", params={"reason": "unsubscribed", "journeyId": journey_id})
        assert {m["nodeId"] for m in filtered.json()["data"]} == {"issue2", "issue3"}


async def test_opt_in_group_sends_only_to_customers_who_joined(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    env = own_time_skipping_env
    async with api_client_for(env.client) as http, run_worker(env.client):
        group = await create_group(http, "Product news", "OPT_IN")
        journey_id = await publish(http, newsletter(group, issues=1))
        await http.put("/v1/customers/olga", json={"traits": {"email": "olga@example.com", "firstName": "O"}})
        joined = await http.put(f"/v1/customers/olga/subscriptions/{group}", json={"subscribed": True})
        assert joined.status_code == 200, joined.text

        for customer in ("olga", "pete"):
            await enroll(http, journey_id, customer)
        for customer in ("olga", "pete"):
            result = await result_skipping_time(env, handle_of(env.client, journey_id, customer))
            assert result["status"] == "COMPLETED"

        log = {m["customerId"]: (m["status"], m["reason"]) for m in await messages_of(http, journey_id)}
        assert log == {"olga": ("sent", None), "pete": ("suppressed", "not_opted_in")}
        assert [m.rcpt_tos for m in smtp_sink.messages()] == [["olga@example.com"]]


async def test_a_bounce_suppresses_later_sends_to_the_address(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    env = own_time_skipping_env
    async with api_client_for(env.client) as http, run_worker(env.client):
        group = await create_group(http, "Tips", "OPT_OUT")
        journey_id = await publish(http, newsletter(group, issues=2))
        await enroll(http, journey_id, "bob")
        await smtp_sink.wait_for(lambda m: "bob@example.com" in m.rcpt_tos, timeout=30)
        first = (await messages_of(http, journey_id))[0]
        assert first["status"] == "sent"

        # The provider reports the hard bounce, signed with the tenant's delivery-events secret.
        secret = (await http.post("/v1/deliveryevents/secret")).json()["secret"]
        body = json.dumps(
            {
                "type": "bounce",
                "messageId": first["providerMessageId"],
                "recipient": "bob@example.com",
                "timestamp": "2026-01-01T00:00:00Z",
            }
        ).encode()
        webhook_id, stamp = f"msg_{next(_ids)}", int(time.time())
        async with httpx.AsyncClient(transport=http._transport, base_url="http://api") as provider:
            reported = await provider.post(
                "/v1/deliveryevents",
                params={"tenant": TENANT},
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "webhook-id": webhook_id,
                    "webhook-timestamp": str(stamp),
                    "webhook-signature": sign(secret, webhook_id, stamp, body),
                },
            )
        assert reported.status_code == 202, reported.text

        suppressions = (await http.get("/v1/suppressions")).json()["data"]
        assert [(s["address"], s["reason"]) for s in suppressions] == [("bob@example.com", "bounced")]

        result = await result_skipping_time(env, handle_of(env.client, journey_id, "bob"))
        assert result["status"] == "COMPLETED"
        log = await messages_of(http, journey_id)
        assert [(m["status"], m["reason"]) for m in log] == [("sent", None), ("suppressed", "bounced")]
        assert len(smtp_sink.messages()) == 1, "nothing went to the bounced address"


async def test_the_readme_consent_example(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    """The walkthrough's welcome email (the EMAIL default group), its one-click link, then the follow-up:
    the transactional receipt goes out, the tips are suppressed."""
    env = own_time_skipping_env
    async with api_client_for(env.client) as http, run_worker(env.client):
        welcome = await publish(http, welcome_journey(f"Welcome {next(_ids)}"))
        await enroll(http, welcome, "ada")
        mail = await smtp_sink.wait_for(lambda m: "ada@example.com" in m.rcpt_tos, timeout=30)
        path = urlsplit(link_in(mail.headers["List-Unsubscribe"])).path
        async with httpx.AsyncClient(transport=http._transport, base_url="http://api") as provider:
            clicked = await provider.post(path, data={"List-Unsubscribe": "One-Click"})
            assert clicked.status_code == 200, clicked.text
        states = (await http.get("/v1/customers/ada/subscriptions")).json()["data"]
        assert [(s["subscriptionGroupName"], s["subscribed"]) for s in states] == [("EMAIL (default)", False)]

        followup = await publish(http, followup_journey())
        await enroll(http, followup, "ada")
        result = await result_skipping_time(env, handle_of(env.client, followup, "ada"))
        assert result["status"] == "COMPLETED"
        log = await messages_of(http, followup)
        assert [(m["nodeId"], m["status"], m["reason"], m["transactional"]) for m in log] == [
            ("receipt", "sent", None, True),
            ("tips", "suppressed", "unsubscribed", False),
        ]
        receipt = smtp_sink.messages()[-1]
        assert receipt.subject == "Your receipt" and "List-Unsubscribe" not in receipt.headers
