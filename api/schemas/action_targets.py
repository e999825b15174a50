"""Action target request and response bodies (Genesys ActionTarget, plus channel and settings)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from api.schemas.common import ApiModel, PatchModel
from domain.definition import Channel
from services.action_targets import NewActionTarget, masked_settings

if TYPE_CHECKING:
    from store.rows import ActionTargetRow

MAX_NAME_LENGTH = 200
SETTINGS_DESCRIPTION = (
    "Channel settings. WEBHOOK: `{url, secret?, headers?, timeoutSeconds?}` — `url` is http(s) and is "
    "refused when it points at loopback, private or metadata addresses (unless allow-listed); `secret` "
    "signs every POST (Standard Webhooks, `whsec_<base64>` or a raw string); `timeoutSeconds` ≤ 25, "
    "default 10. Other channels: provider settings, free-form (≤ 16 KiB). Secrets are write-only: "
    "responses show `whsec_****` (or `****`) in place of any secret, token, password, API key or "
    "Authorization value; sending that mask back keeps the stored value."
)


class ServiceLevel(ApiModel):
    percentage: float = Field(ge=0, le=1, description="Share to deliver within `durationMs` (0.8 = 80 %)")
    duration_ms: int = Field(ge=0, le=86_400_000)


class ActionTargetCreate(ApiModel):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    channel: Channel
    settings: dict[str, Any] = Field(default_factory=dict, description=SETTINGS_DESCRIPTION)
    service_level: ServiceLevel | None = None
    short_abandon_threshold: int | None = Field(default=None, ge=0, le=86_400)
    enabled: bool = True

    def to_new(self) -> NewActionTarget:
        return NewActionTarget(
            name=self.name,
            channel=self.channel,
            settings=self.settings,
            service_level=self.service_level.model_dump(mode="json") if self.service_level else None,
            short_abandon_threshold=self.short_abandon_threshold,
            enabled=self.enabled,
        )


class ActionTargetPatch(PatchModel):
    """Partial update: only the fields present change; null clears `serviceLevel` and
    `shortAbandonThreshold`."""

    NOT_NULL = frozenset({"name", "channel", "settings", "enabled"})

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    channel: Channel | None = None
    settings: dict[str, Any] | None = Field(
        default=None,
        description="A JSON merge patch (RFC 7396) onto the stored settings (null removes a key); "
        "replaces them when `channel` changes. " + SETTINGS_DESCRIPTION,
    )
    service_level: ServiceLevel | None = None
    short_abandon_threshold: int | None = Field(default=None, ge=0, le=86_400)
    enabled: bool | None = Field(default=None, description="true also clears `disabledReason`")

    def changes(self) -> dict[str, Any]:
        """Service field names → values, for the fields the client sent (null clears the optional ones)."""
        changes = self.sent()
        if "service_level" in changes and self.service_level is not None:
            changes["service_level"] = self.service_level.model_dump(mode="json")
        return changes


class ActionTargetOut(ApiModel):
    id: uuid.UUID
    name: str
    channel: str
    settings: dict[str, Any] = Field(description="Secrets masked: `whsec_****` or `****`")
    service_level: ServiceLevel | None
    short_abandon_threshold: int | None
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why the engine switched the target off (e.g. the receiver answered 410 Gone)"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, row: ActionTargetRow) -> ActionTargetOut:
        return cls(
            id=row.id,
            name=row.name,
            channel=row.channel,
            settings=masked_settings(row.settings),
            service_level=ServiceLevel.model_validate(row.service_level) if row.service_level else None,
            short_abandon_threshold=row.short_abandon_threshold,
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
