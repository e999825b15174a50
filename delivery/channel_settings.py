"""The settings of a WEBHOOK action target: checked when a target is saved, read when a message is sent."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from delivery.webhook_signing import RESERVED_HEADERS, sign
from domain.wire import WireModel

# Below the workflow's start-to-close timeout of the send activity (30 s), so a slow receiver fails
# the attempt by our own deadline, with a useful error, rather than by Temporal's.
MAX_WEBHOOK_TIMEOUT_SECONDS = 25.0
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}")
_HEADER_VALUE_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class WebhookSettings(WireModel):
    """The `settings` of a WEBHOOK action target, as stored and as the send activity reads them."""

    url: str = Field(min_length=1, max_length=2048, description="http(s) URL the POST goes to")
    secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="Standard Webhooks signing secret: `whsec_<base64>` or a raw string; none: unsigned",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, max_length=32, description="Extra request headers (e.g. Authorization)"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=MAX_WEBHOOK_TIMEOUT_SECONDS)

    @field_validator("secret")
    @classmethod
    def _usable_secret(cls, secret: str | None) -> str | None:
        if secret is not None:
            sign(secret, "check", 0, b"")  # a ValueError says why it cannot sign
        return secret

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP token")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by the webhook channel and cannot be overridden")
            if len(value) > 4096 or _HEADER_VALUE_FORBIDDEN.search(value):
                raise ValueError(f"the value of header {name!r} is too long or holds control characters")
        return headers
