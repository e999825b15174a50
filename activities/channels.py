"""Delivery channels. Each turns one composed message into one provider call, keyed for dedup."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate, parseaddr
from typing import Any, Protocol

import aiosmtplib


@dataclass(frozen=True)
class OutboundMessage:
    idempotency_key: str
    recipient: str
    subject: str | None
    body: str
    # Extra headers for an email (List-Unsubscribe and List-Unsubscribe-Post on a non-transactional one).
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryReceipt:
    provider_message_id: str


# A receiver can ask for any delay in Retry-After; past an hour we would rather ask again than park
# the send for days on a buggy or hostile header.
MAX_RETRY_AFTER = timedelta(hours=1)
MIN_RETRY_AFTER = timedelta(seconds=1)


class PermanentDeliveryError(Exception):
    """The provider refused for good (bad address, rejected content): retrying cannot help."""


class TransientDeliveryError(Exception):
    """The receiver is down, slow or overloaded: the activity retries with backoff."""

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class RetryLaterError(TransientDeliveryError):
    """429: the receiver asked us to slow down, possibly saying for how long (`retry_after`, seconds)."""


def temporal_retry_delay(error: TransientDeliveryError) -> timedelta | None:
    """`next_retry_delay` for an ApplicationError: the receiver's wish, clamped; None keeps the backoff."""
    if error.retry_after is None:
        return None
    return min(max(timedelta(seconds=error.retry_after), MIN_RETRY_AFTER), MAX_RETRY_AFTER)


class Channel(Protocol):
    async def send(self, message: OutboundMessage) -> DeliveryReceipt: ...


def message_id_for(idempotency_key: str, domain: str = "journeys") -> str:
    """A stable RFC 5322 Message-ID: a retried send carries the same one, so receivers dedupe."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_seconds: float = 10.0


# Headers whose value is a list of <URI>s a mail provider reads as is (RFC 2369, RFC 8058). The stock
# SMTP policy folds at 78 columns, and a URI with no whitespace to fold at becomes an RFC 2047
# encoded-word, which providers do not decode: the one-click link would be lost. Written on one line
# instead (a line may hold 998 characters, RFC 5322 §2.1.1).
_URI_LIST_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post"})
_MAX_LINE = 998


class _SmtpPolicy(EmailPolicy):
    def fold_binary(self, name: str, value: Any) -> bytes:
        text = str(value)
        if name.lower() in _URI_LIST_HEADERS and text.isascii() and len(name) + 2 + len(text) <= _MAX_LINE:
            return f"{name}: {text}{self.linesep}".encode("ascii")
        folded: bytes = super().fold_binary(name, value)
        return folded


SMTP_POLICY = _SmtpPolicy(linesep="\r\n")  # email.policy.SMTP, but for the URI-list headers


class EmailChannel:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        email = EmailMessage()
        email["From"] = self._config.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject or ""
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = message_id_for(message.idempotency_key)
        email["X-Journeys-Idempotency-Key"] = message.idempotency_key
        for name, value in message.headers.items():
            email[name] = value
        email.set_content(message.body)
        try:
            await aiosmtplib.send(
                email.as_bytes(policy=SMTP_POLICY),
                sender=parseaddr(self._config.sender)[1] or self._config.sender,  # the envelope's address
                recipients=[message.recipient],
                hostname=self._config.host,
                port=self._config.port,
                username=self._config.username,
                password=self._config.password,
                start_tls=self._config.starttls,
                timeout=self._config.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise PermanentDeliveryError(f"recipient refused: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentDeliveryError(f"SMTP {exc.code}: {exc.message}") from exc
            raise  # 4xx: transient, the activity retries
        return DeliveryReceipt(provider_message_id=email["Message-ID"])
