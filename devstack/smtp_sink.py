"""An SMTP server that accepts every message and keeps it, for dev and tests.

Messages are kept in memory and, optionally, in a Maildir so that other processes (a test
driving the API, a developer's mail reader) can see what the stack sent.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import mailbox
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from devstack.ports import find_free_port

# The SMTP envelope is not part of the message; the Maildir copy carries it in these headers.
_ENVELOPE_FROM_HEADER = "X-Sink-Mail-From"
_ENVELOPE_TO_HEADER = "X-Sink-Rcpt-To"


@dataclass(frozen=True)
class ReceivedMessage:
    message_id: str
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    text_body: str
    headers: dict[str, str]
    received_at: datetime
    html_body: str = ""
    raw: bytes = field(default=b"", repr=False)


class SmtpSink:
    """In-process SMTP server (aiosmtpd, on its own thread) that accepts and records all mail."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, maildir: Path | None = None) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self.maildir_path = maildir
        self._maildir: mailbox.Maildir | None = None
        self._messages: list[ReceivedMessage] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SMTP sink not started")
        return self._port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        if self._controller is not None:
            raise RuntimeError("SMTP sink already started")
        if self.maildir_path is not None:
            self._maildir = mailbox.Maildir(self.maildir_path, create=True)
        # aiosmtpd connects to the port it was given to know it is up, so 0 cannot be passed.
        port = self._requested_port or find_free_port(self.host)
        controller = Controller(
            _SinkHandler(self._record),
            hostname=self.host,
            port=port,
            enable_SMTPUTF8=True,
            # The app may be configured with SMTP credentials; any are good enough here.
            authenticator=_accept_any_credentials,
            auth_require_tls=False,
        )
        controller.start()
        self._controller = controller
        self._port = port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        self._port = None

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            if self._maildir is not None:
                self._maildir.clear()

    async def wait_for(
        self, predicate: Callable[[ReceivedMessage], bool], timeout: float = 10
    ) -> ReceivedMessage:
        """The first received message matching `predicate`, polling until `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            received = self.messages()
            for message in received:
                if predicate(message):
                    return message
            if time.monotonic() >= deadline:
                subjects = ", ".join(repr(message.subject) for message in received) or "none"
                raise TimeoutError(
                    f"no matching message within {timeout} s; received {len(received)}: {subjects}"
                )
            await asyncio.sleep(0.05)

    def _record(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> None:
        received_at = datetime.now(UTC)
        message = parse_message(raw, mail_from, rcpt_tos, received_at)
        with self._lock:
            self._messages.append(message)
            if self._maildir is not None:
                self._maildir.add(_maildir_entry(raw, mail_from, rcpt_tos, received_at))


def read_maildir(path: Path) -> list[ReceivedMessage]:
    """Messages an `SmtpSink` (possibly in another process) stored in `path`, oldest first."""
    if not path.is_dir():
        return []
    messages: list[ReceivedMessage] = []
    for entry in mailbox.Maildir(path, create=False).itervalues():
        mail_from = entry.get(_ENVELOPE_FROM_HEADER, "")
        rcpt_tos = [to for to in entry.get(_ENVELOPE_TO_HEADER, "").split(",") if to]
        received_at = datetime.fromtimestamp(entry.get_date(), UTC)
        messages.append(parse_message(entry.as_bytes(), mail_from, rcpt_tos, received_at))
    return sorted(messages, key=lambda message: message.received_at)


def parse_message(raw: bytes, mail_from: str, rcpt_tos: list[str], received_at: datetime) -> ReceivedMessage:
    # SMTP delivers CRLF line ends; bodies read the same from memory and from the Maildir.
    parsed = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    headers = {
        name: str(value)
        for name, value in parsed.items()
        if name not in (_ENVELOPE_FROM_HEADER, _ENVELOPE_TO_HEADER)
    }
    message_id = str(parsed.get("Message-ID", "")).strip() or f"<{uuid.uuid4()}@smtp-sink>"
    return ReceivedMessage(
        message_id=message_id,
        mail_from=mail_from,
        rcpt_tos=list(rcpt_tos),
        subject=str(parsed.get("Subject", "")),
        text_body=_body_text(parsed, "plain"),
        headers=headers,
        received_at=received_at,
        html_body=_body_text(parsed, "html"),
        raw=raw,
    )


def _body_text(message: email.message.EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if not isinstance(part, email.message.EmailMessage):
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""


def _maildir_entry(
    raw: bytes, mail_from: str, rcpt_tos: list[str], received_at: datetime
) -> mailbox.MaildirMessage:
    envelope = f"{_ENVELOPE_FROM_HEADER}: {mail_from}\r\n{_ENVELOPE_TO_HEADER}: {','.join(rcpt_tos)}\r\n"
    entry = mailbox.MaildirMessage(envelope.encode() + raw)
    entry.set_date(received_at.timestamp())
    return entry


class _SinkHandler:
    def __init__(self, record: Callable[[bytes, str, list[str]], None]) -> None:
        self._record = record

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd hook name)
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        self._record(raw, envelope.mail_from or "", list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def _accept_any_credentials(*_: Any) -> AuthResult:
    return AuthResult(success=True)
