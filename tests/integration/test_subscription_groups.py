"""Subscription groups and customers' subscription state (issue 15): the repository's guarantees
(one default per channel under concurrency, idempotent state), /v1/subscriptiongroups, the customer's
subscriptions, identify traits carrying them, and tenant isolation — on real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.subscriptions import NewSubscriptionGroup, SubscriptionService
from services.uow import UnitOfWork
from store.repositories.subscriptions import CustomerSubscriptionRepository, SubscriptionGroupRepository
from tests.conftest import ApiClientFor
from tests.integration.test_api_contract import assert_problem
from tests.journey_examples import welcome_journey

# --- repository -------------------------------------------------------------------------------


async def test_ensure_default_creates_one_opt_out_group_even_when_asked_concurrently(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def ensure() -> uuid.UUID:
        async with sessions() as session:
            group = await SubscriptionGroupRepository(session).ensure_default("acme", "EMAIL")
            await asyncio.sleep(0.05)  # hold the transaction open while the others insert
            await session.commit()
            return group.id

    ids = await asyncio.gather(*(ensure() for _ in range(6)))
    assert len(set(ids)) == 1
    async with sessions() as session:
        repo = SubscriptionGroupRepository(session)
        group = await repo.get("acme", ids[0])
        assert group is not None
        assert (group.name, group.channel, group.type, group.is_default) == (
            "EMAIL (default)",
            "EMAIL",
            "OPT_OUT",
            True,
        )
        assert await repo.ensure_default("acme", "EMAIL") == group
        # Per channel and per tenant.
        sms = await repo.ensure_default("acme", "SMS")
        other = await repo.ensure_default("globex", "EMAIL")
        assert len({group.id, sms.id, other.id}) == 3
        assert other.tenant_id == "globex"


async def test_ensure_default_when_its_name_is_taken_by_a_group_that_is_not_the_default(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        repo = SubscriptionGroupRepository(session)
        first = await repo.ensure_default("acme", "EMAIL")
        first.is_default = False
        await repo.save()
        second = await repo.ensure_default("acme", "EMAIL")
        await session.commit()
        assert second.id != first.id
        assert second.is_default
        assert second.name.startswith("EMAIL (default) ")


async def test_upsert_is_idempotent_and_changed_at_moves_only_with_the_state(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        group = await SubscriptionGroupRepository(session).ensure_default("acme", "EMAIL")
        await session.commit()
    states = []
    for subscribed, source in ((False, "api"), (False, "unsubscribe_link"), (True, "identify")):
        async with sessions() as session:  # each in its own transaction: now() differs
            row = await CustomerSubscriptionRepository(session).upsert(
                "acme", "c1", group.id, subscribed, source
            )
            states.append((row.subscribed, row.source, row.changed_at))
            await session.commit()
    (s1, src1, t1), (s2, src2, t2), (s3, src3, t3) = states
    assert (s1, src1) == (False, "api")
    assert (s2, src2, t2) == (False, "api", t1)  # nothing changed: neither when nor by what
    assert (s3, src3) == (True, "identify")
    assert t3 > t1


async def test_states_follow_the_group_type_until_the_customer_chooses(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        service = SubscriptionService(UnitOfWork(session))
        news = await service.create("acme", NewSubscriptionGroup("Newsletter", "EMAIL", "OPT_IN"))
        promos = await service.create("acme", NewSubscriptionGroup("Promotions", "EMAIL", "OPT_OUT"))
        before = {
            s.group.name: (s.subscribed, s.changed_at, s.source) for s in await service.states("acme", "c1")
        }
        assert before == {"Newsletter": (False, None, None), "Promotions": (True, None, None)}
        await service.set_state("acme", "c1", news.id, True, "preferences")
        await service.set_state("acme", "c1", promos.id, False, "unsubscribe_link")
        after = {s.group.name: (s.subscribed, s.source) for s in await service.states("acme", "c1")}
        assert after == {"Newsletter": (True, "preferences"), "Promotions": (False, "unsubscribe_link")}
        assert {s.group.name: s.subscribed for s in await service.states("acme", "c2")} == {
            "Newsletter": False,
            "Promotions": True,
        }
        await session.commit()


# --- /v1/subscriptiongroups -------------------------------------------------------------------


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json() if response.content else None


def journey_sending_under(group_id: str) -> dict[str, Any]:
    journey = welcome_journey("Newsletter journey")
    journey["nodes"][1]["config"]["subscriptionGroupId"] = group_id
    return journey


async def test_group_crud_and_the_channel_default_switching(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        news = ok(
            await http.post(
                "/v1/subscriptiongroups", json={"name": "Newsletter", "channel": "EMAIL", "type": "OPT_IN"}
            ),
            201,
        )
        assert set(news) == {"id", "name", "channel", "type", "isDefault", "createdAt"}
        assert (news["name"], news["channel"], news["type"], news["isDefault"]) == (
            "Newsletter",
            "EMAIL",
            "OPT_IN",
            False,
        )
        promos = ok(
            await http.post(
                "/v1/subscriptiongroups",
                json={"name": "Promotions", "channel": "EMAIL", "type": "OPT_OUT", "isDefault": True},
            ),
            201,
        )
        sms = ok(
            await http.post(
                "/v1/subscriptiongroups",
                json={"name": "Texts", "channel": "SMS", "type": "OPT_IN", "isDefault": True},
            ),
            201,
        )
        assert ok(await http.get(f"/v1/subscriptiongroups/{news['id']}")) == news

        # Making Newsletter the EMAIL default takes it from Promotions, not from the SMS default.
        made_default = ok(await http.patch(f"/v1/subscriptiongroups/{news['id']}", json={"isDefault": True}))
        assert made_default["isDefault"] is True
        assert ok(await http.get(f"/v1/subscriptiongroups/{promos['id']}"))["isDefault"] is False
        assert ok(await http.get(f"/v1/subscriptiongroups/{sms['id']}"))["isDefault"] is True
        # A new default at creation does the same.
        weekly = ok(
            await http.post(
                "/v1/subscriptiongroups",
                json={"name": "Weekly", "channel": "EMAIL", "type": "OPT_OUT", "isDefault": True},
            ),
            201,
        )
        listed = ok(await http.get("/v1/subscriptiongroups"))
        assert [g["name"] for g in listed["data"]] == ["Newsletter", "Promotions", "Texts", "Weekly"]
        assert {g["name"] for g in listed["data"] if g["isDefault"]} == {"Texts", "Weekly"}
        assert listed["meta"]["total"] == 4
        emails = ok(await http.get("/v1/subscriptiongroups?channel=EMAIL&limit=2&page=2"))
        assert [g["name"] for g in emails["data"]] == ["Weekly"] and emails["meta"]["total"] == 3

        # Rename and retype; the channel may be sent only as it is.
        renamed = ok(
            await http.patch(
                f"/v1/subscriptiongroups/{promos['id']}",
                json={"name": "Offers", "type": "OPT_IN", "channel": "EMAIL"},
            )
        )
        assert (renamed["name"], renamed["type"], renamed["channel"]) == ("Offers", "OPT_IN", "EMAIL")
        moved = assert_problem(
            await http.patch(f"/v1/subscriptiongroups/{promos['id']}", json={"channel": "SMS"}), 422
        )
        assert moved["errors"][0]["loc"][-1] == "channel"  # type: ignore[index]
        # The default can be given up: the channel then has none (until a send creates one).
        ok(await http.patch(f"/v1/subscriptiongroups/{weekly['id']}", json={"isDefault": False}))
        assert not [
            g for g in ok(await http.get("/v1/subscriptiongroups?channel=EMAIL"))["data"] if g["isDefault"]
        ]

        ok(await http.delete(f"/v1/subscriptiongroups/{weekly['id']}"), 204)
        assert_problem(await http.get(f"/v1/subscriptiongroups/{weekly['id']}"), 404)
        assert_problem(await http.delete(f"/v1/subscriptiongroups/{weekly['id']}"), 404)


async def test_bad_group_input_is_refused_naming_the_field(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        body = {"name": "Newsletter", "channel": "EMAIL", "type": "OPT_IN"}
        first = ok(await http.post("/v1/subscriptiongroups", json=body), 201)
        duplicate = assert_problem(
            await http.post("/v1/subscriptiongroups", json={**body, "channel": "SMS"}), 409
        )
        assert "Newsletter" in str(duplicate["detail"])
        other = ok(
            await http.post(
                "/v1/subscriptiongroups", json={"name": "Other", "channel": "SMS", "type": "OPT_OUT"}
            ),
            201,
        )
        assert_problem(
            await http.patch(f"/v1/subscriptiongroups/{other['id']}", json={"name": "Newsletter"}), 409
        )
        # Renaming a group to its own name is no conflict.
        ok(await http.patch(f"/v1/subscriptiongroups/{first['id']}", json={"name": "Newsletter"}))

        for bad, field in (
            ({**body, "name": "x", "colour": "red"}, "colour"),
            ({**body, "name": "x", "channel": "FAX"}, "channel"),
            ({**body, "name": "x", "type": "MAYBE"}, "type"),
            ({"channel": "EMAIL", "type": "OPT_IN"}, "name"),
            ({**body, "name": ""}, "name"),
        ):
            problem = assert_problem(await http.post("/v1/subscriptiongroups", json=bad), 422)
            assert field in str(problem["errors"]), (bad, problem)
        nulled = assert_problem(
            await http.patch(f"/v1/subscriptiongroups/{first['id']}", json={"type": None}), 422
        )
        assert "type" in str(nulled["errors"])
        assert_problem(await http.get("/v1/subscriptiongroups/not-a-uuid"), 404)
        assert_problem(await http.get(f"/v1/subscriptiongroups/{uuid.uuid4()}"), 404)
        assert_problem(await http.get("/v1/subscriptiongroups?colour=red"), 422)


async def test_a_group_named_by_a_journey_send_cannot_be_deleted(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        group = ok(
            await http.post(
                "/v1/subscriptiongroups", json={"name": "Newsletter", "channel": "EMAIL", "type": "OPT_IN"}
            ),
            201,
        )
        subscribed = ok(
            await http.put(f"/v1/customers/c1/subscriptions/{group['id']}", json={"subscribed": True})
        )
        assert subscribed["subscribed"] is True
        journey = ok(await http.post("/v1/journeys", json=journey_sending_under(group["id"])), 201)
        ok(await http.post(f"/v1/journeys/{journey['id']}/publish"))

        refused = assert_problem(await http.delete(f"/v1/subscriptiongroups/{group['id']}"), 409)
        assert journey["id"] in str(refused["detail"])
        assert ok(await http.get(f"/v1/subscriptiongroups/{group['id']}"))["name"] == "Newsletter"

        # Archived, the journey no longer holds the group; its customers' states go with it.
        ok(await http.post(f"/v1/journeys/{journey['id']}/archive"))
        ok(await http.delete(f"/v1/subscriptiongroups/{group['id']}"), 204)
        assert ok(await http.get("/v1/customers/c1/subscriptions")) == {"data": []}


# --- a customer's subscriptions ----------------------------------------------------------------


async def test_customer_subscriptions_get_and_put(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        news = ok(
            await http.post(
                "/v1/subscriptiongroups", json={"name": "Newsletter", "channel": "EMAIL", "type": "OPT_IN"}
            ),
            201,
        )
        promos = ok(
            await http.post(
                "/v1/subscriptiongroups", json={"name": "Promotions", "channel": "EMAIL", "type": "OPT_OUT"}
            ),
            201,
        )
        assert_problem(await http.get("/v1/customers/c1/subscriptions"), 404)  # never seen
        ok(await http.put("/v1/customers/c1", json={"traits": {"email": "ada@example.com"}}))
        before = ok(await http.get("/v1/customers/c1/subscriptions"))
        assert before == {
            "data": [
                {
                    "subscriptionGroupId": news["id"],
                    "subscriptionGroupName": "Newsletter",
                    "channel": "EMAIL",
                    "type": "OPT_IN",
                    "subscribed": False,
                    "changedAt": None,
                    "source": None,
                },
                {
                    "subscriptionGroupId": promos["id"],
                    "subscriptionGroupName": "Promotions",
                    "channel": "EMAIL",
                    "type": "OPT_OUT",
                    "subscribed": True,
                    "changedAt": None,
                    "source": None,
                },
            ]
        }
        joined = ok(await http.put(f"/v1/customers/c1/subscriptions/{news['id']}", json={"subscribed": True}))
        assert (joined["subscriptionGroupId"], joined["subscribed"], joined["source"]) == (
            news["id"],
            True,
            "api",
        )
        assert joined["changedAt"] is not None
        again = ok(await http.put(f"/v1/customers/c1/subscriptions/{news['id']}", json={"subscribed": True}))
        assert again == joined  # idempotent: the same state keeps its changedAt
        left = ok(
            await http.put(f"/v1/customers/c1/subscriptions/{promos['id']}", json={"subscribed": False})
        )
        after = ok(await http.get("/v1/customers/c1/subscriptions"))["data"]
        assert after == [joined, left]
        assert left["subscribed"] is False

        # A customer never seen can be given consent ahead of their first event (the profile is made).
        ok(await http.put(f"/v1/customers/newcomer/subscriptions/{news['id']}", json={"subscribed": True}))
        assert [
            e["subscribed"] for e in ok(await http.get("/v1/customers/newcomer/subscriptions"))["data"]
        ] == [
            True,
            True,
        ]
        assert ok(await http.get("/v1/customers/newcomer"))["traits"] == {}

        assert_problem(
            await http.put(f"/v1/customers/c1/subscriptions/{uuid.uuid4()}", json={"subscribed": True}), 404
        )
        assert_problem(await http.put("/v1/customers/c1/subscriptions/nope", json={"subscribed": True}), 404)
        for bad in ({}, {"subscribed": "yes"}, {"subscribed": True, "source": "crm"}):
            assert_problem(await http.put(f"/v1/customers/c1/subscriptions/{news['id']}", json=bad), 422)
        assert_problem(
            await http.put("/v1/customers/ghost/subscriptions/nope", json={"subscribed": True}), 404
        )
        assert_problem(await http.get("/v1/customers/ghost"), 404)  # a refused PUT made no profile


async def test_identify_traits_set_subscriptions_by_group_id_or_name(
    api_client_for: ApiClientFor, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with api_client_for(None) as http:
        news = ok(
            await http.post(
                "/v1/subscriptiongroups", json={"name": "Newsletter", "channel": "EMAIL", "type": "OPT_IN"}
            ),
            201,
        )
        promos = ok(
            await http.post(
                "/v1/subscriptiongroups", json={"name": "Promotions", "channel": "EMAIL", "type": "OPT_OUT"}
            ),
            201,
        )
        identify = {
            "type": "identify",
            "userId": "u1",
            "traits": {
                "firstName": "Ada",
                "subscriptions": {news["id"].upper(): True, "Promotions": False, "No such group": True},
            },
        }
        ok(await http.post("/v1/events", json=identify), 202)
        states = {
            e["subscriptionGroupName"]: e
            for e in ok(await http.get("/v1/customers/u1/subscriptions"))["data"]
        }
        assert {name: (e["subscribed"], e["source"]) for name, e in states.items()} == {
            "Newsletter": (True, "identify"),
            "Promotions": (False, "identify"),
        }
        # Consent is kept as state, not as a trait.
        assert ok(await http.get("/v1/customers/u1"))["traits"] == {"firstName": "Ada"}

        # A batch: the last call for a customer wins; an identify carrying only subscriptions still
        # makes the profile; a track's traits are ordinary traits.
        batch = {
            "batch": [
                {"type": "identify", "userId": "u1", "traits": {"subscriptions": {"Newsletter": False}}},
                {"type": "identify", "userId": "u1", "traits": {"subscriptions": {"Newsletter": True}}},
                {"type": "identify", "userId": "u2", "traits": {"subscriptions": {promos["id"]: False}}},
                {"type": "identify", "userId": "u3", "traits": {"subscriptions": {"Newsletter": "yes"}}},
            ]
        }
        ok(await http.post("/v1/events/batch", json=batch), 202)
        assert [e["subscribed"] for e in ok(await http.get("/v1/customers/u1/subscriptions"))["data"]] == [
            True,
            False,
        ]
        # u1's Newsletter state did not change in the end: its changedAt stays.
        assert (
            ok(await http.get("/v1/customers/u1/subscriptions"))["data"][0]["changedAt"]
            == states["Newsletter"]["changedAt"]
        )
        assert [e["subscribed"] for e in ok(await http.get("/v1/customers/u2/subscriptions"))["data"]] == [
            False,
            False,
        ]
        assert ok(await http.get("/v1/customers/u2"))["traits"] == {}
        assert [e["source"] for e in ok(await http.get("/v1/customers/u3/subscriptions"))["data"]] == [
            None,
            None,
        ]

    async with sessions() as session:
        rows = await CustomerSubscriptionRepository(session).for_customer("acme", "u1")
        assert [(s.group.name, s.row.source if s.row else None) for s in rows] == [
            ("Newsletter", "identify"),
            ("Promotions", "identify"),
        ]


async def test_consent_given_anonymously_holds_after_the_profile_is_merged(
    api_client_for: ApiClientFor,
) -> None:
    async with api_client_for(None) as http:
        for name in ("Newsletter", "Promotions"):
            body = {"name": name, "channel": "EMAIL", "type": "OPT_OUT"}
            ok(await http.post("/v1/subscriptiongroups", json=body), 201)
        ok(await http.put("/v1/customers/known-1", json={"traits": {"firstName": "Kay"}}))
        # Known first: Newsletter left; then, anonymously and later, Promotions left, Newsletter rejoined.
        left = {"type": "identify", "userId": "known-1", "traits": {"subscriptions": {"Newsletter": False}}}
        ok(await http.post("/v1/events", json=left), 202)
        anonymous = {
            "type": "identify",
            "anonymousId": "device-9",
            "traits": {"subscriptions": {"Promotions": False, "Newsletter": True}},
        }
        ok(await http.post("/v1/events", json=anonymous), 202)
        logged_in = {"type": "identify", "userId": "known-1", "anonymousId": "device-9", "traits": {}}
        ok(await http.post("/v1/events", json=logged_in), 202)

        states = ok(await http.get("/v1/customers/known-1/subscriptions"))["data"]
        assert {s["subscriptionGroupName"]: s["subscribed"] for s in states} == {
            "Newsletter": True,
            "Promotions": False,
        }


async def test_identify_through_the_segment_tracking_api(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        ok(
            await http.post(
                "/v1/subscriptiongroups", json={"name": "Newsletter", "channel": "EMAIL", "type": "OPT_IN"}
            ),
            201,
        )
        source = ok(await http.post("/v1/sources", json={"name": "Site"}), 201)
        sent = await http.post(
            "/v1/identify",
            json={"userId": "u9", "traits": {"plan": "pro", "subscriptions": {"Newsletter": True}}},
            auth=(source["writeKey"], ""),
        )
        assert sent.status_code == 200, sent.text
        data = ok(await http.get("/v1/customers/u9/subscriptions"))["data"]
        assert [(e["subscribed"], e["source"]) for e in data] == [(True, "identify")]
        assert ok(await http.get("/v1/customers/u9"))["traits"] == {"plan": "pro"}


async def test_groups_and_subscriptions_are_per_tenant(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None, tenant="acme") as acme:
        group = ok(
            await acme.post(
                "/v1/subscriptiongroups", json={"name": "Newsletter", "channel": "EMAIL", "type": "OPT_IN"}
            ),
            201,
        )
        ok(await acme.put(f"/v1/customers/c1/subscriptions/{group['id']}", json={"subscribed": True}))
    async with api_client_for(None, tenant="globex") as globex:
        assert ok(await globex.get("/v1/subscriptiongroups"))["data"] == []
        assert_problem(await globex.get(f"/v1/subscriptiongroups/{group['id']}"), 404)
        assert_problem(
            await globex.patch(f"/v1/subscriptiongroups/{group['id']}", json={"name": "Mine"}), 404
        )
        assert_problem(await globex.delete(f"/v1/subscriptiongroups/{group['id']}"), 404)
        assert_problem(await globex.get("/v1/customers/c1/subscriptions"), 404)
        assert_problem(
            await globex.put(f"/v1/customers/c1/subscriptions/{group['id']}", json={"subscribed": False}), 404
        )
        # The same name is free in another tenant; its identify cannot reach acme's group by name or id.
        own = ok(
            await globex.post(
                "/v1/subscriptiongroups", json={"name": "Newsletter", "channel": "EMAIL", "type": "OPT_OUT"}
            ),
            201,
        )
        identify = {"type": "identify", "userId": "c1", "traits": {"subscriptions": {group["id"]: False}}}
        ok(await globex.post("/v1/events", json=identify), 202)
        assert [
            (e["subscriptionGroupId"], e["source"])
            for e in ok(await globex.get("/v1/customers/c1/subscriptions"))["data"]
        ] == [(own["id"], None)]
    async with api_client_for(None, tenant="acme") as acme:
        mine = ok(await acme.get("/v1/customers/c1/subscriptions"))["data"]
        assert [(e["subscribed"], e["source"]) for e in mine] == [(True, "api")]
        assert ok(await acme.get(f"/v1/subscriptiongroups/{group['id']}"))["name"] == "Newsletter"


async def test_scopes(api_client_for: ApiClientFor) -> None:
    async with api_client_for(
        None, scopes=["journey:subscriptiongroup:view", "journey:subscription:view"]
    ) as http:
        assert ok(await http.get("/v1/subscriptiongroups"))["data"] == []
        body = {"name": "Newsletter", "channel": "EMAIL", "type": "OPT_IN"}
        denied = assert_problem(await http.post("/v1/subscriptiongroups", json=body), 403)
        assert "journey:subscriptiongroup:add" in str(denied["detail"])
        denied = assert_problem(
            await http.put(f"/v1/customers/c1/subscriptions/{uuid.uuid4()}", json={"subscribed": True}), 403
        )
        assert "journey:subscription:edit" in str(denied["detail"])


async def test_the_document_names_the_conflicts(api_client_for: ApiClientFor) -> None:
    async with api_client_for(None) as http:
        paths = ok(await http.get("/openapi.json"))["paths"]
    for method, path in (
        ("post", "/v1/subscriptiongroups"),
        ("patch", "/v1/subscriptiongroups/{subscriptionGroupId}"),
        ("delete", "/v1/subscriptiongroups/{subscriptionGroupId}"),
    ):
        assert "409" in paths[path][method]["responses"], (method, path)
    assert (
        "409"
        not in paths["/v1/customers/{customerId}/subscriptions/{subscriptionGroupId}"]["put"]["responses"]
    )
