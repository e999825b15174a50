"""Bearer JWT: verification pinned to one algorithm, tenant and Genesys-style scopes from the claims.

HS256 with a shared secret (dev and simple deployments) or RS256 with keys from a JWKS (a URL, cached
and refetched when a token names an unknown `kid`, or a file, re-read when it changes on disk).
Claims: `sub`, `tenant` (the tenant id), `scope` (space-separated scopes, as in OAuth 2),
`exp` (required), `nbf` (checked when present), `aud` and `iss` (checked against settings).
A scope segment `*` is a wildcard (`journey:*:*` grants every journey scope).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    "journey:enrollment:edit",
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
    "journey:source:view",
    "journey:source:add",
    "journey:source:delete",
    "journey:customer:view",
    "journey:customer:edit",
    "journey:template:view",
    "journey:template:edit",
    "journey:message:view",
    "analytics:journeyAggregate:view",
    "journey:audit:view",
    "journey:subscriptiongroup:view",
    "journey:subscriptiongroup:add",
    "journey:subscriptiongroup:edit",
    "journey:subscriptiongroup:delete",
    "journey:subscription:view",
    "journey:subscription:edit",
    "journey:suppression:view",
    "journey:suppression:delete",
    "journey:deliveryevent:add",
    "journey:deliveryevent:edit",
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


class JwksFile:
    """Keys of a JWKS JSON file, re-read whenever its modification time changes (rotation on disk)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._mtime: int | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._lock = threading.Lock()

    def key_for(self, kid: str) -> Any:
        with self._lock:
            try:
                mtime = self._path.stat().st_mtime_ns
            except OSError as exc:
                raise AuthenticationError("the token keys are unavailable") from exc
            if mtime != self._mtime:
                try:
                    keys = jwt.PyJWKSet.from_dict(json.loads(self._path.read_text())).keys
                except (OSError, ValueError, jwt.PyJWTError) as exc:
                    raise AuthenticationError("the token keys are unavailable") from exc
                self._keys = {str(k.key_id): k for k in keys if k.key_id is not None}
                self._mtime = mtime
            key = self._keys.get(kid)
        if key is None:
            raise AuthenticationError(f"unknown signing key {kid!r}")
        return key.key


class JwksUrl:
    """Keys of a JWKS endpoint through PyJWT's client: cached, refetched on an unknown `kid`."""

    def __init__(self, url: str) -> None:
        self._client = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)

    def key_for(self, kid: str) -> Any:
        try:
            return self._client.get_signing_key(kid).key
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthenticationError("the token keys are unavailable") from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"unknown signing key {kid!r}") from exc


class TokenVerifier:
    def __init__(
        self,
        secret: str | None,
        audience: str,
        issuer: str,
        *,
        algorithm: str = ALGORITHM,
        jwks_url: str | None = None,
        jwks_file: Path | None = None,
        leeway_seconds: int = 5,
    ) -> None:
        if algorithm not in ("HS256", "RS256"):
            raise ValueError(f"unsupported JWT algorithm {algorithm!r}")
        self._algorithm = algorithm
        self._secret = secret
        self._keys: JwksFile | JwksUrl | None = None
        if algorithm == "HS256" and not secret:
            raise ValueError("HS256 needs a secret")
        if algorithm == "RS256":
            if jwks_file is not None:
                self._keys = JwksFile(jwks_file)
            elif jwks_url is not None:
                self._keys = JwksUrl(jwks_url)
            else:
                raise ValueError("RS256 needs a JWKS URL or file")
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway_seconds

    def _key(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid bearer token: {exc}") from exc
        if header.get("alg") != self._algorithm:
            raise AuthenticationError(f"invalid bearer token: the algorithm must be {self._algorithm}")
        if self._keys is None:
            return self._secret
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationError("invalid bearer token: the header names no `kid`")
        return self._keys.key_for(kid)

    def verify(self, token: str) -> Principal:
        key = self._key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "aud", "iss", "tenant"], "verify_nbf": True},
                leeway=self._leeway,
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
