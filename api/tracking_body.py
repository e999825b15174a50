"""The raw body of a tracking request: read as bytes, gunzipped under a hard cap, parsed as bounded JSON.

No pydantic model stands in front of the tracking routes: an unknown field must never refuse a call,
and one bad event must never refuse its batch. So the body is read here, once:

- `Content-Encoding: gzip` (what the SDKs send) is inflated at most up to the request limit (500 KB):
  inflating stops as soon as the output passes it (413), so a gzip bomb costs no memory;
- `identity` (or no header) is taken as is; any other encoding is a 415;
- the text is UTF-8 JSON (a BOM is tolerated), parsed by `domain.event_limits.loads`, which reads
  NaN / Infinity / 1e400 as refusable markers and cuts absurd nesting, so that such values cost their
  own event only. Anything else is a 400.
"""

from __future__ import annotations

import zlib
from typing import Any

from domain.errors import BadRequestError, PayloadTooLargeError, UnsupportedEncodingError
from domain.event_limits import loads

_GZIP_WINDOW = 16 + zlib.MAX_WBITS


def too_large(limit: int, what: str = "the request body") -> PayloadTooLargeError:
    return PayloadTooLargeError(f"{what} may be at most {limit} bytes (after decompression)")


def gunzip(data: bytes, limit: int) -> bytes:
    """Inflate a gzip stream (members one after another), refusing as soon as the output passes `limit`."""
    out = bytearray()
    remaining = data
    while True:
        inflater = zlib.decompressobj(_GZIP_WINDOW)
        try:
            out += inflater.decompress(remaining, limit + 1 - len(out))
        except zlib.error as exc:
            raise BadRequestError(f"the body is not a valid gzip stream ({exc})") from None
        if len(out) > limit:
            raise too_large(limit)
        if not inflater.eof:
            raise BadRequestError("the gzip stream is truncated")
        remaining = inflater.unused_data
        if not remaining:
            return bytes(out)


def decoded(raw: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body's bytes as sent before compression, at most `limit` of them."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return gunzip(raw, limit)
    if encoding != "identity":
        raise UnsupportedEncodingError(f"Content-Encoding {encoding!r} is not supported (use gzip or none)")
    if len(raw) > limit:
        raise too_large(limit)
    return raw


def parsed(data: bytes) -> Any:
    """The body's JSON value; BadRequestError (400) when it is not UTF-8 JSON."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequestError("the body is not UTF-8 text") from None
    try:
        return loads(text)
    except ValueError as exc:
        raise BadRequestError(f"the body is not valid JSON: {exc}") from None
