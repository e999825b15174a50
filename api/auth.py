"""Bearer JWT: verification pinned to HS256, tenant and Genesys-style scopes from the claims.

Claims: `sub`, `tenant` (the tenant id), `scope` (space-separated scopes, as in OAuth 2),
`exp` (required), `aud` and `iss` (checked against settings). A scope segment `*` is a wildcard
(`journey:*:*` grants every journey scope).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import jwt

from domain.errors import AuthenticationError, PermissionDeniedError
from domain.ids import TENANT_ID_PATTERN

ALGORITHM = "HS256"
ALL_SCOPES: tuple[str, ...] = (
    "journey:journey:view",
    "journey:journey:add",
    "journey:journey:edit",
    "journey:journey:delete",
    "journey:journey:publish",
    "journey:enrollment:view",
    "journey:enrollment:add",
    "journey:enrollment:delete",
    "journey:segment:view",
    "journey:segment:add",
    "journey:segment:edit",
    "journey:segment:delete",
    "journey:segmentassignment:view",
    "journey:segmentassignment:add",
    "journey:segmentassignment:delete",
    "journey:actiontarget:view",
    "journey:actiontarget:add",
    "journey:actiontarget:edit",
    "journey:event:add",
    "journey:customer:view",
    "journey:customer:edit",
    "journey:template:view",
    "journey:template:edit",
    "journey:message:view",
    "analytics:journeyAggregate:view",
)
_TENANT = re.compile(TENANT_ID_PATTERN)


@dataclass(frozen=True)
class Principal:
    subject: str
    tenant_id: str
    scopes: frozenset[str]

    def has_scope(self, required: str) -> bool:
        wanted = required.split(":")
        for granted in self.scopes:
            parts = granted.split(":")
            if len(parts) == len(wanted) and all(g in ("*", w) for g, w in zip(parts, wanted, strict=True)):
                return True
        return False

    def require(self, scope: str) -> None:
        if not self.has_scope(scope):
            raise PermissionDeniedError(f"the token lacks the scope {scope!r}")


def mint_token(
    *,
    secret: str,
    tenant: str,
    scopes: tuple[str, ...] | list[str],
    audience: str,
    issuer: str,
    ttl_seconds: int = 3600,
    subject: str = "dev",
) -> str:
    now = int(time.time())
    claims = {
        "sub": subject,
        "tenant": tenant,
        "scope": " ".join(scopes),
        "aud": audience,
        "iss": issuer,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class TokenVerifier:
    def __init__(self, secret: str, audience: str, issuer: str) -> None:
        self._secret = secret
        self._audience = audience
        self._issuer = issuer

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "aud", "iss", "tenant"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError("the bearer token has expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid bearer token: {exc}") from exc
        tenant = claims.get("tenant")
        if not isinstance(tenant, str) or not _TENANT.match(tenant):
            raise AuthenticationError("the token's `tenant` claim is not a valid tenant id")
        raw_scope = claims.get("scope", "")
        scopes = raw_scope.split() if isinstance(raw_scope, str) else []
        return Principal(subject=str(claims.get("sub", "")), tenant_id=tenant, scopes=frozenset(scopes))
