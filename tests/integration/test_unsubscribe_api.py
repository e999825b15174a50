"""One-click unsubscribe and the preferences page (api/routers/unsubscribe.py), on real PostgreSQL:
no login, GET changes nothing, the RFC 8058 POST unsubscribes at once and again is the same, a bad
token changes nothing, and the state shows on GET /v1/customers/{id}/subscriptions."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest_asyncio

from api.app import create_app
from api.resources import AppResources
from delivery.unsubscribe import UnsubscribeLinks
from plumbing.settings import Settings
from services.unsubscribe import links_from_settings
from tests.conftest import TEST_JWT_SECRET, ApiClientFor, token_for

CUSTOMER = "canary-customer-5521"
EMAIL = "canary.5521@example.com"


@pytest_asyncio.fixture
async def http(api_client_for: ApiClientFor) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client_for(None) as client:
        yield client


@pytest_asyncio.fixture
async def customer(http: httpx.AsyncClient) -> str:
    response = await http.put(f"/v1/customers/{CUSTOMER}", json={"traits": {"email": EMAIL}})
    assert response.status_code in (200, 201), response.text
    return CUSTOMER


def public(http: httpx.AsyncClient) -> httpx.AsyncClient:
    """The same app as a recipient reaches it: no Authorization header."""
    return httpx.AsyncClient(transport=http._transport, base_url="http://api")


async def new_group(
    http: httpx.AsyncClient, name: str, *, channel: str = "EMAIL", type: str = "OPT_OUT"
) -> str:
    response = await http.post(
        "/v1/subscriptiongroups", json={"name": name, "channel": channel, "type": type}
    )
    assert response.status_code == 201, response.text
    group_id: str = response.json()["id"]
    return group_id


async def states(http: httpx.AsyncClient, customer_id: str) -> dict[str, dict[str, Any]]:
    response = await http.get(f"/v1/customers/{customer_id}/subscriptions")
    assert response.status_code == 200, response.text
    return {item["subscriptionGroupId"]: item for item in response.json()["data"]}


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def unsubscribe_path(
    settings: Settings, group_id: str, *, tenant: str = "acme", customer: str = CUSTOMER
) -> str:
    return path_of(links_from_settings(settings).for_recipient(tenant, customer, group_id).url)


def assert_page(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "noindex" in response.headers["x-robots-tag"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert CUSTOMER not in response.text and EMAIL not in response.text
    assert "http://" not in response.text and "https://" not in response.text, "no external assets"
    return response.text


async def test_get_shows_the_group_and_changes_nothing(
    http: httpx.AsyncClient, customer: str, settings: Settings
) -> None:
    group = await new_group(http, "News <b>& offers</b>")
    path = unsubscribe_path(settings, group)
    async with public(http) as recipient:
        for _ in range(3):  # a link scanner fetching it, twice more
            page = assert_page(await recipient.get(path))
    assert "News &lt;b&gt;&amp; offers&lt;/b&gt;" in page and "<b>" not in page
    assert '<form method="post">' in page
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page
    token = path.rsplit("/", 1)[1]
    assert f'href="../preferences/{token}"' in page
    state = (await states(http, customer))[group]
    assert (state["subscribed"], state["source"], state["changedAt"]) == (True, None, None)


async def test_one_click_post_unsubscribes_at_once_and_again_is_the_same(
    http: httpx.AsyncClient, customer: str, settings: Settings
) -> None:
    group, other = await new_group(http, "Newsletter"), await new_group(http, "Product updates")
    path = unsubscribe_path(settings, group)
    async with public(http) as recipient:
        # As Gmail and Yahoo send it: urlencoded, no cookie, no token.
        page = assert_page(await recipient.post(path, data={"List-Unsubscribe": "One-Click"}))
        assert "You are unsubscribed" in page and "Newsletter" in page
        first = (await states(http, customer))[group]
        assert (first["subscribed"], first["source"]) == (False, "unsubscribe_link")
        assert first["changedAt"] is not None
        again = await recipient.post(path, data={"List-Unsubscribe": "One-Click"})
        assert_page(again)
        assert (await states(http, customer))[group] == first, "idempotent: the first change keeps its time"
        # Any link works, not only the one in this email; the page now says so and offers no button.
        fresh = unsubscribe_path(settings, group)
        assert fresh != path
        page = assert_page(await recipient.get(fresh))
        assert "You are unsubscribed from Newsletter" in page and "<button" not in page
        # RFC 8058 allows multipart/form-data too.
        multipart = await recipient.post(
            unsubscribe_path(settings, other), files={"List-Unsubscribe": (None, "One-Click")}
        )
        assert_page(multipart)
    after = await states(http, customer)
    assert (after[other]["subscribed"], after[other]["source"]) == (False, "unsubscribe_link")


async def test_a_post_without_the_one_click_field_is_400_naming_it(
    http: httpx.AsyncClient, customer: str, settings: Settings
) -> None:
    group = await new_group(http, "Newsletter")
    path = unsubscribe_path(settings, group)
    async with public(http) as recipient:
        for kwargs in (
            {},
            {"data": {"List-Unsubscribe": "Yes"}},
            {"data": {"list-unsubscribe": "One-Click"}},
            {"json": {"List-Unsubscribe": "One-Click"}},
            {"content": b"List-Unsubscribe=One-Click", "headers": {"Content-Type": "text/plain"}},
            {"content": b"\xff\xfe", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            {"content": b"garbage", "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
        ):
            response = await recipient.post(path, **kwargs)
            assert response.status_code == 400, (kwargs, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            if "data" in kwargs or not kwargs:
                assert "List-Unsubscribe" in response.json()["detail"], response.text
    state = (await states(http, customer))[group]
    assert (state["subscribed"], state["source"]) == (True, None)


async def test_tampered_foreign_or_stale_links_are_404_and_change_nothing(
    http: httpx.AsyncClient, customer: str, settings: Settings
) -> None:
    group = await new_group(http, "Newsletter")
    path = unsubscribe_path(settings, group)
    token = path.rsplit("/", 1)[1]
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[len(raw) // 2] ^= 0x20
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    foreign = UnsubscribeLinks(b"another-deployment-0123456789abcdef", "https://x.example").token(
        "acme", customer, group
    )
    bad = [tampered, foreign, token[:-3], "A" * 2000, "not-a-token", str(uuid.uuid4())]
    async with public(http) as recipient:
        for candidate in bad:
            for method in ("GET", "POST"):
                for route in ("unsubscribe", "preferences"):
                    response = await recipient.request(
                        method, f"/v1/{route}/{candidate}", data={"List-Unsubscribe": "One-Click"}
                    )
                    assert response.status_code == 404, (method, route, candidate[:20], response.text)
                    assert response.json()["detail"] == "unknown unsubscribe link"
        assert (await states(http, customer))[group]["subscribed"] is True
        # Another tenant's link names that tenant's group: it cannot reach acme's.
        globex = await recipient.post(
            unsubscribe_path(settings, group, tenant="globex"), data={"List-Unsubscribe": "One-Click"}
        )
        assert globex.status_code == 404, globex.text
        # A deleted group's links name nothing any more.
        assert (await http.delete(f"/v1/subscriptiongroups/{group}")).status_code == 204
        for method in ("GET", "POST"):
            gone = await recipient.request(method, path, data={"List-Unsubscribe": "One-Click"})
            assert gone.status_code == 404, gone.text
        assert (await recipient.get(path, params={"utm_source": "x"})).status_code == 422, "unknown query"
    assert group not in await states(http, customer)


async def test_the_preferences_page_lists_the_channels_groups_and_saves_changes(
    http: httpx.AsyncClient, customer: str, settings: Settings
) -> None:
    news = await new_group(http, "News")
    offers = await new_group(http, "Offers", type="OPT_IN")
    texts = await new_group(http, "Text alerts", channel="SMS")
    links = links_from_settings(settings).for_recipient("acme", customer, news)
    path = path_of(links.preferences_url)
    save: Callable[..., Coroutine[Any, Any, httpx.Response]]
    async with public(http) as recipient:
        page = assert_page(await recipient.get(path))
        assert "News" in page and "Offers" in page and "Text alerts" not in page
        assert f'name="subscribed" value="{news}" checked>' in page
        assert f'name="subscribed" value="{offers}">' in page
        save = recipient.post
        # Leave News, join Offers (an OPT_IN group: the page is where a customer can join it).
        saved = assert_page(await save(path, data={"group": [news, offers], "subscribed": [offers]}))
        assert "Your preferences are saved." in saved
        assert f'name="subscribed" value="{offers}" checked>' in saved
        after = await states(http, customer)
        assert (after[news]["subscribed"], after[news]["source"]) == (False, "preferences")
        assert (after[offers]["subscribed"], after[offers]["source"]) == (True, "preferences")
        assert (after[texts]["subscribed"], after[texts]["source"]) == (True, None), "another channel"
        # A group the page does not list (another channel's, or no group at all): 422, nothing written.
        for field, value in (("group", texts), ("subscribed", texts), ("group", "nope")):
            body = {"group": [news, offers], "subscribed": [news]}
            body[field] = [*body[field], value]
            refused = await save(path, data=body)
            assert refused.status_code == 422, refused.text
            assert refused.json()["errors"][0]["loc"][:2] == ["body", field]
        assert await states(http, customer) == after
        # Saving what is already chosen writes nothing (changedAt stays).
        assert_page(await save(path, data={"group": [news, offers], "subscribed": [offers]}))
        assert await states(http, customer) == after


async def test_link_requests_have_their_own_rate_bucket(settings: Settings, database_url: str) -> None:
    """Recipients' clicks are limited per tenant, apart from the tenant's API budget."""
    limited = settings.model_copy(update={"rate_limit_per_second": 0.001, "rate_limit_burst": 2})
    resources = AppResources.from_settings(limited, database_url=database_url, jwt_secret=TEST_JWT_SECRET)
    path = unsubscribe_path(limited, str(uuid.uuid4()))
    try:
        transport = httpx.ASGITransport(app=create_app(resources))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as recipient:
            answers = [(await recipient.get(path)).status_code for _ in range(3)]
            assert answers == [404, 404, 429], answers  # a group that is not there, then the limit
            headers = {"Authorization": f"Bearer {token_for('acme')}"}
            api = await recipient.get("/v1/subscriptiongroups", headers=headers)
            assert api.status_code == 200, "the tenant's API budget is untouched"
    finally:
        await resources.close()
