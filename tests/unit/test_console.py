"""The console's router and assets without a browser: every path answers the shell or a file with the
strict headers, nothing reaches the disk by a request path, and the assets keep the CSP's promises (no
inline script or style, no other origin, no token or customer id put in a URL)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from console.router import ASSETS, CONTENT_SECURITY_POLICY, router

HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        yield http


def test_the_policy_is_the_strict_one() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives == {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "connect-src": "'self'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/console",
        "/console/",
        "/console/journeys/0c6f3a8e-7d2b-4f4e-8f51-6a1b2c3d4e5f",
        "/console/journeys/0c6f3a8e-7d2b-4f4e-8f51-6a1b2c3d4e5f/enrollments/5b0e8a52-3c1f-4e0a-9a43-1f2d3c4b5a69",
        "/console/no/such/page",
    ],
)
async def test_every_console_path_answers_the_shell_with_the_headers(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/console/assets/app.js"></script>' in response.text
    for name, value in HEADERS.items():
        assert response.headers[name] == value


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
async def test_assets_are_served_with_their_type_and_the_headers(
    client: httpx.AsyncClient, name: str, content_type: str
) -> None:
    response = await client.get(f"/console/assets/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == (ASSETS / name).read_bytes()
    for header, value in HEADERS.items():
        assert response.headers[header] == value
    again = await client.get(f"/console/assets/{name}", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "name", ["nope.js", "..%2F__init__.py", "%2E%2E%2Frouter.py", "router.py", "index.html"]
)
async def test_only_the_shipped_files_are_served(client: httpx.AsyncClient, name: str) -> None:
    response = await client.get(f"/console/assets/{name}")
    # A name with a slash in it is no asset name: such a path gets the shell, never a file of the package.
    assert response.status_code == 404 or response.text == (ASSETS / "index.html").read_text()
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "APIRouter" not in response.text and "console's router" not in response.text


def _assets(suffix: str) -> list[Path]:
    return sorted(ASSETS.glob(f"*{suffix}"))


def test_every_module_the_scripts_import_is_shipped() -> None:
    scripts = _assets(".js")
    assert {p.name for p in scripts} >= {"app.js", "api.js", "dom.js", "graph.js"}
    for script in scripts:
        for imported in re.findall(r'from "\./([^"]+)"', script.read_text()):
            assert (ASSETS / imported).is_file(), f"{script.name} imports a missing {imported}"


def test_no_inline_script_or_style_and_no_other_origin() -> None:
    shell = (ASSETS / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)", shell) == [], "inline script"
    assert "<style" not in shell and " style=" not in shell, "inline style"
    assert re.findall(r"\son[a-z]+=", shell) == [], "inline event handler"
    for asset in [*_assets(".html"), *_assets(".js"), *_assets(".css")]:
        text = asset.read_text()
        assert re.findall(r"https?://(?!www\.w3\.org/2000/svg)", text) == [], f"{asset.name} names an origin"
        assert "innerHTML" not in text and "eval(" not in text, asset.name
        assert 'setAttribute("style"' not in text, asset.name


def test_the_token_travels_only_in_a_header_and_the_fragment() -> None:
    api = (ASSETS / "api.js").read_text()
    assert "sessionStorage" in api and "Authorization" in api
    assert "history.replaceState" in api, "the fragment is cleared once read"
    for script in _assets(".js"):
        text = script.read_text()
        assert "localStorage" not in text, f"{script.name}: the token lives in this tab only"
        assert not re.search(r"[?&]token=|token=\$\{", text), f"{script.name} puts a token in a URL"
    finder = (ASSETS / "enrollments.js").read_text()
    assert "/v1/customers/${seg(customerId)}/enrollments" in finder
    assert not re.search(r"(pushState|replaceState|navigate)\([^)]*customer", finder, re.IGNORECASE)
