"""SMS, PUSH and IN_APP sends, frequency caps and quiet hours, through the engine.

Journeys run on the time-skipping server with the project's worker. SMS and PUSH go to a fake provider:
the raw HTTP receiver of `test_webhooks.py` on 127.0.0.1, told what to answer per path. Caps under
concurrency are also driven straight through the send activity, many sends at once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.channels import (
    EmailChannel,
    PermanentDeliveryError,
    RetryLaterError,
    TransientDeliveryError,
)
from activities.channels import OutboundMessage as Outbound
from activities.messaging import MessagingActivities
from activities.providers import (
    ProviderChannel,
    ProviderSettings,
    ProviderTarget,
    RecipientError,
    phone_number,
    push_token,
)
from delivery.unsubscribe import UnsubscribeLinks
from devstack import SmtpSink
from domain.definition import FrequencyCap, SendConfig
from domain.payloads import SendRequest
from plumbing.settings import Settings
from store.repositories.customers import CustomerRepository
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.integration.test_enrollment_workflow import save_history
from tests.integration.test_webhooks import Receiver, Reply
from tests.support import END, MAIL, TRIGGER, chain, eventually, handle_of, local_activities, publish
from worker import smtp_config

TENANT = "acme"
LOOPBACK = ("127.0.0.1",)
LINKS = UnsubscribeLinks(b"test-unsubscribe-secret", "http://api")


@pytest.fixture
async def provider(settings: Settings) -> AsyncIterator[Receiver]:
    # Loopback is refused by the SSRF guard unless allow-listed, at send time (worker).
    settings.webhook_allow_list = ["127.0.0.1"]
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


def send(node_id: str, channel: str, on_failure: str = "fail", **config: Any) -> dict[str, Any]:
    body = {"channel": channel, "onFailure": on_failure, **config}
    return {"id": node_id, "type": "SEND", "name": node_id, "config": body}


async def create_target(http: httpx.AsyncClient, channel: str, settings: dict[str, Any]) -> str:
    response = await http.post(
        "/v1/actiontargets", json={"name": f"{channel} provider", "channel": channel, "settings": settings}
    )
    assert response.status_code == 201, response.text
    target_id: str = response.json()["id"]
    return target_id


async def enroll(http: httpx.AsyncClient, journey_id: str, customer: str, **traits: Any) -> None:
    await http.put(f"/v1/customers/{customer}", json={"traits": traits})
    response = await http.post(f"/v1/journeys/{journey_id}/enrollments", json={"customerId": customer})
    assert response.status_code == 201, response.text


async def messages_of(http: httpx.AsyncClient, customer: str) -> dict[str, dict[str, Any]]:
    """The customer's delivery log, by node id."""
    data = (await http.get(f"/v1/messages?customerId={customer}")).json()["data"]
    return {message["nodeId"]: message for message in data}


# --- SMS and PUSH through the provider adapter ------------------------------------------------------


async def test_sms_and_push_reach_the_provider_keyed_by_the_idempotency_key(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    provider: Receiver,
) -> None:
    provider.replies["/sms"] = Reply(
        status=200, headers={"content-type": "application/json"}, body=b'{"id": "SM-123", "status": "queued"}'
    )
    provider.replies["/push"] = Reply(status=202)
    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        sms_target = await create_target(
            http, "SMS", {"url": provider.url("/sms"), "apiKey": "sk-test-123", "from": "+15550001"}
        )
        push_target = await create_target(http, "PUSH", {"url": provider.url("/push")})
        journey_id = await publish(
            http,
            chain(
                TRIGGER,
                send("text", "SMS", actionTargetId=sms_target, body="Hi {{ traits.firstName }}"),
                send(
                    "notify", "PUSH", actionTargetId=push_target, subject="News", body="For {{ customer.id }}"
                ),
                END,
            ),
        )
        await enroll(http, journey_id, "ada", firstName="Ada", phone="+1 (555) 010-9999", pushToken="tok-abc")
        result = await result_skipping_time(time_skipping_env, handle_of(client, journey_id, "ada"))
        log = await messages_of(http, "ada")
        shown = (await http.get(f"/v1/actiontargets/{sms_target}")).json()

    assert result["status"] == "COMPLETED"
    [sms] = provider.received("/sms")
    [push] = provider.received("/push")
    assert sms.method == push.method == "POST"
    assert sms.headers["idempotency-key"] == log["text"]["idempotencyKey"]
    assert push.headers["idempotency-key"] == log["notify"]["idempotencyKey"]
    assert sms.headers["authorization"] == "Bearer sk-test-123"
    assert "authorization" not in push.headers
    assert sms.headers["content-type"] == "application/json"
    assert json.loads(sms.body) == {
        "to": "+15550109999",
        "from": "+15550001",
        "body": "Hi Ada",
        "idempotencyKey": log["text"]["idempotencyKey"],
    }
    assert json.loads(push.body) == {
        "to": "tok-abc",
        "from": None,
        "body": "For ada",
        "subject": "News",
        "idempotencyKey": log["notify"]["idempotencyKey"],
    }
    assert log["text"]["status"] == log["notify"]["status"] == "sent"
    assert log["text"]["channel"] == "SMS" and log["notify"]["channel"] == "PUSH"
    assert log["text"]["providerMessageId"] == "SM-123", "the provider's id when it answers one"
    assert log["notify"]["providerMessageId"] == log["notify"]["idempotencyKey"]
    assert log["text"]["recipient"] == "+15550109999"
    assert shown["settings"]["apiKey"] == "****", "the API key is masked on the way out"


async def test_a_missing_phone_fails_the_send_per_on_failure_without_calling_the_provider(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    provider: Receiver,
) -> None:
    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        target = await create_target(http, "SMS", {"url": provider.url("/sms")})
        skipping = await publish(
            http, chain(TRIGGER, send("text", "SMS", "skip", actionTargetId=target, body="x"), END)
        )
        failing = await publish(
            http, chain(TRIGGER, send("text", "SMS", "fail", actionTargetId=target, body="x"), END)
        )
        await enroll(http, skipping, "nophone-1", firstName="N")
        await enroll(http, failing, "nophone-2", firstName="N", pushToken="only-push")
        skipped = await result_skipping_time(time_skipping_env, handle_of(client, skipping, "nophone-1"))
        failed = await result_skipping_time(time_skipping_env, handle_of(client, failing, "nophone-2"))
        first = (await messages_of(http, "nophone-1"))["text"]
        second = (await messages_of(http, "nophone-2"))["text"]

    assert skipped["status"] == "COMPLETED"
    assert failed["status"] == "FAILED" and "no `phone` trait" in failed["reason"]
    assert first["status"] == second["status"] == "failed"
    assert "no `phone` trait" in first["error"]
    assert provider.requests == [], "nothing to send to: the provider is never called"


@pytest.mark.parametrize(
    ("reply", "expected", "fragment"),
    [
        (Reply(status=400, body=b"invalid number"), PermanentDeliveryError, "400: invalid number"),
        (Reply(status=401), PermanentDeliveryError, "401"),
        (Reply(status=409), TransientDeliveryError, "409"),
        (Reply(status=503, body=b"maintenance"), TransientDeliveryError, "503: maintenance"),
        (Reply(status=429, headers={"Retry-After": "7"}), RetryLaterError, "429"),
        (Reply(status=200, delay_seconds=2), TransientDeliveryError, "did not answer"),
    ],
    ids=["400", "401", "409", "503", "429", "slow"],
)
async def test_provider_answers_map_to_permanent_or_transient_failures(
    provider: Receiver, reply: Reply, expected: type[Exception], fragment: str
) -> None:
    provider.replies["/sms"] = reply
    channel = ProviderChannel(ProviderTarget(url=provider.url("/sms"), timeout_seconds=0.5), allow=LOOPBACK)
    try:
        with pytest.raises(expected) as caught:
            await channel.send(
                Outbound(idempotency_key="e:n:1", recipient="+15550100", subject=None, body="b")
            )
    finally:
        await channel.aclose()
    assert type(caught.value) is expected
    assert fragment in str(caught.value)
    if isinstance(caught.value, RetryLaterError):
        assert caught.value.retry_after == 7


async def test_provider_success_ids_and_the_ssrf_guard(provider: Receiver) -> None:
    provider.replies["/numeric"] = Reply(status=201, body=b'{"id": 42}')
    provider.replies["/text"] = Reply(status=200, body=b"OK")
    message = Outbound(idempotency_key="e:n:2", recipient="tok", subject=None, body="b")
    for path, provider_id in (("/numeric", "42"), ("/text", "e:n:2")):
        channel = ProviderChannel(ProviderTarget(url=provider.url(path)), allow=LOOPBACK)
        try:
            assert (await channel.send(message)).provider_message_id == provider_id
        finally:
            await channel.aclose()

    guarded = ProviderChannel(ProviderTarget(url=provider.url("/text")))  # loopback, not allow-listed
    try:
        with pytest.raises(PermanentDeliveryError, match="provider target refused"):
            await guarded.send(message)
    finally:
        await guarded.aclose()
    assert len(provider.received("/text")) == 1, "the refused send never left"


def test_provider_settings_and_recipients() -> None:
    settings = ProviderSettings.model_validate(
        {"url": "https://sms.example/v1", "apiKey": "k", "from": "ACME", "timeoutSeconds": 5}
    )
    assert settings.target() == ProviderTarget("https://sms.example/v1", "k", "ACME", 5)
    for bad in ({"url": "https://x", "timeoutSeconds": 60}, {"url": "https://x", "token": "t"}, {}):
        with pytest.raises(ValueError):
            ProviderSettings.model_validate(bad)
    assert phone_number(" +44 20 7946-0958 ") == "+442079460958"
    for value, why in (
        (None, "no `phone`"),
        ("", "no `phone`"),
        ("call me", "not a phone"),
        (12, "no `phone`"),
    ):
        with pytest.raises(RecipientError, match=why):
            phone_number(value)
    assert push_token("  tok  ") == "tok"
    with pytest.raises(RecipientError, match="no `pushToken`"):
        push_token(None)


# --- IN_APP into the inbox ------------------------------------------------------------------------------


async def test_in_app_sends_land_in_the_inbox_once_and_can_be_marked_read(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    client = time_skipping_env.client
    banner = send(
        "banner",
        "IN_APP",
        contentId="promo-7",
        contentType="banner",
        subject="Hello {{ traits.firstName }}",
        body="20% off",
    )
    card = send("card", "IN_APP", contentId="card-1", contentType="card")
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, chain(TRIGGER, banner, card, END))
        await enroll(http, journey_id, "reader", firstName="Rea")
        result = await result_skipping_time(time_skipping_env, handle_of(client, journey_id, "reader"))
        log = await messages_of(http, "reader")

        # A retried activity for a delivered message changes nothing.
        activities = MessagingActivities(sessions, {}, unsubscribe=LINKS)
        again = await activities.send_message(
            SendRequest(
                tenant_id=TENANT,
                journey_id=journey_id,
                enrollment_id=str(log["banner"]["enrollmentId"]),
                customer_id="reader",
                node_id="banner",
                visit=1,
                idempotency_key=log["banner"]["idempotencyKey"],
                config=SendConfig.model_validate(banner["config"]),
            )
        )

        inbox = (await http.get("/v1/customers/reader/inbox")).json()
        by_content = {item["contentId"]: item for item in inbox["data"]}
        read = await http.post(f"/v1/customers/reader/inbox/{by_content['promo-7']['id']}/read")
        read_again = await http.post(f"/v1/customers/reader/inbox/{by_content['promo-7']['id']}/read")
        unread = (await http.get("/v1/customers/reader/inbox?unread=true")).json()
        already_read = (await http.get("/v1/customers/reader/inbox?unread=false")).json()
        paged = (await http.get("/v1/customers/reader/inbox?limit=1&page=2")).json()

        stranger = await http.get("/v1/customers/stranger/inbox")
        not_theirs = await http.post(f"/v1/customers/stranger/inbox/{by_content['card-1']['id']}/read")
        malformed = await http.post("/v1/customers/reader/inbox/not-a-uuid/read")
        unknown = await http.post(f"/v1/customers/reader/inbox/{uuid.uuid4()}/read")
    async with api_client_for(client, scopes=("journey:customer:view",)) as viewer:
        forbidden = await viewer.post(f"/v1/customers/reader/inbox/{by_content['card-1']['id']}/read")
        allowed = await viewer.get("/v1/customers/reader/inbox")

    assert result["status"] == "COMPLETED"
    assert again.outcome == "sent" and again.message_id == log["banner"]["providerMessageId"]
    assert inbox["meta"]["total"] == 2, "one inbox row per send, whatever the retries"
    promo = by_content["promo-7"]
    assert promo["contentType"] == "banner" and promo["subject"] == "Hello Rea" and promo["body"] == "20% off"
    assert promo["journeyId"] == journey_id and promo["nodeId"] == "banner" and promo["readAt"] is None
    assert by_content["card-1"]["subject"] is None and by_content["card-1"]["body"] is None
    assert log["banner"]["status"] == log["card"]["status"] == "sent"
    assert log["banner"]["providerMessageId"] == promo["id"]
    assert read.status_code == 200 and read.json()["readAt"] is not None
    assert read_again.json()["readAt"] == read.json()["readAt"], "marking again keeps the first read"
    assert [item["contentId"] for item in unread["data"]] == ["card-1"]
    assert [item["contentId"] for item in already_read["data"]] == ["promo-7"]
    assert paged["meta"] == {"total": 2, "page": 2, "limit": 1, "totalPages": 2} and len(paged["data"]) == 1
    assert stranger.status_code == 404
    assert not_theirs.status_code == malformed.status_code == unknown.status_code == 404
    assert forbidden.status_code == 403 and allowed.status_code == 200


# --- frequency caps ---------------------------------------------------------------------------------------

EMAIL_CAP = {"frequencyCaps": [{"channel": "EMAIL", "limit": 1, "period": "1 day"}]}


def email(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "SEND", "name": node_id, "config": dict(MAIL)}


async def test_a_frequency_cap_suppresses_the_second_email_and_the_journey_goes_on(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(
            http, chain(TRIGGER, email("first"), email("second"), END, settings=EMAIL_CAP)
        )
        await enroll(http, journey_id, "capped", email="capped@example.com", firstName="Cap")
        result = await result_skipping_time(time_skipping_env, handle_of(client, journey_id, "capped"))
        log = await messages_of(http, "capped")
        suppressed = (await http.get("/v1/messages?status=suppressed")).json()["data"]
        enrollment = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()["data"][0]
        detail = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{enrollment['id']}")).json()

    assert result["status"] == "COMPLETED"
    assert log["first"]["status"] == "sent"
    assert log["second"]["status"] == "suppressed"
    assert "frequency cap" in log["second"]["error"] and "limit 1" in log["second"]["error"]
    assert [message["nodeId"] for message in suppressed] == ["second"]
    steps = {step["stepId"]: step for step in detail["steps"]}
    assert steps["second"]["status"] == "COMPLETED" and "frequency cap" in steps["second"]["detail"]
    assert len([m for m in smtp_sink.messages() if "capped@example.com" in m.rcpt_tos]) == 1


async def test_two_concurrent_enrollments_under_a_limit_one_cap_send_exactly_one(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = time_skipping_env.client
    async with api_client_for(client) as http, run_worker(client):
        journeys = [
            await publish(http, chain(TRIGGER, email(f"hello-{n}"), END, settings=EMAIL_CAP)) for n in (1, 2)
        ]
        await http.put("/v1/customers/both", json={"traits": {"email": "both@example.com", "firstName": "B"}})
        entries = await asyncio.gather(
            *(http.post(f"/v1/journeys/{j}/enrollments", json={"customerId": "both"}) for j in journeys)
        )
        assert [entry.status_code for entry in entries] == [201, 201]
        results = [
            await result_skipping_time(time_skipping_env, handle_of(client, j, "both")) for j in journeys
        ]
        log = await messages_of(http, "both")

    assert [r["status"] for r in results] == ["COMPLETED", "COMPLETED"]
    assert sorted(message["status"] for message in log.values()) == ["sent", "suppressed"]
    assert len([m for m in smtp_sink.messages() if "both@example.com" in m.rcpt_tos]) == 1


def _request(key: str, channel: str, caps: list[FrequencyCap], customer: str) -> SendRequest:
    config = SendConfig.model_validate({"channel": channel, "subject": "Hi", "body": "Hello"})
    return SendRequest(
        tenant_id=TENANT,
        journey_id=str(uuid.uuid4()),
        enrollment_id=str(uuid.uuid4()),
        customer_id=customer,
        node_id="n",
        visit=1,
        idempotency_key=key,
        config=config,
        frequency_caps=caps,
    )


async def _customer(sessions: async_sessionmaker[AsyncSession], customer: str) -> None:
    async with sessions() as session, session.begin():
        await CustomerRepository(session).upsert(
            TENANT, customer, {"email": f"{customer}@example.com"}, merge=False
        )


async def test_many_concurrent_sends_under_a_limit_one_cap_admit_exactly_one(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, smtp_sink: SmtpSink
) -> None:
    await _customer(sessions, "crowd")
    activities = MessagingActivities(
        sessions, {"EMAIL": EmailChannel(smtp_config(settings))}, unsubscribe=LINKS
    )
    cap = [FrequencyCap(channel="EMAIL", limit=1, period="1 day")]
    results = await asyncio.gather(
        *(activities.send_message(_request(f"crowd:{n}", "EMAIL", cap, "crowd")) for n in range(8))
    )
    assert sorted(result.outcome for result in results) == ["sent"] + ["suppressed"] * 7
    assert len([m for m in smtp_sink.messages() if "crowd@example.com" in m.rcpt_tos]) == 1


async def test_caps_count_per_channel_or_across_channels_and_are_judged_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _customer(sessions, "mixed")
    activities = MessagingActivities(sessions, {}, unsubscribe=LINKS)
    email_cap = [FrequencyCap(channel="EMAIL", limit=1, period="1 day")]
    any_cap = [FrequencyCap(limit=2, period="1 hour")]

    first = await activities.send_message(_request("m:1", "IN_APP", email_cap, "mixed"))
    second = await activities.send_message(_request("m:2", "IN_APP", email_cap, "mixed"))
    third = await activities.send_message(_request("m:3", "IN_APP", any_cap, "mixed"))
    third_retried = await activities.send_message(_request("m:3", "IN_APP", [], "mixed"))
    first_retried = await activities.send_message(_request("m:1", "IN_APP", any_cap, "mixed"))
    other_customer = await activities.send_message(_request("o:1", "IN_APP", any_cap, "other"))

    assert first.outcome == second.outcome == "sent", "an EMAIL cap does not count or hold IN_APP"
    assert third.outcome == "suppressed" and third.error is not None and "2 messages" in third.error
    assert third_retried.outcome == "suppressed" and third_retried.error == third.error
    assert first_retried.outcome == "sent", "an admitted message keeps its slot on retry"
    assert other_customer.outcome == "sent", "caps are per customer"


# --- quiet hours ------------------------------------------------------------------------------------------


async def _quiet_window(env: WorkflowEnvironment) -> tuple[dict[str, str], datetime]:
    """Quiet hours (UTC) that started two minutes ago on the server's clock and end three hours later."""
    now = (await env.get_current_time()).astimezone(UTC)
    start = (now - timedelta(minutes=2)).replace(second=0, microsecond=0)
    end = start + timedelta(hours=3)
    return {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}, end


async def _history_events(handle: WorkflowHandle[Any, Any]) -> list[Any]:
    return list((await handle.fetch_history()).events)


async def test_quiet_hours_hold_a_send_until_the_window_ends(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = time_skipping_env.client
    quiet, window_end = await _quiet_window(time_skipping_env)
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(
            http, chain(TRIGGER, email("night"), END, settings={"timezone": "UTC", "quietHours": quiet})
        )
        await enroll(http, journey_id, "sleeper", email="sleeper@example.com", firstName="S")
        handle = handle_of(client, journey_id, "sleeper")
        result = await result_skipping_time(time_skipping_env, handle)
        log = await messages_of(http, "sleeper")
        enrollment = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()["data"][0]
        detail = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{enrollment['id']}")).json()
        events = await _history_events(handle)
        await save_history(handle, "quiet_hours_hold")

    assert result["status"] == "COMPLETED"
    assert log["night"]["status"] == "sent"
    # The send is a local activity (workflows/enrollment.py, LEAN_PATCH): its marker is its trace.
    [(sent, _)] = [
        (e, data) for e, data in local_activities(events) if data["activity_type"] == "send_message"
    ]
    # On the time-skipping clock: the send was done only once the window had ended.
    assert sent.event_time.ToDatetime(tzinfo=UTC) >= window_end
    assert any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED for e in events)
    night = {step["stepId"]: step for step in detail["steps"]}["night"]
    assert (
        datetime.fromisoformat(night["startedAt"])
        < window_end
        <= datetime.fromisoformat(night["completedAt"])
    )
    assert len([m for m in smtp_sink.messages() if "sleeper@example.com" in m.rcpt_tos]) == 1


async def test_an_exit_during_quiet_hours_ends_the_enrollment_at_once_without_sending(
    api_client_for: ApiClientFor,
    time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = time_skipping_env.client
    quiet, _ = await _quiet_window(time_skipping_env)
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(
            http, chain(TRIGGER, email("night"), END, settings={"timezone": "UTC", "quietHours": quiet})
        )
        await enroll(http, journey_id, "owl", email="owl@example.com", firstName="O")
        handle = handle_of(client, journey_id, "owl")

        async def held() -> bool:
            try:
                events = await _history_events(handle)
            except Exception:  # noqa: BLE001 — not started yet
                return False
            return any(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in events)

        await eventually(held)
        assert (await http.delete(f"/v1/journeys/{journey_id}/enrollments/owl")).status_code == 204
        result = await handle.result()
        log = await messages_of(http, "owl")

    assert result["status"] == "EXITED" and result["reason"] == "exited by API"
    assert log == {}, "the held send never reached the send activity"
    assert not [m for m in smtp_sink.messages() if "owl@example.com" in m.rcpt_tos]
