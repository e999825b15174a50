"""Payload encryption: what leaves the process for Temporal is AES-256-GCM ciphertext.

Every payload the SDK would send (workflow input, signals, activity arguments and results, memos,
query answers, failure details) is serialised as a whole `Payload` message and sealed with a fresh
96-bit nonce; the outer payload says only `encoding: binary/encrypted` and which key sealed it.
Decoding looks the key id up in a key ring (the current key plus retired ones kept for rotation);
payloads that are not marked encrypted pass through untouched, so histories written before
encryption was switched on still replay and still decode.

Search attributes are never encoded by a codec: they must not carry PII in the first place (SPEC §7).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

if TYPE_CHECKING:
    from plumbing.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32


class PayloadDecryptionError(ValueError):
    """A payload marked encrypted could not be opened: unknown key id, or tampered/truncated data."""


def decode_key(value: str) -> bytes:
    """A base64 (standard or URL-safe) AES-256 key; anything but 32 bytes is refused."""
    text = value.strip()
    try:
        key = base64.b64decode(
            text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None
        )
    except (binascii.Error, ValueError) as exc:
        raise ValueError("payload encryption key is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise ValueError(f"payload encryption key must be {KEY_BYTES} bytes (base64), got {len(key)}")
    return key


def generate_key() -> str:
    """A fresh key in the form the settings expect (standard base64 of 32 random bytes)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM with a key ring: encrypts with `key_id`, decrypts with any key in the ring."""

    def __init__(self, key_id: str, key: bytes, previous_keys: Mapping[str, bytes] | None = None) -> None:
        if not key_id:
            raise ValueError("payload encryption key id must not be empty")
        ring = {kid: AESGCM(_checked(k)) for kid, k in (previous_keys or {}).items()}
        ring[key_id] = AESGCM(_checked(key))
        self._key_id = key_id
        self._key_id_bytes = key_id.encode()
        self._ring = ring

    @property
    def key_id(self) -> str:
        return self._key_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        # The key id is bound as associated data: relabelling a payload with another key fails too.
        sealed = self._ring[self._key_id].encrypt(nonce, payload.SerializeToString(), self._key_id_bytes)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: self._key_id_bytes},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id_bytes = payload.metadata.get(KEY_ID_METADATA, b"")
        aead = self._ring.get(key_id_bytes.decode(errors="replace"))
        if aead is None:
            raise PayloadDecryptionError(f"no payload decryption key with id {key_id_bytes!r}")
        data = payload.data
        if len(data) <= NONCE_BYTES:
            raise PayloadDecryptionError("encrypted payload is truncated")
        try:
            plain = aead.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id_bytes)
        except InvalidTag as exc:
            raise PayloadDecryptionError("encrypted payload failed authentication (tampered?)") from exc
        inner = Payload()
        inner.ParseFromString(plain)
        return inner


def _checked(key: bytes) -> bytes:
    if len(key) != KEY_BYTES:
        raise ValueError(f"payload encryption key must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def codec_from_settings(settings: Settings) -> EncryptionCodec | None:
    """The configured codec, or None when encryption is off (no current key)."""
    if settings.payload_encryption_key is None:
        return None
    previous = {
        kid: decode_key(secret.get_secret_value()) for kid, secret in settings.payload_decryption_keys.items()
    }
    return EncryptionCodec(
        settings.payload_encryption_key_id,
        decode_key(settings.payload_encryption_key.get_secret_value()),
        previous,
    )


def encrypting_converter(codec: PayloadCodec) -> DataConverter:
    """The project's pydantic converter with `codec`; failure messages and stack traces are moved
    into the (encoded) failure attributes too, since an error text can quote an address."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def data_converter(settings: Settings) -> DataConverter:
    """What every client and worker of this deployment must use: encrypting when a key is set."""
    codec = codec_from_settings(settings)
    return pydantic_data_converter if codec is None else encrypting_converter(codec)
