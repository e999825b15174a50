"""Payload encryption: the codec, the converter built from settings, and the codec server."""

from __future__ import annotations

import base64
import os

import httpx
import pytest
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.payloads import EnrollmentInput
from journeys.codec_server import create_codec_app
from plumbing.codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadDecryptionError,
    data_converter,
    decode_key,
    generate_key,
)
from plumbing.settings import Settings

SECRET = b"canary-9f2c@example.com"


def plain(data: bytes = b'"' + SECRET + b'"') -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def codec(key_id: str = "k1", key: bytes | None = None, **previous: bytes) -> EncryptionCodec:
    return EncryptionCodec(key_id, key or os.urandom(32), previous)


async def test_round_trip_hides_the_payload_and_restores_it() -> None:
    c = codec()
    original = plain()
    [sealed] = await c.encode([original])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"k1"
    assert SECRET not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()
    [opened] = await c.decode([sealed])
    assert opened == original


async def test_every_encryption_uses_a_fresh_nonce() -> None:
    c = codec()
    first, second = await c.encode([plain(), plain()])
    assert first.data != second.data
    assert first.data[:12] != second.data[:12]


@pytest.mark.parametrize("where", ["nonce", "ciphertext", "tag"])
async def test_tampering_is_detected(where: str) -> None:
    c = codec()
    [sealed] = await c.encode([plain()])
    data = bytearray(sealed.data)
    index = {"nonce": 0, "ciphertext": 14, "tag": len(data) - 1}[where]
    data[index] ^= 0x01
    tampered = Payload(metadata=dict(sealed.metadata), data=bytes(data))
    with pytest.raises(PayloadDecryptionError):
        await c.decode([tampered])


async def test_relabelling_the_key_id_is_detected() -> None:
    key = os.urandom(32)
    c = EncryptionCodec("k2", key, {"k1": key})  # same key under two ids: only the AAD differs
    [sealed] = await c.encode([plain()])
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID_METADATA: b"k1"}, data=sealed.data)
    with pytest.raises(PayloadDecryptionError):
        await c.decode([relabelled])


async def test_truncated_and_unknown_key_payloads_are_refused() -> None:
    c = codec()
    with pytest.raises(PayloadDecryptionError):
        await c.decode([Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: b"k1"}, data=b"short")])
    [sealed] = await codec("elsewhere").encode([plain()])
    with pytest.raises(PayloadDecryptionError, match="no payload decryption key"):
        await c.decode([sealed])


async def test_rotation_decrypts_old_payloads_and_encrypts_with_the_new_key() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    [old_sealed] = await codec("k1", old_key).encode([plain()])
    rotated = codec("k2", new_key, k1=old_key)
    [opened] = await rotated.decode([old_sealed])
    assert opened == plain()
    [new_sealed] = await rotated.encode([plain()])
    assert new_sealed.metadata[KEY_ID_METADATA] == b"k2"
    with pytest.raises(PayloadDecryptionError):
        await codec("k1", old_key).decode([new_sealed])  # the old key ring cannot read new data


async def test_unencrypted_payloads_pass_through_on_decode() -> None:
    c = codec()
    untouched = [plain(), Payload(metadata={"encoding": b"binary/null"}), Payload()]
    assert await c.decode(untouched) == untouched


def test_keys_are_base64_of_32_bytes() -> None:
    assert len(decode_key(generate_key())) == 32
    raw = os.urandom(32)
    assert decode_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    with pytest.raises(ValueError):
        decode_key(base64.b64encode(os.urandom(16)).decode())
    with pytest.raises(ValueError):
        decode_key("not base64 at all!!")


async def test_data_converter_is_plain_without_a_key_and_encrypting_with_one() -> None:
    assert data_converter(Settings()) is pydantic_data_converter
    old = generate_key()
    keyed = Settings(
        payload_encryption_key=SecretStr(generate_key()),
        payload_encryption_key_id="k2",
        payload_decryption_keys={"k1": SecretStr(old)},
    )
    converter = data_converter(keyed)
    value = EnrollmentInput.model_json_schema()  # any JSON value will do
    [sealed] = await converter.encode([value])
    assert sealed.metadata[KEY_ID_METADATA] == b"k2"
    assert await converter.decode([sealed]) == [value]
    # Payloads written by an old key (k1) still decode after the rotation.
    [by_old] = await data_converter(Settings(payload_encryption_key=SecretStr(old))).encode(["hello"])
    assert await converter.decode([by_old], [str]) == ["hello"]
    # ...and plain payloads written before encryption was switched on decode too.
    [unsealed] = await pydantic_data_converter.encode(["before"])
    assert await converter.decode([unsealed], [str]) == ["before"]


def _json(payloads: list[Payload]) -> dict[str, object]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


async def test_codec_server_round_trip_matches_the_codec() -> None:
    key = os.urandom(32)
    c = codec("k1", key)
    settings = Settings(temporal_ui_url="http://127.0.0.1:8233")
    app = create_codec_app(settings, c)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as http:
        encoded = await http.post("/encode", json=_json([plain()]))
        assert encoded.status_code == 200, encoded.text
        sealed = json_format.ParseDict(encoded.json(), Payloads()).payloads
        assert sealed[0].metadata["encoding"] == ENCODING
        assert await c.decode(sealed) == [plain()]  # what the server encodes, the codec decodes

        [by_codec] = await c.encode([plain()])
        decoded = await http.post("/decode", json=_json([by_codec, plain(b"1")]))
        assert decoded.status_code == 200, decoded.text
        assert json_format.ParseDict(decoded.json(), Payloads()).payloads == [plain(), plain(b"1")]

        # The last byte flipped (not set to 0: one run in 256 it already is, and nothing would change).
        tampered = Payload(
            metadata=dict(by_codec.metadata), data=by_codec.data[:-1] + bytes([by_codec.data[-1] ^ 1])
        )
        refused = await http.post("/decode", json=_json([tampered]))
        assert refused.status_code == 400
        assert (await http.post("/decode", content=b"{not json")).status_code == 400

        preflight = await http.options(
            "/decode",
            headers={
                "Origin": "http://127.0.0.1:8233",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
        stranger = await http.options(
            "/decode", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in stranger.headers


async def test_codec_server_bearer_token() -> None:
    c = codec()
    app = create_codec_app(Settings(codec_server_token=SecretStr("s3cret-token")), c)
    transport = httpx.ASGITransport(app=app)
    body = _json([plain()])
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as http:
        assert (await http.post("/decode", json=body)).status_code == 401
        wrong = await http.post("/decode", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = await http.post("/decode", json=body, headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200


def test_codec_server_refuses_to_start_without_a_key() -> None:
    with pytest.raises(RuntimeError):
        create_codec_app(Settings())


async def test_saved_histories_replay_with_the_encrypting_converter() -> None:
    """Switching encryption on must not strand in-flight enrollments written in clear."""
    from temporalio.worker import Replayer

    from tests.replay.test_replay import HISTORIES, load
    from workflows.enrollment import EnrollmentWorkflow

    converter = data_converter(Settings(payload_encryption_key=SecretStr(generate_key())))
    replayer = Replayer(workflows=[EnrollmentWorkflow], data_converter=converter)
    for path in HISTORIES[:3]:
        result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
        assert result.replay_failure is None, (path.name, result.replay_failure)
