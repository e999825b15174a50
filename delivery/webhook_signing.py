"""Standard Webhooks signing: what a send signs with and what a target's secret is checked by."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
# Headers the channel owns: a target's extra headers cannot replace them.
RESERVED_HEADERS = frozenset(
    {"host", "content-type", "content-length", "user-agent", "webhook-id", "webhook-timestamp"}
    | {"webhook-signature", "connection", "transfer-encoding"}
)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` and the base64 HMAC-SHA256 of `{msg_id}.{timestamp}.{body}`."""
    signed_content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_signing_key(secret), signed_content, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode('ascii')}"


def _signing_key(secret: str) -> bytes:
    if not secret:
        raise ValueError("the secret is empty")
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error as exc:
            raise ValueError(f"a {SECRET_PREFIX} secret must be base64: {exc}") from exc
    return secret.encode()
