"""Unsubscribe tokens (delivery/unsubscribe.py): opaque, authenticated, and the headers RFC 8058 asks for."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from delivery.unsubscribe import (
    MAX_TOKEN_CHARS,
    InvalidUnsubscribeTokenError,
    UnsubscribeClaim,
    UnsubscribeLinks,
)
from domain.errors import NotFoundError
from plumbing.settings import Settings
from services.unsubscribe import links_from_settings

SECRET = b"unit-test-unsubscribe-secret-0123456789abcdef"
GROUP = uuid.UUID("6f1c2a52-8d1e-4c1b-9a57-3f1e2d4c5b6a")
CUSTOMER = "canary-customer-7731@example.com"
TENANT = "acme-tenant"


def links(secret: bytes = SECRET, mailto: str | None = None) -> UnsubscribeLinks:
    return UnsubscribeLinks(secret, "https://mail.example.com/", mailto)


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_a_token_reads_back_as_the_recipient_it_was_made_for() -> None:
    made = links()
    link = made.for_recipient(TENANT, CUSTOMER, str(GROUP))
    assert made.read(token_of(link.url)) == UnsubscribeClaim(TENANT, CUSTOMER, GROUP)
    assert made.read(made.token("t", "ü-名前", GROUP)) == UnsubscribeClaim("t", "ü-名前", GROUP)


def test_the_link_and_its_headers() -> None:
    link = links().for_recipient(TENANT, CUSTOMER, GROUP)
    token = token_of(link.url)
    assert link.url == f"https://mail.example.com/v1/unsubscribe/{token}"
    assert link.preferences_url == f"https://mail.example.com/v1/preferences/{token}"
    assert link.headers == {
        "List-Unsubscribe": f"<{link.url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    with_mailto = links(mailto="mailto:unsubscribe@example.com").for_recipient(TENANT, CUSTOMER, GROUP)
    first, second = with_mailto.headers["List-Unsubscribe"].split(", ")
    assert first == f"<{with_mailto.url}>"
    assert second.startswith("<mailto:unsubscribe@example.com?subject=unsubscribe%20")
    assert second.endswith(">") and token_of(with_mailto.url) in second


def test_nothing_in_the_token_is_readable() -> None:
    made = links()
    for _ in range(20):
        token = made.token(TENANT, CUSTOMER, GROUP)
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        for needle in (CUSTOMER, "canary", TENANT, "acme", str(GROUP), GROUP.hex):
            assert needle not in token and needle.lower() not in token.lower()
            assert needle.encode() not in raw
        assert GROUP.bytes not in raw
    assert made.token(TENANT, CUSTOMER, GROUP) != made.token(TENANT, CUSTOMER, GROUP), "a fresh nonce"


def test_a_flipped_byte_anywhere_is_refused() -> None:
    made = links()
    token = made.token(TENANT, CUSTOMER, GROUP)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for index in range(len(raw)):
        tampered = bytearray(raw)
        tampered[index] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(tampered)).rstrip(b"=").decode()
        with pytest.raises(InvalidUnsubscribeTokenError):
            made.read(forged)


def test_another_secret_cannot_read_or_forge() -> None:
    token = links().token(TENANT, CUSTOMER, GROUP)
    with pytest.raises(InvalidUnsubscribeTokenError):
        links(b"another-deployment-secret-0123456789abcdef").read(token)


@pytest.mark.parametrize(
    "garbled",
    ["", "x", "not a token", "%2e%2e", "AAAA", "A" * 40, "A" * (MAX_TOKEN_CHARS + 1), "é" * 60, "abc="],
)
def test_garbled_tokens_are_refused(garbled: str) -> None:
    with pytest.raises(InvalidUnsubscribeTokenError) as caught:
        links().read(garbled)
    assert isinstance(caught.value, NotFoundError), "a 404, by the one error hierarchy"
    assert caught.value.detail == "unknown unsubscribe link"


def test_a_cut_token_is_refused() -> None:
    made = links()
    token = made.token(TENANT, CUSTOMER, GROUP)
    for cut in (token[:-1], token[:-4], token[1:], token + "A"):
        with pytest.raises(InvalidUnsubscribeTokenError):
            made.read(cut)


def test_from_settings_public_url_and_secret() -> None:
    dev = Settings(dev_mode=True, jwt_secret=SecretStr("j" * 40), api_host="0.0.0.0", api_port=8123)
    assert dev.public_base_url() == "http://127.0.0.1:8123"
    link = links_from_settings(dev).for_recipient(TENANT, CUSTOMER, GROUP)
    assert link.url.startswith("http://127.0.0.1:8123/v1/unsubscribe/")
    public = Settings(
        unsubscribe_secret=SecretStr("s" * 32),
        public_url="https://journeys.example.com/",
        unsubscribe_mailto="unsubscribe@example.com",
    )
    assert public.public_base_url() == "https://journeys.example.com"
    made = links_from_settings(public)
    link = made.for_recipient(TENANT, CUSTOMER, GROUP)
    assert link.url.startswith("https://journeys.example.com/v1/unsubscribe/")
    assert "mailto:unsubscribe@example.com" in link.headers["List-Unsubscribe"]
    with pytest.raises(InvalidUnsubscribeTokenError):  # the dev key is not the configured one
        links_from_settings(dev).read(token_of(link.url))


def test_every_dev_process_agrees_on_the_dev_key(tmp_path: Path) -> None:
    """A dev worker (no JWT secret) makes links the dev API (with one) reads."""
    worker = Settings(dev_mode=True, data_dir=tmp_path)
    api = Settings(dev_mode=True, data_dir=tmp_path, jwt_secret=SecretStr("j" * 40))
    link = links_from_settings(worker).for_recipient(TENANT, CUSTOMER, GROUP)
    assert links_from_settings(api).read(token_of(link.url)).customer_id == CUSTOMER


def test_outside_dev_mode_a_secret_is_required_and_long() -> None:
    with pytest.raises(RuntimeError, match="JOURNEYS_UNSUBSCRIBE_SECRET"):
        links_from_settings(Settings(jwt_secret=SecretStr("j" * 40)))
    with pytest.raises(ValidationError, match="JOURNEYS_UNSUBSCRIBE_SECRET"):
        Settings(unsubscribe_secret=SecretStr("short"))
    assert Settings(dev_mode=True, unsubscribe_secret=SecretStr("short")).unsubscribe_key_material()
