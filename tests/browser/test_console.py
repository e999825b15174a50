"""The console, as an operator uses it, in headless Chromium: signing in (a pasted token, or once from the
URL fragment), a journey's graph with the customers waiting at each node — updated live as one moves on —,
an enrollment's path, Temporal link and buttons, a second tenant who sees nothing, and the states that say
what to do. With JOURNEYS_REFRESH_SCREENSHOTS=1 the journey and enrollment tests write the README's
screenshots (docs/images/console-journey.png, console-enrollment.png) at 1400×900."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, Route, expect

from tests.browser.conftest import Console
from tests.support import eventually, publish

TIMEOUT = 20_000  # ms: projections and analytics follow the workflows within seconds

WELCOME = {
    "name": "Welcome series",
    "nodes": [
        {"id": "start", "type": "TRIGGER", "name": "Signed up", "config": {"triggerType": "MANUAL"}},
        {
            "id": "welcome",
            "type": "SEND",
            "name": "Welcome email",
            "config": {"channel": "EMAIL", "subject": "Welcome, {{ traits.firstName }}", "body": "Hi"},
        },
        {"id": "settle", "type": "WAIT", "name": "Three days", "config": {"duration": "3 days"}},
        {
            "id": "pro",
            "type": "CONDITION",
            "name": "On the pro plan?",
            "config": {"rules": [{"field": "plan", "operator": "eq", "value": "pro"}]},
        },
        {
            "id": "tips",
            "type": "SEND",
            "name": "Pro tips",
            "config": {"channel": "EMAIL", "subject": "Tips", "body": "Tips"},
        },
        {
            "id": "upgrade",
            "type": "WAIT_FOR_EVENT",
            "name": "Upgrades soon?",
            "config": {"event": "Upgraded", "timeout": "2 days"},
        },
        {
            "id": "nudge",
            "type": "SEND",
            "name": "Upgrade nudge",
            "config": {"channel": "EMAIL", "subject": "Upgrade?", "body": "Nudge"},
        },
        {"id": "done", "type": "EXIT", "name": "Done"},
        {"id": "nudged", "type": "EXIT", "name": "Nudged"},
    ],
    "edges": [
        {"sourceNodeId": s, "targetNodeId": t, "label": label}
        for s, t, label in [
            ("start", "welcome", "next"),
            ("welcome", "settle", "next"),
            ("settle", "pro", "next"),
            ("pro", "tips", "yes"),
            ("pro", "upgrade", "no"),
            ("tips", "done", "next"),
            ("upgrade", "done", "matched"),
            ("upgrade", "nudge", "timeout"),
            ("nudge", "nudged", "next"),
        ]
    ],
}
CUSTOMERS = [
    ("ada", "pro"),
    ("ben", "free"),
    ("cy", "free"),
    ("dee", "pro"),
    ("eve", "free"),
    ("fay", "free"),
    ("gus", "pro"),
    ("hal", "free"),
]


async def welcome_journey(console: Console, customers: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """Publish the welcome series and enroll the customers (each waiting at "Three days" once entered);
    answers the journey id and each customer's enrollment id."""
    http = console.http
    journey_id = await publish(http, WELCOME)
    enrollments = {}
    for customer, plan in customers:
        traits = {"email": f"{customer}@example.com", "firstName": customer.title(), "plan": plan}
        await http.put(f"/v1/customers/{customer}", json={"traits": traits})
        entered = await http.post(f"/v1/journeys/{journey_id}/enrollments", json={"customerId": customer})
        assert entered.status_code == 201, entered.text
        enrollments[customer] = entered.json()["id"]
    return journey_id, enrollments


async def skip_wait(http: httpx.AsyncClient, journey_id: str, enrollment_id: str) -> dict[str, Any]:
    """skipWait through the API, once the enrollment waits (an action before it does is refused)."""

    async def attempt() -> dict[str, Any] | None:
        answer = await http.post(
            f"/v1/journeys/{journey_id}/enrollments/{enrollment_id}/actions",
            json={"action": "skipWait", "reason": "from the test"},
        )
        if answer.status_code == 409:
            return None
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    return await eventually(attempt, timeout=20, interval=0.2, what="skipWait accepted")


async def at_node(http: httpx.AsyncClient, journey_id: str, enrollment_id: str, node: str) -> None:
    async def check() -> bool:
        answer = await http.get(f"/v1/journeys/{journey_id}/enrollments/{enrollment_id}")
        return bool(answer.json()["currentStepId"] == node)

    await eventually(check, timeout=20, interval=0.2, what=f"the enrollment at {node}")


async def sign_in(page: Page, console: Console, path: str = "/console", tenant: str | None = None) -> None:
    """Open `path` with a sign-in link's fragment, as an operator following `make run`'s banner does."""
    await page.goto(f"{console.base}{path}#token={console.token(tenant)}")


def node(page: Page, node_id: str) -> Any:
    return page.locator(f'#graph [data-node-id="{node_id}"], #path-graph [data-node-id="{node_id}"]')


async def test_signing_in_by_pasting_a_token(page: Page, console_server: Console) -> None:
    response = await page.goto(f"{console_server.base}/console")
    assert response is not None
    assert response.headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"

    await expect(page.locator("#sign-in")).to_be_visible()
    await page.fill("#token-input", "not-a-token")
    await page.click("#sign-in-button")
    await expect(page.locator("#sign-in-error")).to_contain_text("refused")

    token = console_server.token()
    await page.fill("#token-input", token)
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")  # the button, from the keyboard
    await expect(page.get_by_role("heading", name="Journeys", exact=True)).to_be_visible()
    await expect(page.locator("#who .tenant")).to_have_text("acme")
    assert "token" not in page.url
    assert await page.evaluate("sessionStorage.getItem('journeys.console.token')") == token

    await page.click("#sign-out")
    await expect(page.locator("#sign-in")).to_be_visible()
    assert await page.evaluate("sessionStorage.length") == 0


async def test_a_link_signs_in_through_the_fragment_once(page: Page, console_server: Console) -> None:
    journey_id = await publish(console_server.http, {**WELCOME, "name": "Fragment sign-in"})
    await sign_in(page, console_server, f"/console/journeys/{journey_id}")
    await expect(page.locator("#journey-name")).to_have_text("Fragment sign-in")
    assert page.url == f"{console_server.base}/console/journeys/{journey_id}", "the fragment is cleared"
    await page.reload()  # the token lives in the tab's sessionStorage now
    await expect(page.locator("#journey-name")).to_have_text("Fragment sign-in")

    # A link with a token the API refuses (expired, another server's): back to sign-in, saying why.
    await page.goto(f"{console_server.base}/console#token=eyJhbGciOiJIUzI1NiJ9.e30.bad")
    await expect(page.locator("#token-expired")).to_contain_text("invalid or has expired")
    assert "#" not in page.url


async def test_the_graph_shows_who_waits_where_and_follows_them_live(
    page: Page, console_server: Console, screenshots: Path | None
) -> None:
    http = console_server.http
    journey_id, enrollments = await welcome_journey(console_server, CUSTOMERS)
    await sign_in(page, console_server, f"/console/journeys/{journey_id}")

    settle = node(page, "settle")
    await expect(settle).to_have_attribute("data-active", str(len(CUSTOMERS)), timeout=TIMEOUT)
    await expect(settle).to_have_attribute("data-entered", str(len(CUSTOMERS)))
    await expect(node(page, "welcome")).to_have_attribute("data-completed", str(len(CUSTOMERS)))
    await expect(node(page, "welcome")).to_have_attribute("data-active", "0")
    for node_id in ("start", "welcome", "settle", "pro", "tips", "upgrade", "nudge", "done", "nudged"):
        await expect(node(page, node_id)).to_have_count(1)
    await expect(settle.locator(".node-count")).to_have_text(str(len(CUSTOMERS)))
    await expect(settle.locator(".node-name")).to_have_text("Three days")
    await expect(settle.locator(".node-type")).to_have_text("WAIT")
    await expect(page.locator("#journey-totals [data-total=active] dd")).to_have_text(str(len(CUSTOMERS)))

    # One customer moves on (their wait skipped through the API): the page follows without a reload.
    await page.evaluate("window.__notReloaded = true")
    await skip_wait(http, journey_id, enrollments["ada"])
    await expect(settle).to_have_attribute("data-active", str(len(CUSTOMERS) - 1), timeout=TIMEOUT)
    await expect(settle).to_have_attribute("data-completed", "1")
    await expect(node(page, "tips")).to_have_attribute("data-completed", "1", timeout=TIMEOUT)
    assert await page.evaluate("window.__notReloaded === true"), "the page reloaded"

    # More of them on: the branch's labels carry their share.
    for customer in ("ben", "cy", "dee", "eve"):
        await skip_wait(http, journey_id, enrollments[customer])
    await expect(node(page, "upgrade")).to_have_attribute("data-active", "3", timeout=TIMEOUT)
    await expect(node(page, "settle")).to_have_attribute("data-active", "3", timeout=TIMEOUT)
    yes = page.locator('#graph .edge-label[data-source="pro"][data-label="yes"]')
    await expect(yes).to_have_text("yes · 40%", timeout=TIMEOUT)
    await expect(page.locator('#graph .edge-label[data-source="pro"][data-label="no"]')).to_have_text(
        "no · 60%"
    )
    assert await page.evaluate("window.__notReloaded === true"), "the page reloaded"

    # A node is a button (keyboard too): it lists who is there.
    await node(page, "upgrade").focus()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/enrollments\?node=upgrade$"))
    await expect(page.locator("#enrollments tbody tr")).to_have_count(3, timeout=TIMEOUT)
    await expect(page.locator("#enrollments")).to_contain_text("ben")

    if screenshots is not None:
        await page.goto(f"{console_server.base}/console/journeys/{journey_id}")
        await expect(node(page, "upgrade")).to_have_attribute("data-active", "3", timeout=TIMEOUT)
        await page.wait_for_timeout(800)  # the count animation settles
        await page.screenshot(path=str(screenshots / "console-journey.png"))


async def test_the_enrollment_page_shows_its_path_and_temporal_link(
    page: Page, console_server: Console, screenshots: Path | None
) -> None:
    http = console_server.http
    journey_id, enrollments = await welcome_journey(console_server, [("ivy", "free"), ("jo", "pro")])
    ivy = enrollments["ivy"]
    await skip_wait(http, journey_id, ivy)
    await at_node(http, journey_id, ivy, "upgrade")
    detail = (await http.get(f"/v1/journeys/{journey_id}/enrollments/{ivy}")).json()

    await sign_in(page, console_server, f"/console/journeys/{journey_id}/enrollments/{ivy}")
    await expect(page.locator("#customer")).to_have_text("ivy")
    link = page.locator("#temporal-link")
    await expect(link).to_have_attribute("href", detail["temporalUrl"])
    await expect(link).to_have_attribute("target", "_blank")
    assert detail["temporalUrl"].startswith("http://127.0.0.1:8233/namespaces/")

    for node_id in ("start", "welcome", "settle", "pro", "upgrade"):
        await expect(node(page, node_id)).to_have_class(re.compile(r"\bon-path\b"), timeout=TIMEOUT)
    for node_id in ("tips", "nudge", "done"):
        await expect(node(page, node_id)).not_to_have_class(re.compile(r"\bon-path\b"))
    await expect(node(page, "upgrade")).to_have_class(re.compile(r"\bcurrent\b"))
    await expect(
        page.locator('#path-graph path.edge.on-path[data-source="pro"][data-target="upgrade"]')
    ).to_have_count(1)
    await expect(page.locator("#current-node")).to_have_text("Upgrades soon?")

    # The timeline: each step, the condition's why, the skipped wait by whom.
    timeline = page.locator("#timeline")
    await expect(timeline.locator('[data-kind="step"]')).to_have_count(5, timeout=TIMEOUT)
    why = timeline.locator(".why")
    await expect(why).to_contain_text("plan")
    await expect(why).to_contain_text("not met")
    await expect(why).to_contain_text("no")
    await expect(timeline.locator('[data-kind="action"]')).to_contain_text("skipWait")
    await expect(timeline.locator('[data-kind="message"]')).to_contain_text("EMAIL message")

    if screenshots is not None:
        await page.wait_for_timeout(500)
        await page.screenshot(path=str(screenshots / "console-enrollment.png"))


async def test_the_skip_wait_button_asks_then_moves_the_enrollment_on(
    page: Page, console_server: Console
) -> None:
    http = console_server.http
    journey_id, enrollments = await welcome_journey(console_server, [("kit", "pro")])
    kit = enrollments["kit"]
    await at_node(http, journey_id, kit, "settle")
    await sign_in(page, console_server, f"/console/journeys/{journey_id}/enrollments/{kit}")
    await expect(node(page, "settle")).to_have_class(re.compile(r"\bcurrent\b"), timeout=TIMEOUT)

    # Only the pause/resume button that applies is offered.
    await expect(page.locator('#actions [data-action="pause"]')).to_be_visible()
    await expect(page.locator('#actions [data-action="resume"]')).to_have_count(0)

    # An action refused because someone else acted first (the page kept its stale view: its reads of the
    # enrollment are answered from before) shows the workflow's reason, and changes nothing.
    detail_path = f"/v1/journeys/{journey_id}/enrollments/{kit}"
    stale = (await http.get(detail_path)).json()

    async def keep_stale(route: Route) -> None:
        if route.request.method == "GET":
            await route.fulfill(json=stale)
        else:
            await route.continue_()

    await page.route(f"**{detail_path}", keep_stale)
    paused = await http.post(f"{detail_path}/actions", json={"action": "pause"})
    assert paused.status_code == 200, paused.text
    await page.click('#actions [data-action="pause"]')
    await expect(page.locator("#confirm")).to_be_visible()
    await page.click("#confirm-ok")
    await expect(page.locator("#confirm-error")).to_have_text("Refused: the enrollment is already paused")
    await page.keyboard.press("Escape")
    await expect(page.locator("#confirm")).to_be_hidden()
    await page.unroute(f"**{detail_path}", keep_stale)
    await expect(page.locator('#actions [data-action="resume"]')).to_be_visible(timeout=TIMEOUT)
    await expect(page.locator('#actions [data-action="pause"]')).to_have_count(0)
    resumed = await http.post(f"{detail_path}/actions", json={"action": "resume"})
    assert resumed.status_code == 200, resumed.text
    await expect(page.locator('#actions [data-action="pause"]')).to_be_visible(timeout=TIMEOUT)

    # Cancelling asks nothing of the API.
    await page.click('#actions [data-action="skipWait"]')
    await page.click("#confirm-cancel")
    await expect(page.locator("#confirm")).to_be_hidden()
    assert (await http.get(f"/v1/journeys/{journey_id}/enrollments/{kit}")).json()[
        "currentStepId"
    ] == "settle"

    await page.click('#actions [data-action="skipWait"]')
    await expect(page.locator("#confirm-title")).to_have_text("Skip the wait?")
    await page.fill("#action-reason", "launch moved up")
    await page.click("#confirm-ok")
    await expect(page.locator("#confirm")).to_be_hidden()
    await expect(page.locator("#action-outcome")).to_contain_text("Done: skipWait")
    await at_node(http, journey_id, kit, "done")
    await expect(page.locator("#enrollment-status")).to_have_text("COMPLETED", timeout=TIMEOUT)
    await expect(node(page, "tips")).to_have_class(re.compile(r"\bon-path\b"))
    # Newest first: the skip, with its reason, above the resume, the refused pause and the first pause.
    actions = page.locator("#timeline [data-kind=action]")
    await expect(actions).to_have_count(4)
    await expect(actions.first).to_contain_text("launch moved up")
    await expect(actions.nth(1)).to_contain_text("resume")
    await expect(actions.nth(2)).to_contain_text("409")
    await expect(actions.last).to_contain_text("pause")


async def test_another_tenant_sees_nothing_of_the_first(page: Page, console_server: Console) -> None:
    journey_id = await publish(console_server.http, {**WELCOME, "name": "Acme only"})
    await sign_in(page, console_server, "/console", tenant="globex")
    await expect(page.locator("#who .tenant")).to_have_text("globex")
    await expect(page.locator("#state-no-journeys")).to_be_visible()
    await expect(page.locator("#journeys")).not_to_contain_text("Acme only")

    await page.goto(f"{console_server.base}/console/journeys/{journey_id}")
    await expect(page.locator("#state-not-found")).to_be_visible()
    await expect(page.locator("#state-not-found")).to_contain_text("tenant globex")
    await expect(page.locator("#graph")).to_have_count(0)


async def test_empty_and_unreachable_states_say_what_to_do(page: Page, console_server: Console) -> None:
    journey_id = await publish(console_server.http, {**WELCOME, "name": "Nobody yet"})
    await sign_in(page, console_server, f"/console/journeys/{journey_id}/enrollments")
    await expect(page.locator("#state-no-enrollments")).to_contain_text("Nobody has entered this journey")

    await page.route("**/v1/**", lambda route: route.abort())
    await page.goto(f"{console_server.base}/console/journeys/{journey_id}")
    await expect(page.locator("#state-unreachable")).to_contain_text("make run")
    await page.unroute("**/v1/**")
    await page.click("#state-unreachable button")
    await expect(page.locator("#journey-name")).to_have_text("Nobody yet")

    # Lost while a live page refreshes: it keeps what it showed and says so, then recovers by itself.
    await page.route("**/v1/**", lambda route: route.abort())
    await expect(page.locator("#banner")).to_contain_text("Lost contact with the API", timeout=10_000)
    await expect(page.locator("#journey-name")).to_have_text("Nobody yet")
    await page.unroute("**/v1/**")
    await expect(page.locator("#banner")).to_be_hidden(timeout=10_000)


async def test_migrations_dry_run_then_move_the_waiting_customers(
    page: Page, console_server: Console
) -> None:
    http = console_server.http
    journey_id, enrollments = await welcome_journey(console_server, [("lea", "free"), ("max", "pro")])
    for enrollment_id in enrollments.values():
        await at_node(http, journey_id, enrollment_id, "settle")
    corrected = [
        {**n, "name": "Two days", "config": {"duration": "2 days"}} if n["id"] == "settle" else n
        for n in WELCOME["nodes"]
    ]
    saved = await http.put(
        f"/v1/journeys/{journey_id}/canvas", json={"nodes": corrected, "edges": WELCOME["edges"]}
    )
    assert saved.status_code == 200, saved.text
    assert (await http.post(f"/v1/journeys/{journey_id}/publish")).json()["version"] == 2

    await sign_in(page, console_server, f"/console/journeys/{journey_id}/migrations")
    await expect(page.locator("#from-version")).to_have_value("1")
    await expect(page.locator("#to-version")).to_have_value("2")
    await expect(page.locator('#node-map select[data-from="settle"]')).to_have_value("settle")
    await page.click("#dry-run-button")
    dry_run = page.locator("#dry-run-table")
    await expect(dry_run.locator("tr", has_text="Three days")).to_contain_text("Two days")
    await expect(dry_run.locator("tr", has_text="Three days").locator("td").last).to_have_text("2")

    await page.click("#start-migration")
    await expect(page.locator("#confirm-title")).to_have_text("Move enrollments from v1 to v2?")
    await page.click("#confirm-ok")
    progress = page.locator("#migration-progress section")
    await expect(progress).to_have_attribute("data-status", "COMPLETED", timeout=TIMEOUT)
    await expect(progress.locator(".total-moved dd")).to_have_text("2")

    async def on_version_two() -> bool:
        listed = (await http.get(f"/v1/journeys/{journey_id}/enrollments")).json()["data"]
        return all(e["version"] == 2 for e in listed)

    await eventually(on_version_two, timeout=20, interval=0.2, what="both enrollments on v2")
