"""Action targets: the delivery targets SEND nodes name (SPEC §4 action targets, §9).

A WEBHOOK target's settings are `{url, secret?, headers?, timeoutSeconds?}`; the URL passes the SSRF
guard when it is saved (and again, with DNS, at every send). Secrets are write-only: reads show a mask,
and a mask sent back means "keep what is stored", so GET → edit → PATCH never loses a secret.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from delivery.channel_settings import WebhookSettings
from delivery.netguard import BlockedDestinationError, check_url
from delivery.webhook_signing import SECRET_PREFIX
from domain.errors import FieldIssue, InvalidInputError, NotFoundError
from services.uow import UnitOfWork
from store.repositories.action_targets import ActionTargetRepository
from store.repositories.pagination import Page, PageRequest
from store.rows import ActionTargetRow

MAX_SETTINGS_BYTES = 16_384
MASK = "****"
WEBHOOK_SECRET_PREFIX = SECRET_PREFIX
# Settings keys (at any depth, header names included) whose string values are credentials.
_SENSITIVE_KEY = re.compile(
    r"secret|passw(or)?d|token|api[-_]?key|authorization|cookie|credential|private[-_]?key|signature",
    re.IGNORECASE,
)
_SETTINGS = ("body", "settings")


@dataclass(frozen=True)
class NewActionTarget:
    name: str
    channel: str
    settings: dict[str, Any]
    service_level: dict[str, Any] | None
    short_abandon_threshold: int | None
    enabled: bool


def mask(value: str) -> str:
    """What a read shows in place of a secret: the `whsec_` prefix at most, never a character of it."""
    return WEBHOOK_SECRET_PREFIX + MASK if value.startswith(WEBHOOK_SECRET_PREFIX) else MASK


def masked_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings as the API shows them: every credential-like string value masked."""
    shown: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            shown[key] = masked_settings(value)
        elif isinstance(value, str) and _SENSITIVE_KEY.search(key):
            shown[key] = mask(value)
        else:
            shown[key] = value
    return shown


def _unmasked(given: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """`given` with every echoed mask replaced by the stored value it stands for."""
    result: dict[str, Any] = {}
    for key, value in given.items():
        current = stored.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            result[key] = _unmasked(value, current)
        elif isinstance(value, str) and isinstance(current, str) and value == mask(current):
            result[key] = current
        else:
            result[key] = value
    return result


def _merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch: objects merge key by key, null removes a key."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_patch(merged[key], value)
        else:
            merged[key] = value
    return merged


class ActionTargetService:
    def __init__(self, uow: UnitOfWork, *, webhook_allow_list: Sequence[str] = ()) -> None:
        self._uow = uow
        self._targets = ActionTargetRepository(uow.session)
        self._allow = tuple(webhook_allow_list)

    async def get(self, tenant_id: str, target_id: uuid.UUID, *, for_update: bool = False) -> ActionTargetRow:
        row = await self._targets.get(tenant_id, target_id, for_update=for_update)
        if row is None:
            raise NotFoundError("action target", str(target_id))
        return row

    async def search(
        self, tenant_id: str, page: PageRequest, *, channel: str | None = None, enabled: bool | None = None
    ) -> Page[ActionTargetRow]:
        return await self._targets.list(tenant_id, page, channel=channel, enabled=enabled)

    async def create(self, tenant_id: str, new: NewActionTarget) -> ActionTargetRow:
        now = datetime.now(UTC)
        row = ActionTargetRow(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            name=new.name,
            channel=new.channel,
            settings=self._validated_settings(new.channel, new.settings),
            service_level=new.service_level,
            short_abandon_threshold=new.short_abandon_threshold,
            enabled=new.enabled,
            disabled_reason=None,
            created_at=now,
            updated_at=now,
        )
        await self._targets.add(row)
        return row

    async def update(self, tenant_id: str, target_id: uuid.UUID, changes: dict[str, Any]) -> ActionTargetRow:
        """Partial update. `settings` is a merge patch onto the stored settings, unless the channel changes
        (then it replaces them); masks echoed back keep the stored secrets."""
        row = await self.get(tenant_id, target_id, for_update=True)
        channel = changes.get("channel", row.channel)
        if "settings" in changes or channel != row.channel:
            given: dict[str, Any] = changes.get("settings") or {}
            if channel == row.channel:
                settings = _merge_patch(row.settings, _unmasked(given, row.settings))
            else:
                settings = _unmasked(given, row.settings)
            row.settings = self._validated_settings(channel, settings)
        row.channel = channel
        for field in ("name", "service_level", "short_abandon_threshold"):
            if field in changes:
                setattr(row, field, changes[field])
        if "enabled" in changes:
            row.enabled = changes["enabled"]
            row.disabled_reason = None
        row.updated_at = datetime.now(UTC)
        await self._uow.session.flush()
        return row

    def _validated_settings(self, channel: str, settings: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(settings)) > MAX_SETTINGS_BYTES:
            raise InvalidInputError([FieldIssue(_SETTINGS, f"settings exceed {MAX_SETTINGS_BYTES} bytes")])
        if channel != "WEBHOOK":
            return settings
        try:
            webhook = WebhookSettings.model_validate(settings)
        except ValidationError as exc:
            raise InvalidInputError(
                [
                    FieldIssue(
                        (*_SETTINGS, *(str(p) if not isinstance(p, int) else p for p in e["loc"])), e["msg"]
                    )
                    for e in exc.errors()
                ]
            ) from None
        try:
            check_url(webhook.url, allow=self._allow)
        except BlockedDestinationError as exc:
            raise InvalidInputError([FieldIssue((*_SETTINGS, "url"), f"refused: {exc}")]) from None
        return webhook.model_dump(mode="json", exclude_none=True)
