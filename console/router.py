"""`/console` (and every path under it) answers the one HTML shell; `/console/assets/{name}` the files
shipped in `console/assets/`. Every answer carries a strict Content-Security-Policy and the framing,
referrer and sniffing headers, errors included.

The shell reads no query parameter and the server never sees the token: a sign-in link carries it in the
URL fragment (`/console#token=…`), which browsers do not send.

The routes are plain Starlette routes, not API operations: they are in no OpenAPI document, take no
token or scope, and the API's rules for its operations (unknown query parameters are a 422…) do not
apply to a page's address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response

ASSETS = Path(__file__).resolve().parent / "assets"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _load(path: Path) -> Asset:
    body = path.read_bytes()
    return Asset(body, CONTENT_TYPES[path.suffix], f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def _assets() -> dict[str, Asset]:
    """The files a browser may ask for, by name: a fixed table, so no request path reaches the disk."""
    return {p.name: _load(p) for p in sorted(ASSETS.iterdir()) if p.is_file() and p.suffix in CONTENT_TYPES}


_ASSETS = _assets()
SHELL = "index.html"


def _answer(request: Request, asset: Asset) -> Response:
    headers = {**SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


async def asset(request: Request) -> Response:
    name = str(request.path_params["name"])
    found = _ASSETS.get(name)
    if found is None or name == SHELL:
        return Response(
            "not found", status_code=404, media_type="text/plain; charset=utf-8", headers=SECURITY_HEADERS
        )
    return _answer(request, found)


async def shell(request: Request) -> Response:
    """The single page: it routes on the path itself (journeys, a journey, its enrollments, one
    enrollment, its migrations)."""
    return _answer(request, _ASSETS[SHELL])


router = APIRouter()
router.add_route("/console/assets/{name}", asset, methods=["GET", "HEAD"], include_in_schema=False)
router.add_route("/console", shell, methods=["GET", "HEAD"], include_in_schema=False)
router.add_route("/console/{path:path}", shell, methods=["GET", "HEAD"], include_in_schema=False)
