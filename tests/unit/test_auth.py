"""Token verification: algorithm pinned, exp/aud/iss required, tenant and scopes read."""

from __future__ import annotations

import time

import jwt
import pytest

from api.auth import ALL_SCOPES, TokenVerifier, mint_token
from domain.errors import AuthenticationError, PermissionDeniedError

SECRET = "unit-test-secret-0123456789-abcdefghijklmnop-0123456789-abcdefghijklmnop"
verifier = TokenVerifier(SECRET, "journeys", "journeys")


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "u1",
        "tenant": "acme",
        "scope": "journey:journey:view",
        "aud": "journeys",
        "iss": "journeys",
        "exp": now + 60,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_minted_token_verifies_with_tenant_and_scopes() -> None:
    token = mint_token(
        secret=SECRET, tenant="acme", scopes=ALL_SCOPES, audience="journeys", issuer="journeys"
    )
    principal = verifier.verify(token)
    assert principal.tenant_id == "acme"
    assert principal.has_scope("journey:journey:add")


@pytest.mark.parametrize(
    "bad",
    [
        jwt.encode(claims(exp=int(time.time()) - 60), SECRET, algorithm="HS256"),
        jwt.encode(claims(exp=None), SECRET, algorithm="HS256"),
        jwt.encode(claims(aud="other"), SECRET, algorithm="HS256"),
        jwt.encode(claims(iss="other"), SECRET, algorithm="HS256"),
        jwt.encode(claims(tenant=None), SECRET, algorithm="HS256"),
        jwt.encode(claims(tenant="../etc"), SECRET, algorithm="HS256"),
        jwt.encode(claims(), "another-secret-0123456789-abcdefghijklmnop", algorithm="HS256"),
        jwt.encode(claims(), SECRET, algorithm="HS512"),
        jwt.encode(claims(), None, algorithm="none"),  # type: ignore[arg-type]
        "not.a.jwt",
    ],
    ids=["expired", "no-exp", "aud", "iss", "no-tenant", "bad-tenant", "signature", "alg", "none", "garbage"],
)
def test_bad_tokens_are_refused(bad: str) -> None:
    with pytest.raises(AuthenticationError):
        verifier.verify(bad)


def test_scopes_are_enforced_with_wildcards() -> None:
    principal = verifier.verify(jwt.encode(claims(scope="journey:*:view"), SECRET, algorithm="HS256"))
    principal.require("journey:enrollment:view")
    with pytest.raises(PermissionDeniedError):
        principal.require("journey:journey:add")
