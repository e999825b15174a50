"""The webhook channel against a real HTTP receiver on 127.0.0.1, and the SSRF guard it relies on."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import formatdate

import pytest

from activities.channels import OutboundMessage, PermanentDeliveryError
from activities.webhooks import (
    USER_AGENT,
    RetryLaterError,
    TargetGoneError,
    TransientDeliveryError,
    WebhookChannel,
    WebhookTarget,
    parse_retry_after,
    sign,
    temporal_retry_delay,
    verify,
    webhook_id_for,
)
from delivery import netguard
from delivery.netguard import BlockedDestinationError, blocked_reason, check_url, resolve_and_check

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
LOOPBACK = ("127.0.0.1",)
NOW = 1_700_000_000.0


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A minimal HTTP/1.1 server: records every request, answers per path, one request per connection."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.requests: list[ReceivedRequest] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        # Handlers still sleeping for a "slow receiver" test must not outlive it.
        for handler in self._handlers:
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def received(self, path: str) -> list[ReceivedRequest]:
        return [request for request in self.requests if request.path == path]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            method, target, _version = (await reader.readline()).decode("latin-1").split(" ", 2)
            path = target.partition("?")[0]
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(ReceivedRequest(method, path, headers, body))
            reply = self.replies.get(path, Reply())
            if reply.delay_seconds:
                await asyncio.sleep(reply.delay_seconds)
            head = [f"HTTP/1.1 {reply.status} X", f"content-length: {len(reply.body)}", "connection: close"]
            head += [f"{name}: {value}" for name, value in reply.headers.items()]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._handlers.discard(handler)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def make_channel() -> AsyncIterator[Callable[..., WebhookChannel]]:
    channels: list[WebhookChannel] = []

    def make(
        target: WebhookTarget | Callable[[OutboundMessage], Awaitable[WebhookTarget]],
        *,
        allow: Sequence[str] = LOOPBACK,
        clock: Callable[[], float] = time.time,
    ) -> WebhookChannel:
        channel = WebhookChannel(target, allow=allow, clock=clock)
        channels.append(channel)
        return channel

    yield make
    for channel in channels:
        await channel.aclose()


def message(
    body: str = '{"event": "welcome", "customer": "c-1"}', key: str = "enr-1:welcome:1"
) -> OutboundMessage:
    return OutboundMessage(idempotency_key=key, recipient="hook", subject=None, body=body)


# --- signatures ---------------------------------------------------------------------------------


def test_sign_matches_the_standard_webhooks_test_vector() -> None:
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_raw_secret_signs_with_its_utf8_bytes() -> None:
    expected = hmac.new("plain-sécret".encode(), b"id.5.body", hashlib.sha256).digest()
    assert sign("plain-sécret", "id", 5, b"body") == "v1," + base64.b64encode(expected).decode()


def test_a_malformed_whsec_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="base64"):
        sign("whsec_not base64!", "id", 5, b"body")


def test_verify_checks_freshness_and_accepts_any_listed_signature() -> None:
    body = b'{"a": 1}'
    headers = {"Webhook-Id": "m1", "Webhook-Timestamp": str(int(NOW)), "Webhook-Signature": ""}
    valid = sign(SECRET, "m1", int(NOW), body)
    rotated = {**headers, "Webhook-Signature": f"v1,c3RhbGU= {valid}"}
    assert verify(SECRET, rotated, body, now=NOW + 10)
    assert not verify(SECRET, rotated, body, now=NOW + 301)
    assert not verify(SECRET, rotated, body, now=NOW - 301)
    assert not verify(SECRET, {**headers, "Webhook-Signature": "v1,c3RhbGU="}, body, now=NOW)
    assert not verify(SECRET, {**headers, "Webhook-Signature": valid.replace("v1,", "v2,")}, body, now=NOW)


async def test_the_receiver_verifies_the_signature_and_a_tampered_body_fails(
    receiver: Receiver, make_channel: Callable[..., WebhookChannel]
) -> None:
    channel = make_channel(
        WebhookTarget(url=receiver.url("/hook"), secret=SECRET, headers={"Authorization": "Bearer t"})
    )
    outbound = message()

    receipt = await channel.send(outbound)

    [request] = receiver.received("/hook")
    assert request.method == "POST"
    assert request.body == outbound.body.encode()
    assert request.headers["webhook-id"] == outbound.idempotency_key == receipt.provider_message_id
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["authorization"] == "Bearer t"
    assert verify(SECRET, request.headers, request.body)
    assert not verify(SECRET, request.headers, request.body.replace(b"c-1", b"c-2"))
    other_secret = "whsec_" + base64.b64encode(b"another key of thirty-two bytes!").decode()
    assert not verify(other_secret, request.headers, request.body)


async def test_a_resend_carries_the_same_webhook_id(
    receiver: Receiver, make_channel: Callable[..., WebhookChannel]
) -> None:
    ticks = iter([NOW, NOW + 60])
    channel = make_channel(WebhookTarget(url=receiver.url("/hook"), secret=SECRET), clock=lambda: next(ticks))

    await channel.send(message())
    await channel.send(message())

    first, second = receiver.received("/hook")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "enr-1:welcome:1"
    assert (first.headers["webhook-timestamp"], second.headers["webhook-timestamp"]) == (
        str(int(NOW)),
        str(int(NOW + 60)),
    )
    assert verify(SECRET, second.headers, second.body, now=NOW + 60)


async def test_plain_text_is_labelled_and_unsigned_without_a_secret(
    receiver: Receiver, make_channel: Callable[..., WebhookChannel]
) -> None:
    channel = make_channel(WebhookTarget(url=receiver.url("/hook"), secret=None))

    await channel.send(message(body="Hello, Ada"))

    [request] = receiver.received("/hook")
    assert request.body == b"Hello, Ada"
    assert request.headers["content-type"] == "text/plain; charset=utf-8"
    assert "webhook-signature" not in request.headers


async def test_target_headers_cannot_replace_the_channels_own(
    receiver: Receiver, make_channel: Callable[..., WebhookChannel]
) -> None:
    forged = {"webhook-id": "forged", "Webhook-Signature": "v1,forged", "User-Agent": "x", "X-Tenant": "t1"}
    channel = make_channel(WebhookTarget(url=receiver.url("/hook"), secret=SECRET, headers=forged))

    await channel.send(message())

    [request] = receiver.received("/hook")
    assert request.headers["webhook-id"] == "enr-1:welcome:1"
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["x-tenant"] == "t1"
    assert verify(SECRET, request.headers, request.body)


def test_an_idempotency_key_unfit_for_a_header_gets_a_stable_id() -> None:
    assert webhook_id_for("enr:node:1") == "enr:node:1"
    assert webhook_id_for("line\r\nbreak") == webhook_id_for("line\r\nbreak")
    assert webhook_id_for("line\r\nbreak").startswith("msg_")


# --- responses ----------------------------------------------------------------------------------


async def test_429_with_retry_after_seconds_asks_to_retry_later(
    receiver: Receiver, make_channel: Callable[..., WebhookChannel]
) -> None:
    receiver.replies["/hook"] = Reply(status=429, headers={"Retry-After": "7"})
    channel = make_channel(WebhookTarget(url=receiver.url("/hook"), secret=SECRET))

    with pytest.raises(RetryLaterError) as caught:
        await channel.send(message())

    assert caught.value.retry_after == 7
    assert temporal_retry_delay(caught.value) == timedelta(seconds=7)


async def test_429_with_retry_after_date_counts_from_the_clock(
    receiver: Receiver, make_channel: Callable[..., WebhookChannel]
) -> None:
    receiver.replies["/hook"] = Reply(status=429, headers={"Retry-After": formatdate(NOW + 120, usegmt=True)})
    channel = make_channel(WebhookTarget(url=receiver.url("/hook"), secret=SECRET), clock=lambda: NOW)

    with pytest.raises(RetryLaterError) as caught:
        await channel.send(message())

    assert caught.value.retry_after == 120


def test_retry_after_parsing_and_clamping() -> None:
    assert parse_retry_after(None, now=NOW) is None
    assert parse_retry_after("soon", now=NOW) is None
    assert parse_retry_after("-5", now=NOW) is None
    assert parse_retry_after(formatdate(NOW - 30, usegmt=True), now=NOW) == 0
    assert temporal_retry_delay(RetryLaterError("x")) is None
    assert temporal_retry_delay(RetryLaterError("x", retry_after=0)) == timedelta(seconds=1)
    assert temporal_retry_delay(RetryLaterError("x", retry_after=10**9)) == timedelta(hours=1)


async def test_410_means_the_target_is_gone(
    receiver: Receiver, make_channel: Callable[..., WebhookChannel]
) -> None:
    receiver.replies["/hook"] = Reply(status=410)
    channel = make_channel(WebhookTarget(url=receiver.url("/hook"), secret=SECRET))

    with pytest.raises(TargetGoneError):
        await channel.send(message())


async def test_400_is_permanent_and_explains_itself(
    receiver: Receiver, make_channel: Callable[..., WebhookChannel]
) -> None:
    receiver.replies["/hook"] = Reply(status=400, body=b"unknown event type" + b"!" * 5000)
    channel = make_channel(WebhookTarget(url=receiver.url("/hook?token=s3cr3t"), secret=SECRET))

    with pytest.raises(PermanentDeliveryError) as caught:
        await channel.send(message())

    assert type(caught.value) is PermanentDeliveryError
    assert "400: unknown event type" in str(caught.value)
    assert len(str(caught.value)) < 400
    assert "s3cr3t" not in str(caught.value)


async def test_503_is_transient(receiver: Receiver, make_channel: Callable[..., WebhookChannel]) -> None:
    receiver.replies["/hook"] = Reply(status=503)
    channel = make_channel(WebhookTarget(url=receiver.url("/hook"), secret=SECRET))

    with pytest.raises(TransientDeliveryError) as caught:
        await channel.send(message())

    assert type(caught.value) is TransientDeliveryError
    assert caught.value.retry_after is None


async def test_redirects_are_not_followed(
    receiver: Receiver, make_channel: Callable[..., WebhookChannel]
) -> None:
    receiver.replies["/hook"] = Reply(status=302, headers={"Location": receiver.url("/elsewhere")})
    channel = make_channel(WebhookTarget(url=receiver.url("/hook"), secret=SECRET))

    with pytest.raises(PermanentDeliveryError, match="302"):
        await channel.send(message())

    assert receiver.received("/elsewhere") == []


async def test_a_slow_target_times_out_without_holding_up_other_sends(
    receiver: Receiver, make_channel: Callable[..., WebhookChannel]
) -> None:
    receiver.replies["/slow"] = Reply(delay_seconds=30)
    targets = {
        "slow": WebhookTarget(url=receiver.url("/slow"), secret=SECRET, timeout_seconds=0.5),
        "fast": WebhookTarget(url=receiver.url("/fast"), secret=SECRET, timeout_seconds=0.5),
    }

    async def target_for(outbound: OutboundMessage) -> WebhookTarget:
        return targets[outbound.recipient]

    channel = make_channel(target_for)
    finished: dict[str, float] = {}

    async def timed_send(recipient: str) -> None:
        try:
            await channel.send(OutboundMessage(f"k-{recipient}", recipient, None, "{}"))
        finally:
            finished[recipient] = time.monotonic()

    started = time.monotonic()
    slow, fast = await asyncio.gather(timed_send("slow"), timed_send("fast"), return_exceptions=True)

    assert isinstance(slow, TransientDeliveryError)
    assert fast is None
    assert finished["slow"] - started < 0.5 + 1
    assert finished["fast"] < finished["slow"]
    assert len(receiver.received("/fast")) == 1


async def test_a_refused_connection_is_transient(make_channel: Callable[..., WebhookChannel]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    channel = make_channel(WebhookTarget(url=f"http://127.0.0.1:{closed_port}/hook", secret=SECRET))

    with pytest.raises(TransientDeliveryError, match="cannot connect"):
        await channel.send(message())


async def test_a_blocked_target_is_refused_before_any_request(
    receiver: Receiver, make_channel: Callable[..., WebhookChannel]
) -> None:
    channel = make_channel(WebhookTarget(url=receiver.url("/hook"), secret=SECRET), allow=())

    with pytest.raises(PermanentDeliveryError, match="refused"):
        await channel.send(message())

    assert receiver.requests == []


async def test_a_named_target_is_reached_at_the_checked_address_under_its_own_name(
    receiver: Receiver, make_channel: Callable[..., WebhookChannel]
) -> None:
    channel = make_channel(
        WebhookTarget(url=f"http://localhost:{receiver.port}/hook", secret=SECRET), allow=["localhost"]
    )

    await channel.send(message())

    [request] = receiver.received("/hook")
    assert request.headers["host"] == f"localhost:{receiver.port}"


async def test_the_connection_goes_to_the_checked_address_not_a_fresh_lookup(
    receiver: Receiver, make_channel: Callable[..., WebhookChannel], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The system resolver knows no "hooks.test": only the guard's answer can have been used, and
    # 127.0.0.2 (nothing listens there) shows a refused address falls through to the next one.
    fake_dns(monkeypatch, {"hooks.test": ["127.0.0.2", "127.0.0.1"]})
    channel = make_channel(
        WebhookTarget(url=f"http://hooks.test:{receiver.port}/hook", secret=SECRET), allow=["127.0.0.0/8"]
    )

    await channel.send(message())

    [request] = receiver.received("/hook")
    assert request.headers["host"] == f"hooks.test:{receiver.port}"
    assert verify(SECRET, request.headers, request.body)


# --- the SSRF guard -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost/hook",
        "http://LOCALHOST./hook",
        "http://api.localhost/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://255.255.255.255/hook",
        "http://[::1]/hook",
        "http://[::]/hook",
        "http://[fe80::1]/hook",
        "http://[fd12:3456::1]/hook",
        "http://[ff02::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:a9fe:a9fe]/hook",
        "http://[64:ff9b::a00:1]/hook",
        "http://[2002:7f00:1::]/hook",
        "http://2130706433/hook",
        "http://127.1/hook",
        "http://0x7f.0.0.1/hook",
        "file:///etc/passwd",
        "ftp://93.184.216.34/hook",
        "gopher://93.184.216.34/",
        "http://user:pass@93.184.216.34/hook",
        "http://93.184.216.34@127.0.0.1/hook",
        "http:///hook",
        "http://93.184.216.34:99999/hook",
    ],
)
def test_check_url_refuses(url: str) -> None:
    with pytest.raises(BlockedDestinationError):
        check_url(url)


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://93.184.216.34/hook", ()),
        ("https://[2606:2800:220:1:248:1893:25c8:1946]/hook", ()),
        ("http://[::ffff:93.184.216.34]/hook", ()),
        ("https://hooks.example.com/hook", ()),
        ("http://127.0.0.1:8080/hook", ["127.0.0.1"]),
        ("http://[::ffff:127.0.0.1]/hook", ["127.0.0.1"]),
        ("http://10.1.2.3/hook", ["10.0.0.0/8"]),
        ("http://localhost:8080/hook", ["localhost"]),
    ],
)
def test_check_url_accepts(url: str, allow: list[str]) -> None:
    check_url(url, allow=allow)


def test_every_blocked_network_is_refused_and_public_addresses_are_not() -> None:
    for network, _reason in netguard.BLOCKED_NETWORKS:
        assert blocked_reason(network.network_address) is not None, network
    assert blocked_reason(ipaddress.ip_address("169.254.169.254")) == "cloud metadata"
    assert blocked_reason(ipaddress.ip_address("93.184.216.34")) is None
    assert blocked_reason(ipaddress.ip_address("2606:4700::1111")) is None


def test_a_malformed_allow_list_entry_is_an_error() -> None:
    with pytest.raises(ValueError, match="CIDR"):
        check_url("http://93.184.216.34/", allow=["10.0.0.0/99"])


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    monkeypatch.setattr(netguard, "_resolve", resolve)


async def test_a_name_is_refused_when_any_of_its_addresses_is_blocked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(
        monkeypatch,
        {
            "public.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
            "rebound.example": ["93.184.216.34", "10.0.0.7"],
            "metadata.example": ["169.254.169.254"],
        },
    )

    assert await resolve_and_check("https://public.example/hook") == [
        "93.184.216.34",
        "2606:2800:220:1:248:1893:25c8:1946",
    ]
    with pytest.raises(BlockedDestinationError, match=r"10\.0\.0\.7"):
        await resolve_and_check("https://rebound.example/hook")
    assert await resolve_and_check("https://rebound.example/hook", allow=["rebound.example"])
    # Allow-listing a name does not unlock the metadata service behind it; an explicit address does.
    with pytest.raises(BlockedDestinationError, match="cloud metadata"):
        await resolve_and_check("http://metadata.example/", allow=["metadata.example"])
    assert await resolve_and_check("http://metadata.example/", allow=["169.254.169.254"])


async def test_localhost_is_refused_and_resolves_to_loopback_only_when_allowed() -> None:
    with pytest.raises(BlockedDestinationError):
        await resolve_and_check("http://localhost:8080/hook")
    addresses = await resolve_and_check("http://localhost:8080/hook", allow=["localhost"])
    assert addresses
    assert all(ipaddress.ip_address(address).is_loopback for address in addresses)
