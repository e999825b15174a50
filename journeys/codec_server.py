"""The Temporal codec server: lets the Temporal UI and CLI show encrypted payloads in clear.

Protocol (https://docs.temporal.io/production-deployment/data-encryption): `POST /encode` and
`POST /decode` take and return `{"payloads": [{"metadata": {key: base64}, "data": base64}]}` (the
proto3 JSON form of `temporal.api.common.v1.Payloads`). Run it with `journeys codec-server` and point
the UI at it (`temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8888`).
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from plumbing.codec import EncryptionCodec, PayloadDecryptionError, codec_from_settings
from plumbing.settings import Settings

MAX_BODY_BYTES = 4 * 1024 * 1024


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def create_codec_app(settings: Settings, codec: EncryptionCodec | None = None) -> FastAPI:
    """The codec server for `settings` (or an explicit `codec`, for tests)."""
    active = codec if codec is not None else codec_from_settings(settings)
    if active is None:
        raise RuntimeError("the codec server needs JOURNEYS_PAYLOAD_ENCRYPTION_KEY to be set")
    codec_: EncryptionCodec = active
    token = settings.codec_server_token.get_secret_value() if settings.codec_server_token else None

    app = FastAPI(title="journeys codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=sorted({_origin(settings.temporal_ui_url), *settings.codec_server_cors_origins}),
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
    )

    async def payloads_of(request: Request) -> Payloads | JSONResponse:
        if token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return _problem(401, "Unauthorized", "a valid bearer token is required")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _problem(413, "Payload too large", f"at most {MAX_BODY_BYTES} bytes")
        try:
            return json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
            return _problem(400, "Bad request", f"not a Payloads JSON document: {exc}")

    def answer(payloads: Payloads) -> dict[str, Any]:
        # Key order and base64 exactly as the Go/TS SDKs write them; `payloads` always present.
        document = json_format.MessageToDict(payloads, preserving_proto_field_name=True)
        document.setdefault("payloads", [])
        return document

    @app.post("/encode")
    async def encode(request: Request) -> Any:
        parsed = await payloads_of(request)
        if isinstance(parsed, JSONResponse):
            return parsed
        return answer(Payloads(payloads=await codec_.encode(parsed.payloads)))

    @app.post("/decode")
    async def decode(request: Request) -> Any:
        parsed = await payloads_of(request)
        if isinstance(parsed, JSONResponse):
            return parsed
        try:
            decoded = await codec_.decode(parsed.payloads)
        except PayloadDecryptionError as exc:
            return _problem(400, "Cannot decode", str(exc))
        return answer(Payloads(payloads=decoded))

    return app
