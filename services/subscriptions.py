"""Subscription groups and customers' consent in them (SPEC §14, issue 15).

A group belongs to one channel and is OPT_OUT (customers receive its sends until they leave) or
OPT_IN (only after they join). A customer's state in a group is their row there, else the group's
type. At most one group per channel is the tenant's default: the group a SEND that names none is
judged under (`SubscriptionGroupRepository.ensure_default` creates one when a channel has none).

Sources of a change: "api" (PUT /v1/customers/{id}/subscriptions/{groupId}), "identify" (identify
traits' `subscriptions`), "unsubscribe_link" (one-click unsubscribe), "preferences" (the page).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from domain.consent import subscribed_by_default
from domain.errors import ConflictError, FieldIssue, InvalidInputError, NotFoundError
from services.uow import UnitOfWork
from store.repositories.customers import CustomerRepository
from store.repositories.pagination import Page, PageRequest
from store.repositories.subscriptions import (
    CustomerSubscriptionRepository,
    SubscriptionChange,
    SubscriptionGroupRepository,
)
from store.rows import CustomerSubscriptionRow, SubscriptionGroupRow

SubscriptionSource = Literal["api", "identify", "unsubscribe_link", "preferences"]
SOURCES: tuple[SubscriptionSource, ...] = ("api", "identify", "unsubscribe_link", "preferences")
# The identify trait that carries subscription state: {"<group id or name>": true | false, ...}.
SUBSCRIPTIONS_TRAIT = "subscriptions"


@dataclass(frozen=True)
class SubscriptionState:
    """A customer's state in one group; `changed_at` and `source` are None when it is the type's
    default (the customer never chose)."""

    group: SubscriptionGroupRow
    subscribed: bool
    changed_at: datetime | None
    source: str | None

    @classmethod
    def of(cls, group: SubscriptionGroupRow, row: CustomerSubscriptionRow | None) -> SubscriptionState:
        if row is None:
            return cls(group, subscribed_by_default(group.type), None, None)
        return cls(group, row.subscribed, row.changed_at, row.source)


@dataclass(frozen=True)
class NewSubscriptionGroup:
    name: str
    channel: str
    type: str
    is_default: bool = False


class SubscriptionService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._groups = SubscriptionGroupRepository(uow.session)
        self._states = CustomerSubscriptionRepository(uow.session)
        self._customers = CustomerRepository(uow.session)

    # ---- groups ------------------------------------------------------------------------------

    async def get(
        self, tenant_id: str, group_id: uuid.UUID, *, for_update: bool = False
    ) -> SubscriptionGroupRow:
        row = await self._groups.get(tenant_id, group_id, for_update=for_update)
        if row is None:
            raise NotFoundError("subscription group", str(group_id))
        return row

    async def search(
        self, tenant_id: str, page: PageRequest, *, channel: str | None = None
    ) -> Page[SubscriptionGroupRow]:
        return await self._groups.list(tenant_id, page, channel=channel)

    async def create(self, tenant_id: str, new: NewSubscriptionGroup) -> SubscriptionGroupRow:
        """A duplicate name is a 409; a new default replaces the channel's previous one."""
        await self._refuse_taken_name(tenant_id, new.name)
        if new.is_default:
            await self._groups.clear_default(tenant_id, new.channel)
        now = datetime.now(UTC)
        row = SubscriptionGroupRow(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            name=new.name,
            channel=new.channel,
            type=new.type,
            is_default=new.is_default,
            created_at=now,
            updated_at=now,
        )
        await self._groups.add(row)
        return row

    async def update(
        self, tenant_id: str, group_id: uuid.UUID, changes: Mapping[str, Any]
    ) -> SubscriptionGroupRow:
        """Name, type and whether it is the channel's default; the channel cannot change (422)."""
        row = await self.get(tenant_id, group_id, for_update=True)
        channel = changes.get("channel")
        if channel is not None and channel != row.channel:
            raise InvalidInputError(
                [
                    FieldIssue(
                        ("body", "channel"),
                        f"a group's channel cannot change (it is {row.channel}); create another group",
                    )
                ]
            )
        name = changes.get("name")
        if name is not None and name != row.name:
            await self._refuse_taken_name(tenant_id, name)
            row.name = name
        if changes.get("type") is not None:
            row.type = changes["type"]
        is_default = changes.get("is_default")
        if is_default is not None and is_default != row.is_default:
            if is_default:
                await self._groups.clear_default(tenant_id, row.channel, keep=row.id)
            row.is_default = is_default
        row.updated_at = datetime.now(UTC)
        await self._groups.save()
        return row

    async def delete(self, tenant_id: str, group_id: uuid.UUID) -> None:
        """Refused (409) while a journey that is not archived names the group on a SEND; otherwise the
        group goes with every customer's state in it."""
        row = await self.get(tenant_id, group_id, for_update=True)
        user = await self._groups.journey_using(tenant_id, group_id)
        if user is not None:
            raise ConflictError(
                f"subscription group {group_id} is used by journey {user.name!r} ({user.id}); "
                "point its SEND nodes elsewhere or archive it first"
            )
        await self._groups.delete(row)

    async def _refuse_taken_name(self, tenant_id: str, name: str) -> None:
        if await self._groups.by_name(tenant_id, name) is not None:
            raise ConflictError(f"a subscription group named {name!r} exists already")

    # ---- customers' state --------------------------------------------------------------------

    async def states(self, tenant_id: str, customer_id: str) -> list[SubscriptionState]:
        """The customer's state in every group of the tenant, oldest group first."""
        return [
            SubscriptionState.of(s.group, s.row)
            for s in await self._states.for_customer(tenant_id, customer_id)
        ]

    async def customer_states(self, tenant_id: str, customer_id: str) -> list[SubscriptionState]:
        """`states` for a known customer: an unknown one is a 404 (as every customer route)."""
        if await self._customers.get(tenant_id, customer_id) is None:
            raise NotFoundError("customer", customer_id)
        return await self.states(tenant_id, customer_id)

    async def set_state(
        self, tenant_id: str, customer_id: str, group_id: uuid.UUID, subscribed: bool, source: str
    ) -> SubscriptionState:
        """Set the customer's state in the tenant's group (NotFoundError for a group not the tenant's).
        Idempotent: setting the state the customer has already chosen changes nothing."""
        if source not in SOURCES:
            raise ValueError(f"unknown subscription source {source!r}")
        group = await self.get(tenant_id, group_id)
        row = await self._states.upsert(tenant_id, customer_id, group.id, subscribed, source)
        return SubscriptionState.of(group, row)

    async def put_state(
        self, tenant_id: str, customer_id: str, group_id: uuid.UUID, subscribed: bool
    ) -> SubscriptionState:
        """PUT /v1/customers/{id}/subscriptions/{groupId}: a customer never seen is created (as PUT
        /v1/customers/{id} would), so consent can be recorded before their first event."""
        await self.get(tenant_id, group_id)  # another tenant's group: 404 before anything is written
        await self._customers.ensure_many(tenant_id, [customer_id])
        return await self.set_state(tenant_id, customer_id, group_id, subscribed, "api")

    async def apply_traits(self, tenant_id: str, wanted: Mapping[str, Mapping[str, Any]]) -> None:
        """Identify traits' `subscriptions` per customer: {"<group id or name>": bool, ...} set with
        source "identify". Keys naming no group of the tenant, and values that are not booleans, are
        ignored. One query for the groups, one statement for the states."""
        ids: set[uuid.UUID] = set()
        names: set[str] = set()
        for choices in wanted.values():
            for key in choices:
                parsed = _as_uuid(key)
                if parsed is not None:
                    ids.add(parsed)
                names.add(key)
        groups = await self._groups.named(tenant_id, sorted(ids, key=str), sorted(names))
        by_key: dict[str, uuid.UUID] = {group.name: group.id for group in groups}
        by_key.update({str(group.id): group.id for group in groups})
        changes = [
            SubscriptionChange(customer_id, by_key[_key(key)], value)
            for customer_id, choices in wanted.items()
            for key, value in choices.items()
            if isinstance(value, bool) and _key(key) in by_key
        ]
        await self._states.upsert_many(tenant_id, changes, "identify")


def _as_uuid(key: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(key)
    except ValueError:
        return None


def _key(key: str) -> str:
    """A group id in any spelling (upper case, braces) as the canonical string; a name as it is."""
    parsed = _as_uuid(key)
    return str(parsed) if parsed is not None else key
