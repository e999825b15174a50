"""RS256 through a JWKS file: every classic JWT attack is a 401; rotation on disk needs no restart."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.app import create_app
from api.auth import TokenVerifier
from api.resources import AppResources
from domain.errors import AuthenticationError
from plumbing.settings import Settings

AUD, ISS = "journeys", "journeys"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def jwk_of(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def write_jwks(path: Path, keys: list[dict[str, Any]]) -> None:
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(json.dumps({"keys": keys}))
    # Guarantee a visible mtime change even on coarse-grained file systems.
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "u1",
        "tenant": "acme",
        "scope": "journey:journey:view",
        "aud": AUD,
        "iss": ISS,
        "exp": now + 60,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
def jwks_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "jwks.json"
    write_jwks(path, [jwk_of(rsa_key, "k1")])
    return path


def rs256(key: rsa.RSAPrivateKey, kid: str = "k1", **overrides: object) -> str:
    return jwt.encode(claims(**overrides), key, algorithm="RS256", headers={"kid": kid})


def tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["tenant"] = "globex"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def bad_tokens(key: rsa.RSAPrivateKey) -> dict[str, str]:
    now = int(time.time())
    pem = public_pem(key)
    # PyJWT refuses a PEM as an HMAC secret; forge the confusion token by hand, as an attacker would.
    hs_header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT","kid":"k1"}').rstrip(b"=")
    hs_body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    mac = hmac.new(pem, hs_header + b"." + hs_body, hashlib.sha256).digest()
    confusion = b".".join([hs_header, hs_body, base64.urlsafe_b64encode(mac).rstrip(b"=")]).decode()
    return {
        "alg-none": jwt.encode(claims(), None, algorithm="none", headers={"kid": "k1"}),  # type: ignore[arg-type]
        "hs-rs-confusion": confusion,
        "expired": rs256(key, exp=now - 60),
        "future-nbf": rs256(key, nbf=now + 600),
        "wrong-aud": rs256(key, aud="other"),
        "wrong-iss": rs256(key, iss="other"),
        "missing-exp": rs256(key, exp=None),
        "unknown-kid": rs256(key, kid="nope"),
        "no-kid": jwt.encode(claims(), key, algorithm="RS256"),
        "other-key": rs256(new_key()),
        "tampered": tamper(rs256(key)),
    }


CASES = [
    "alg-none",
    "hs-rs-confusion",
    "expired",
    "future-nbf",
    "wrong-aud",
    "wrong-iss",
    "missing-exp",
    "unknown-kid",
    "no-kid",
    "other-key",
    "tampered",
]


def rs_verifier(jwks_file: Path) -> TokenVerifier:
    return TokenVerifier(None, AUD, ISS, algorithm="RS256", jwks_file=jwks_file)


@pytest.mark.parametrize("case", CASES)
def test_bad_rs256_tokens_are_refused(case: str, rsa_key: rsa.RSAPrivateKey, jwks_file: Path) -> None:
    with pytest.raises(AuthenticationError):
        rs_verifier(jwks_file).verify(bad_tokens(rsa_key)[case])


def test_valid_rs256_token_verifies(rsa_key: rsa.RSAPrivateKey, jwks_file: Path) -> None:
    principal = rs_verifier(jwks_file).verify(rs256(rsa_key))
    assert principal.tenant_id == "acme" and principal.has_scope("journey:journey:view")


def test_hs256_is_refused_when_rs256_is_configured_and_vice_versa(
    rsa_key: rsa.RSAPrivateKey, jwks_file: Path
) -> None:
    secret = "a-shared-secret-that-is-long-enough-0123456789"
    with pytest.raises(AuthenticationError):
        rs_verifier(jwks_file).verify(jwt.encode(claims(), secret, algorithm="HS256", headers={"kid": "k1"}))
    with pytest.raises(AuthenticationError):
        TokenVerifier(secret, AUD, ISS).verify(rs256(rsa_key))


def test_jwks_file_rotated_on_disk_is_picked_up(rsa_key: rsa.RSAPrivateKey, jwks_file: Path) -> None:
    verifier = rs_verifier(jwks_file)
    verifier.verify(rs256(rsa_key))
    rotated = new_key()
    with pytest.raises(AuthenticationError):
        verifier.verify(rs256(rotated, kid="k2"))
    write_jwks(jwks_file, [jwk_of(rotated, "k2")])
    assert verifier.verify(rs256(rotated, kid="k2")).tenant_id == "acme"
    with pytest.raises(AuthenticationError):
        verifier.verify(rs256(rsa_key))  # the retired key is gone


@pytest_asyncio.fixture
async def rs_app(database_url: str, jwks_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(jwt_algorithm="RS256", jwt_jwks_file=jwks_file)
    resources = AppResources.from_settings(settings, database_url=database_url, jwt_secret=None)
    transport = httpx.ASGITransport(app=create_app(resources))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http
    await resources.close()


async def test_through_the_app(rs_app: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey) -> None:
    for case, token in bad_tokens(rsa_key).items():
        response = await rs_app.get("/v1/journeys", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (case, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    ok = await rs_app.get("/v1/journeys", headers={"Authorization": f"Bearer {rs256(rsa_key)}"})
    assert ok.status_code == 200, ok.text
