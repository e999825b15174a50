"""One-click unsubscribe links (RFC 8058, RFC 2369): the token, the URLs and the email headers.

A token names a recipient's subscription — (tenant, customer, subscription group) — and nothing more.
It is AES-256-GCM over a compact encoding of the three, under a key derived (HKDF-SHA256) from
JOURNEYS_UNSUBSCRIBE_SECRET, with a random 96-bit nonce, in URL-safe base64 without padding:

    token = b64url(version (1 byte) ‖ nonce (12) ‖ sealed)
    sealed = AES-GCM(group uuid (16) ‖ len(tenant) (2) ‖ tenant ‖ customer) ‖ tag (16)

The version byte is authenticated as associated data. Nothing in it is readable (no customer id, no
email, no tenant), and a flipped bit, a cut, or another deployment's secret fails authentication: every
such token is `InvalidUnsubscribeTokenError` (404, "unknown unsubscribe link"). Tokens do not expire:
an unsubscribe link must keep working in an old email; rotating the secret voids every link sent.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
import uuid
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from domain.errors import InvalidUnsubscribeTokenError

__all__ = [
    "MAX_TOKEN_CHARS",
    "ONE_CLICK_FIELD",
    "ONE_CLICK_VALUE",
    "InvalidUnsubscribeTokenError",
    "UnsubscribeClaim",
    "UnsubscribeLink",
    "UnsubscribeLinks",
]

TOKEN_VERSION: Final = 1
MAX_TOKEN_CHARS: Final = 1024  # refused before any decoding
ONE_CLICK_FIELD: Final = "List-Unsubscribe"
ONE_CLICK_VALUE: Final = "One-Click"
UNSUBSCRIBE_PATH: Final = "/v1/unsubscribe"
PREFERENCES_PATH: Final = "/v1/preferences"
_NONCE_BYTES: Final = 12
_KEY_INFO: Final = b"journeys unsubscribe token v1"
_TOKEN_CHARS: Final = re.compile(r"[A-Za-z0-9_-]+")
_VERSION: Final = bytes([TOKEN_VERSION])
# version + nonce + group + tenant length + GCM tag: anything shorter was never a token.
_SHORTEST: Final = 1 + _NONCE_BYTES + 16 + 2 + 16


@dataclass(frozen=True)
class UnsubscribeClaim:
    """Whose subscription a token names."""

    tenant_id: str
    customer_id: str
    group_id: uuid.UUID


@dataclass(frozen=True)
class UnsubscribeLink:
    """A recipient's links, and the headers an email carries for them (RFC 2369, RFC 8058)."""

    url: str
    preferences_url: str
    headers: dict[str, str]


class UnsubscribeLinks:
    """Makes and reads unsubscribe tokens for one deployment (one secret, one public URL)."""

    def __init__(self, secret: bytes, public_url: str, mailto: str | None = None) -> None:
        if not secret:
            raise ValueError("the unsubscribe secret is empty")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(secret)
        self._aead = AESGCM(key)
        self._public_url = public_url.rstrip("/")
        self._mailto = _mailto_address(mailto)

    def token(self, tenant_id: str, customer_id: str, group_id: str | uuid.UUID) -> str:
        group = group_id if isinstance(group_id, uuid.UUID) else uuid.UUID(group_id)
        tenant = tenant_id.encode()
        if not tenant or len(tenant) > 0xFFFF or not customer_id:
            raise ValueError("an unsubscribe token needs a tenant id and a customer id")
        plain = group.bytes + struct.pack(">H", len(tenant)) + tenant + customer_id.encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = _VERSION + nonce + self._aead.encrypt(nonce, plain, _VERSION)
        token = base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")
        if len(token) > MAX_TOKEN_CHARS:
            raise ValueError("the customer id is too long for an unsubscribe link")
        return token

    def for_recipient(self, tenant_id: str, customer_id: str, group_id: str | uuid.UUID) -> UnsubscribeLink:
        """The links for one email to one customer about one subscription group (a fresh token each
        call: tokens differ, all of them work)."""
        token = self.token(tenant_id, customer_id, group_id)
        url = f"{self._public_url}{UNSUBSCRIBE_PATH}/{token}"
        targets = [f"<{url}>"]
        if self._mailto is not None:
            # The token as the subject, so whoever reads that mailbox can act on it (a configured
            # address with its own `?subject=` is used as it is).
            query = "" if "?" in self._mailto else f"?subject={quote('unsubscribe ' + token)}"
            targets.append(f"<mailto:{self._mailto}{query}>")
        return UnsubscribeLink(
            url=url,
            preferences_url=f"{self._public_url}{PREFERENCES_PATH}/{token}",
            headers={
                "List-Unsubscribe": ", ".join(targets),
                "List-Unsubscribe-Post": f"{ONE_CLICK_FIELD}={ONE_CLICK_VALUE}",
            },
        )

    def read(self, token: str) -> UnsubscribeClaim:
        """Whose subscription the token names; InvalidUnsubscribeTokenError if it does not open."""
        if len(token) > MAX_TOKEN_CHARS or not _TOKEN_CHARS.fullmatch(token):
            raise InvalidUnsubscribeTokenError()
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise InvalidUnsubscribeTokenError() from None
        if len(sealed) < _SHORTEST or sealed[:1] != _VERSION:
            raise InvalidUnsubscribeTokenError()
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, body, _VERSION)
        except InvalidTag:
            raise InvalidUnsubscribeTokenError() from None
        try:
            (tenant_length,) = struct.unpack(">H", plain[16:18])
            tenant = plain[18 : 18 + tenant_length].decode()
            customer = plain[18 + tenant_length :].decode()
        except (struct.error, UnicodeDecodeError):  # authentic but not ours to read: never made here
            raise InvalidUnsubscribeTokenError() from None
        if len(tenant.encode()) != tenant_length or not tenant or not customer:
            raise InvalidUnsubscribeTokenError()
        return UnsubscribeClaim(tenant_id=tenant, customer_id=customer, group_id=uuid.UUID(bytes=plain[:16]))


def _mailto_address(mailto: str | None) -> str | None:
    if mailto is None or not mailto.strip():
        return None
    address = mailto.strip().removeprefix("mailto:")
    if any(ch in address for ch in "<>, \r\n"):
        raise ValueError(f"JOURNEYS_UNSUBSCRIBE_MAILTO is not an address: {mailto!r}")
    return address
