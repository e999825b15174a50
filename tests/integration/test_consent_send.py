"""Consent in the send path (issue 15): subscription groups, the suppression list, unsubscribe links.

Real PostgreSQL and the real SMTP sink throughout. The journey test runs on its own time-skipping server
with the project's worker; the others drive the send activity straight, as the worker would call it.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.channels import EmailChannel
from activities.messaging import MessagingActivities
from delivery.unsubscribe import UnsubscribeLinks
from devstack import SmtpSink
from domain.definition import FrequencyCap, SendConfig
from domain.payloads import SendRequest, SendResult
from plumbing.settings import Settings
from services.unsubscribe import links_from_settings
from store.repositories.customers import CustomerRepository
from store.repositories.subscriptions import CustomerSubscriptionRepository, SubscriptionGroupRepository
from store.repositories.suppressions import SuppressionRepository
from store.rows import MessageRow, SubscriptionGroupRow
from tests.conftest import ApiClientFor, RunWorker, result_skipping_time
from tests.integration.test_draft_problems import publish_errors
from tests.support import END, TRIGGER, chain, handle_of, publish
from worker import smtp_config

TENANT = "acme"


def send(node_id: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "SEND", "name": node_id, "config": {"channel": "EMAIL", **config}}


async def customer(
    sessions: async_sessionmaker[AsyncSession], customer_id: str, email: str | None = None
) -> None:
    async with sessions() as session, session.begin():
        await CustomerRepository(session).upsert(
            TENANT, customer_id, {"email": email or f"{customer_id}@example.com"}, merge=False
        )


async def group(
    sessions: async_sessionmaker[AsyncSession], name: str, type_: str, channel: str = "EMAIL"
) -> uuid.UUID:
    async with sessions() as session, session.begin():
        row = SubscriptionGroupRow(id=uuid.uuid4(), tenant_id=TENANT, name=name, channel=channel, type=type_)
        await SubscriptionGroupRepository(session).add(row)
        return row.id


async def default_group(sessions: async_sessionmaker[AsyncSession], channel: str = "EMAIL") -> uuid.UUID:
    async with sessions() as session, session.begin():
        return (await SubscriptionGroupRepository(session).ensure_default(TENANT, channel)).id


async def subscribe(
    sessions: async_sessionmaker[AsyncSession], customer_id: str, group_id: uuid.UUID, subscribed: bool
) -> None:
    async with sessions() as session, session.begin():
        await CustomerSubscriptionRepository(session).upsert(TENANT, customer_id, group_id, subscribed, "api")


async def message(sessions: async_sessionmaker[AsyncSession], key: str) -> MessageRow:
    async with sessions() as session:
        row = await session.scalar(
            select(MessageRow).where(MessageRow.tenant_id == TENANT, MessageRow.idempotency_key == key)
        )
        assert row is not None, key
        return row


def request(key: str, customer_id: str, caps: list[FrequencyCap] | None = None, **config: Any) -> SendRequest:
    body = {"channel": "EMAIL", "subject": "Hi", "body": "Hello [{{ unsubscribe_url }}]", **config}
    return SendRequest(
        tenant_id=TENANT,
        journey_id=str(uuid.uuid4()),
        enrollment_id=str(uuid.uuid4()),
        customer_id=customer_id,
        node_id="n",
        visit=1,
        idempotency_key=key,
        config=SendConfig.model_validate(body),
        frequency_caps=caps or [],
    )


@pytest.fixture
def links(settings: Settings) -> UnsubscribeLinks:
    return links_from_settings(settings)


@pytest.fixture
def activities(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, links: UnsubscribeLinks
) -> MessagingActivities:
    return MessagingActivities(sessions, {"EMAIL": EmailChannel(smtp_config(settings))}, unsubscribe=links)


def mail_to(sink: SmtpSink, address: str) -> list[Any]:
    return [m for m in sink.messages() if address in m.rcpt_tos]


# --- through the engine ------------------------------------------------------------------------------


async def test_an_unsubscribed_customer_is_suppressed_and_the_journey_goes_on_to_a_transactional_send(
    api_client_for: ApiClientFor,
    own_time_skipping_env: WorkflowEnvironment,
    run_worker: RunWorker,
    sessions: async_sessionmaker[AsyncSession],
    smtp_sink: SmtpSink,
    links: UnsubscribeLinks,
) -> None:
    client = own_time_skipping_env.client
    news = send("news", subject="News", body="Read on. Leave: {{ unsubscribe_url }}")
    receipt = send("receipt", subject="Receipt", body="Paid. [{{ unsubscribe_url }}]", transactional=True)
    default = await default_group(sessions)
    await subscribe(sessions, "bob", default, False)
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, chain(TRIGGER, news, receipt, END))
        for who in ("ann", "bob"):
            await http.put(f"/v1/customers/{who}", json={"traits": {"email": f"{who}@example.com"}})
            started = await http.post(f"/v1/journeys/{journey_id}/enrollments", json={"customerId": who})
            assert started.status_code == 201, started.text
        results = [
            await result_skipping_time(own_time_skipping_env, handle_of(client, journey_id, who))
            for who in ("ann", "bob")
        ]
        log = (await http.get(f"/v1/messages?journeyId={journey_id}")).json()["data"]
        unsubscribed = (await http.get("/v1/messages?reason=unsubscribed")).json()["data"]
        bad_filter = await http.get("/v1/messages?reason=bored")

    by = {(m["customerId"], m["nodeId"]): m for m in log}
    assert [r["status"] for r in results] == ["COMPLETED", "COMPLETED"], "a suppressed send continues"
    assert by["bob", "news"]["status"] == "suppressed" and by["bob", "news"]["reason"] == "unsubscribed"
    assert "unsubscribed" in by["bob", "news"]["error"]
    assert by["bob", "news"]["subscriptionGroupId"] == str(default)
    assert [(m["customerId"], m["nodeId"]) for m in unsubscribed] == [("bob", "news")]
    assert by["ann", "news"]["status"] == "sent" and by["ann", "news"]["reason"] is None
    assert by["bob", "receipt"]["status"] == by["ann", "receipt"]["status"] == "sent"
    assert by["ann", "receipt"]["subscriptionGroupId"] is None, "a transactional send is in no group"
    assert by["ann", "receipt"]["transactional"] is True, "and is shown as such"
    assert bad_filter.status_code == 422 and "reason" in bad_filter.text

    bob_mail = mail_to(smtp_sink, "bob@example.com")
    assert [m.subject for m in bob_mail] == ["Receipt"], "no provider call for the suppressed send"
    ann_mail = {m.subject: m for m in mail_to(smtp_sink, "ann@example.com")}
    newsletter, paid = ann_mail["News"], ann_mail["Receipt"]
    assert newsletter.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(\S+)>", newsletter.headers["List-Unsubscribe"].split(",")[0].strip())
    assert url is not None, newsletter.headers["List-Unsubscribe"]
    assert f"Leave: {url.group(1)}" in newsletter.text_body, "the body's link is the header's"
    claim = links.read(url.group(1).rsplit("/", 1)[1])
    assert (claim.tenant_id, claim.customer_id, str(claim.group_id)) == (TENANT, "ann", str(default))
    assert "ann" not in url.group(1) and "example.com" not in url.group(1), "the link is opaque"
    assert "List-Unsubscribe" not in paid.headers and "List-Unsubscribe-Post" not in paid.headers
    assert "Paid. []" in paid.text_body, "a transactional send renders unsubscribe_url as ''"


# --- the send activity -------------------------------------------------------------------------------


async def test_an_opt_in_group_sends_only_to_customers_who_joined(
    activities: MessagingActivities, sessions: async_sessionmaker[AsyncSession], smtp_sink: SmtpSink
) -> None:
    beta = await group(sessions, "Beta", "OPT_IN")
    for who in ("joined", "never", "left"):
        await customer(sessions, who)
    await subscribe(sessions, "joined", beta, True)
    await subscribe(sessions, "left", beta, True)
    await subscribe(sessions, "left", beta, False)

    def beta_send(key: str, who: str) -> SendRequest:
        return request(key, who, subscriptionGroupId=str(beta))

    joined = await activities.send_message(beta_send("beta:joined", "joined"))
    never = await activities.send_message(beta_send("beta:never", "never"))
    left = await activities.send_message(beta_send("beta:left", "left"))
    # Joining later does not undo a settled suppression; a new message is judged anew.
    await subscribe(sessions, "never", beta, True)
    never_retried = await activities.send_message(beta_send("beta:never", "never"))
    never_next = await activities.send_message(beta_send("beta:never:2", "never"))

    assert joined.outcome == "sent"
    assert never.outcome == "suppressed" and never.error is not None and "not opted in" in never.error
    assert (await message(sessions, "beta:never")).reason == "not_opted_in"
    assert left.outcome == "suppressed" and (await message(sessions, "beta:left")).reason == "unsubscribed"
    assert never_retried == never and never_next.outcome == "sent"
    assert [len(mail_to(smtp_sink, f"{who}@example.com")) for who in ("joined", "never", "left")] == [1, 1, 0]
    assert (await message(sessions, "beta:joined")).subscription_group_id == beta


async def test_consent_is_judged_again_when_a_send_is_retried(
    activities: MessagingActivities,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    links: UnsubscribeLinks,
    smtp_sink: SmtpSink,
) -> None:
    await customer(sessions, "retry")
    news = await group(sessions, "News", "OPT_OUT")
    unreachable = smtp_config(settings.model_copy(update={"smtp_port": 1}))
    down = MessagingActivities(sessions, {"EMAIL": EmailChannel(unreachable)}, unsubscribe=links)
    with pytest.raises(OSError):  # the mail server is down: the message stays queued, to be retried
        await down.send_message(request("retry:1", "retry", subscriptionGroupId=str(news)))
    queued = await message(sessions, "retry:1")
    await subscribe(sessions, "retry", news, False)
    retried = await activities.send_message(request("retry:1", "retry", subscriptionGroupId=str(news)))

    assert queued.status == "queued"
    assert retried.outcome == "suppressed" and (await message(sessions, "retry:1")).reason == "unsubscribed"
    assert mail_to(smtp_sink, "retry@example.com") == []


async def test_a_send_naming_a_deleted_group_fails_as_a_business_failure(
    activities: MessagingActivities, sessions: async_sessionmaker[AsyncSession], smtp_sink: SmtpSink
) -> None:
    await customer(sessions, "orphan")
    sms = await group(sessions, "Texts", "OPT_OUT", channel="SMS")
    gone = str(uuid.uuid4())

    with pytest.raises(ApplicationError) as missing:
        await activities.send_message(request("orphan:1", "orphan", subscriptionGroupId=gone))
    with pytest.raises(ApplicationError) as mismatched:
        await activities.send_message(request("orphan:2", "orphan", subscriptionGroupId=str(sms)))

    assert missing.value.type == "SubscriptionGroupNotFound" and missing.value.non_retryable
    assert mismatched.value.type == "SubscriptionGroupMismatch"
    row = await message(sessions, "orphan:1")
    assert row.status == "failed" and row.error is not None and gone in row.error and row.reason is None
    assert mail_to(smtp_sink, "orphan@example.com") == []


async def test_a_listed_address_is_suppressed_transactional_or_not_and_caps_say_frequency_cap(
    activities: MessagingActivities, sessions: async_sessionmaker[AsyncSession], smtp_sink: SmtpSink
) -> None:
    await customer(sessions, "cat", "Cat@Example.COM")
    await customer(sessions, "dan")
    await customer(sessions, "eve")
    async with sessions() as session, session.begin():
        listed = SuppressionRepository(session)
        await listed.add(TENANT, "EMAIL", "cat@example.com", "bounced", detail="550 no such user")
        await listed.add(TENANT, "EMAIL", "dan@example.com", "complained")

    bounced = await activities.send_message(request("cat:1", "cat"))
    receipt = await activities.send_message(request("cat:2", "cat", transactional=True))
    complained = await activities.send_message(request("dan:1", "dan"))
    cap = [FrequencyCap(channel="EMAIL", limit=1, period="1 day")]
    first = await activities.send_message(request("eve:1", "eve", cap))
    capped = await activities.send_message(request("eve:2", "eve", cap))

    assert bounced.outcome == receipt.outcome == complained.outcome == "suppressed"
    cat = await message(sessions, "cat:1")
    assert cat.reason == "bounced" and cat.error is not None and "suppression list" in cat.error
    assert cat.recipient is not None and cat.recipient.lower() == "cat@example.com"
    assert (await message(sessions, "cat:2")).reason == "bounced"
    assert (await message(sessions, "dan:1")).reason == "complained"
    assert mail_to(smtp_sink, "Cat@example.com") == mail_to(smtp_sink, "dan@example.com") == []
    assert first.outcome == "sent" and capped.outcome == "suppressed"
    assert (await message(sessions, "eve:2")).reason == "frequency_cap"
    assert (await message(sessions, "eve:1")).reason is None


async def test_in_app_sends_fall_in_their_default_group_and_render_the_link(
    sessions: async_sessionmaker[AsyncSession], links: UnsubscribeLinks
) -> None:
    await customer(sessions, "ivy")
    in_app = MessagingActivities(sessions, {}, unsubscribe=links)
    result: SendResult = await in_app.send_message(
        request("ivy:1", "ivy", channel="IN_APP", contentId="c-1", body="Off: {{ unsubscribe_url }}")
    )
    row = await message(sessions, "ivy:1")
    assert result.outcome == "sent"
    assert row.subscription_group_id == await default_group(sessions, "IN_APP")


# --- publish -----------------------------------------------------------------------------------------


async def test_publish_names_each_send_whose_group_is_not_the_tenants_or_not_its_channel(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sms = await group(sessions, "Texts", "OPT_OUT", channel="SMS")
    email = await group(sessions, "Letters", "OPT_IN")
    unknown = str(uuid.uuid4())
    body = chain(
        TRIGGER,
        send("a", subject="A", body="a", subscriptionGroupId=str(email).upper()),
        send("b", subject="B", body="b", subscriptionGroupId=unknown),
        send("c", subject="C", body="c", subscriptionGroupId=str(sms)),
        send("d", subject="D", body="d", subscriptionGroupId="not-a-uuid"),
        END,
    )
    async with api_client_for(None) as http:
        created = await http.post("/v1/journeys", json=body)
        assert created.status_code == 201, created.text
        journey = created.json()
        errors = await publish_errors(http, journey["id"])
        body["nodes"] = [n for n in body["nodes"] if n["id"] not in ("b", "c", "d")]
        body["edges"] = chain(*body["nodes"])["edges"]
        fine = await publish(http, body)
    async with api_client_for(None, tenant="globex") as globex:
        elsewhere = await globex.post("/v1/journeys", json=chain(TRIGGER, body["nodes"][1], END))
        foreign = await publish_errors(globex, elsewhere.json()["id"])

    assert [e["loc"] for e in errors] == [
        ["nodes", 2, "config", "subscriptionGroupId"],
        ["nodes", 3, "config", "subscriptionGroupId"],
        ["nodes", 4, "config", "subscriptionGroupId"],
    ]
    assert unknown in errors[0]["msg"] and "SMS" in errors[1]["msg"] and "not-a-uuid" in errors[2]["msg"]
    assert journey["publishable"] is False and journey["problems"] == errors
    assert fine
    assert [e["loc"] for e in foreign] == [["nodes", 1, "config", "subscriptionGroupId"]], "another tenant's"
