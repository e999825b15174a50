"""Subscription group and customer subscription request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field, StrictBool

from api.schemas.common import ApiModel, PatchModel
from domain.consent import GroupType
from domain.nodes.send import Channel
from services.subscriptions import NewSubscriptionGroup, SubscriptionState

if TYPE_CHECKING:
    from store.rows import SubscriptionGroupRow

MAX_NAME_LENGTH = 200
GROUP_ID = "7d3c2b1a-0f9e-4d8c-b7a6-95f4e3d2c1b0"
CREATED = "2025-10-15T09:00:00Z"
TYPE_DESCRIPTION = (
    "OPT_OUT: customers receive the group's sends until they leave; OPT_IN: only after they join"
)
DEFAULT_DESCRIPTION = (
    "The channel's default group: SENDs that name no group are judged under it. Making a group the "
    "default takes it from the channel's previous default."
)


class SubscriptionGroupCreate(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Newsletter", "channel": "EMAIL", "type": "OPT_IN", "isDefault": False}]
        }
    )

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="Unique per tenant")
    channel: Channel
    type: GroupType = Field(description=TYPE_DESCRIPTION)
    is_default: bool = Field(default=False, description=DEFAULT_DESCRIPTION)

    def to_new(self) -> NewSubscriptionGroup:
        return NewSubscriptionGroup(
            name=self.name, channel=self.channel, type=self.type, is_default=self.is_default
        )


class SubscriptionGroupPatch(PatchModel):
    """Partial update of name, type and isDefault; `channel` may be sent only as it is."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Weekly newsletter"}]})
    NOT_NULL = frozenset({"name", "channel", "type", "is_default"})

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    channel: Channel | None = Field(default=None, description="Cannot change: a different value is a 422")
    type: GroupType | None = Field(default=None, description=TYPE_DESCRIPTION)
    is_default: bool | None = Field(default=None, description=DEFAULT_DESCRIPTION)

    def changes(self) -> dict[str, Any]:
        return self.sent()


class SubscriptionGroupOut(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": GROUP_ID,
                    "name": "Newsletter",
                    "channel": "EMAIL",
                    "type": "OPT_IN",
                    "isDefault": False,
                    "createdAt": CREATED,
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    channel: str
    type: str
    is_default: bool
    created_at: datetime

    @classmethod
    def build(cls, row: SubscriptionGroupRow) -> SubscriptionGroupOut:
        return cls(
            id=row.id,
            name=row.name,
            channel=row.channel,
            type=row.type,
            is_default=row.is_default,
            created_at=row.created_at,
        )


class SubscriptionIn(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"subscribed": False}]})

    # Consent is a JSON boolean: no "yes" or 1 read as true.
    subscribed: StrictBool = Field(description="true: join the group; false: leave it")


_ENTRY_EXAMPLE: dict[str, Any] = {
    "subscriptionGroupId": GROUP_ID,
    "subscriptionGroupName": "Newsletter",
    "channel": "EMAIL",
    "type": "OPT_IN",
    "subscribed": True,
    "changedAt": CREATED,
    "source": "api",
}


class SubscriptionOut(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ENTRY_EXAMPLE]})

    subscription_group_id: uuid.UUID
    subscription_group_name: str
    channel: str
    type: str
    subscribed: bool
    changed_at: datetime | None = Field(
        description="When the customer last changed it; null: never (the group type's default)"
    )
    source: str | None = Field(
        description="What changed it: api, identify, unsubscribe_link or preferences; null: never changed"
    )

    @classmethod
    def build(cls, state: SubscriptionState) -> SubscriptionOut:
        return cls(
            subscription_group_id=state.group.id,
            subscription_group_name=state.group.name,
            channel=state.group.channel,
            type=state.group.type,
            subscribed=state.subscribed,
            changed_at=state.changed_at,
            source=state.source,
        )


class SubscriptionsOut(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"data": [_ENTRY_EXAMPLE]}]})

    data: list[SubscriptionOut]
