"""Delivery wire shapes: provider delivery events, the delivery-events secret, the suppression list."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from api.schemas.common import ApiModel
from domain.event_limits import check_timestamp
from services.delivery_events import DeliveryReport, DeliveryReportResult

if TYPE_CHECKING:
    from store.rows import SuppressionRow

MAX_DELIVERY_EVENTS: Final = 500
DeliveryEventType = Literal["bounce", "complaint", "delivered", "opened", "clicked"]

_SUPPRESSION_ID: Final = "4c3b2a19-0817-4f6e-9d5c-4b3a29180706"
_MESSAGE_ID: Final = "9c8b7a69-5847-4362-8150-4f3e2d1c0b0a"
BOUNCE_EXAMPLE: Final[dict[str, Any]] = {
    "type": "bounce",
    "messageId": "<3f8a0c1d2e4b5a6978c0d1e2f3a4b5c6d7e8f9a0@journeys>",
    "recipient": "ann@example.com",
    "timestamp": "2025-12-14T10:00:00Z",
    "detail": "550 5.1.1 user unknown",
}
OPEN_EXAMPLE: Final[dict[str, Any]] = {
    "type": "opened",
    "idempotencyKey": "6f1c2a52-8d1e-4c1b-9a57-3f1e2d4c5b6a:customer_456:1:mail:1",
    "timestamp": "2025-12-14T10:05:00Z",
    "id": "evt_01HZX3",
}


class DeliveryEventIn(ApiModel):
    """What a provider reports about one message."""

    model_config = ConfigDict(json_schema_extra={"examples": [BOUNCE_EXAMPLE, OPEN_EXAMPLE]})

    type: DeliveryEventType = Field(
        description="bounce (a hard, permanent bounce: soft bounces are not reported here), complaint "
        "(marked as spam), delivered, opened, clicked"
    )
    message_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=400,
        description="The provider's id for the message: what the send returned (`providerMessageId` in "
        "GET /v1/messages; an email's Message-ID, with or without its angle brackets)",
    )
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=400, description="Our send's key (instead of `messageId`)"
    )
    recipient: str | None = Field(
        default=None,
        min_length=1,
        max_length=320,
        description="The address; used only when the message has none recorded",
    )
    timestamp: datetime = Field(description="When it happened (naive: UTC)")
    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The provider's id for this event: when given, the key it is deduplicated by",
    )
    detail: str | None = Field(
        default=None, max_length=1000, description="The provider's diagnostic, e.g. a bounce's SMTP reply"
    )

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return check_timestamp(value)

    @model_validator(mode="after")
    def _names_a_message(self) -> DeliveryEventIn:
        if self.message_id is None and self.idempotency_key is None:
            raise ValueError("give `messageId` or `idempotencyKey`")
        return self

    def to_report(self) -> DeliveryReport:
        return DeliveryReport(
            type=self.type,
            timestamp=self.timestamp,
            message_id=self.message_id,
            idempotency_key=self.idempotency_key,
            recipient=self.recipient,
            id=self.id,
            detail=self.detail,
        )


class DeliveryEventBatchIn(ApiModel):
    """Several events in one request, kept in order in one transaction."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"events": [BOUNCE_EXAMPLE, OPEN_EXAMPLE]}]})

    events: list[DeliveryEventIn] = Field(min_length=1, max_length=MAX_DELIVERY_EVENTS)


class DeliveryEventsOut(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"accepted": 1, "ignored": 0, "duplicates": 0}]}
    )

    accepted: int = Field(description="Events kept for a message we sent")
    ignored: int = Field(description="Events kept for a message we do not know (nothing else done)")
    duplicates: int = Field(description="Events received before (same provider event id or webhook-id)")

    @classmethod
    def build(cls, result: DeliveryReportResult) -> DeliveryEventsOut:
        return cls(accepted=result.accepted, ignored=result.ignored, duplicates=result.duplicates)


class DeliverySecretOut(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"secret": "whsec_ZXhhbXBsZS1kZWxpdmVyeS1ldmVudHMtc2VjcmV0IQ=="}]}
    )

    secret: str = Field(
        description="The tenant's new delivery-events secret (Standard Webhooks `whsec_<base64>`), shown "
        "only in this answer; the previous one no longer verifies"
    )


class SuppressionOut(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _SUPPRESSION_ID,
                    "channel": "EMAIL",
                    "address": "ann@example.com",
                    "reason": "bounced",
                    "createdAt": "2025-12-14T10:00:01Z",
                    "messageId": _MESSAGE_ID,
                }
            ]
        }
    )

    id: uuid.UUID
    channel: str
    address: str = Field(description="Normalized (an email: lower-cased)")
    reason: str = Field(description="bounced | complained")
    created_at: datetime
    message_id: uuid.UUID | None = Field(description="The message whose bounce or complaint added it")

    @classmethod
    def build(cls, row: SuppressionRow) -> SuppressionOut:
        return cls(
            id=row.id,
            channel=row.channel,
            address=row.address,
            reason=row.reason,
            created_at=row.created_at,
            message_id=row.message_id,
        )
