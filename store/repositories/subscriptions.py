"""Subscription groups and customers' explicit subscription state in them (consent, SPEC §14).

A customer with no row in a group has the group's type as their state: OPT_OUT → subscribed,
OPT_IN → not. A row records an explicit choice, with when (`changed_at`) and by what (`source`).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.consent import OPT_IN as OPT_IN
from domain.consent import OPT_OUT as OPT_OUT
from domain.errors import ConflictError
from store.repositories.pagination import Page, PageRequest, paginate
from store.rows import CustomerSubscriptionRow, JourneyRow, JourneyVersionRow, SubscriptionGroupRow


def default_group_name(channel: str) -> str:
    """The name of the group `ensure_default` creates for a channel that has no default."""
    return f"{channel} (default)"


class SubscriptionGroupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(
        self, tenant_id: str, group_id: uuid.UUID, *, for_update: bool = False
    ) -> SubscriptionGroupRow | None:
        query = select(SubscriptionGroupRow).where(
            SubscriptionGroupRow.tenant_id == tenant_id, SubscriptionGroupRow.id == group_id
        )
        if for_update:
            query = query.with_for_update()
        return await self._session.scalar(query)

    async def by_name(self, tenant_id: str, name: str) -> SubscriptionGroupRow | None:
        return await self._session.scalar(
            select(SubscriptionGroupRow).where(
                SubscriptionGroupRow.tenant_id == tenant_id, SubscriptionGroupRow.name == name
            )
        )

    async def list(
        self, tenant_id: str, page: PageRequest, *, channel: str | None = None
    ) -> Page[SubscriptionGroupRow]:
        conditions: builtins.list[Any] = [SubscriptionGroupRow.tenant_id == tenant_id]
        if channel:
            conditions.append(SubscriptionGroupRow.channel == channel)
        return await paginate(
            self._session,
            SubscriptionGroupRow,
            conditions,
            [SubscriptionGroupRow.created_at, SubscriptionGroupRow.id],
            page,
        )

    async def all(self, tenant_id: str) -> builtins.list[SubscriptionGroupRow]:
        """Every group of the tenant (a tenant has a handful), oldest first."""
        rows = await self._session.scalars(
            select(SubscriptionGroupRow)
            .where(SubscriptionGroupRow.tenant_id == tenant_id)
            .order_by(SubscriptionGroupRow.created_at, SubscriptionGroupRow.id)
        )
        return builtins.list(rows)

    async def named(
        self, tenant_id: str, ids: Sequence[uuid.UUID], names: Sequence[str]
    ) -> builtins.list[SubscriptionGroupRow]:
        """The tenant's groups among these ids or names (one query; identify traits name either)."""
        if not ids and not names:
            return []
        rows = await self._session.scalars(
            select(SubscriptionGroupRow).where(
                SubscriptionGroupRow.tenant_id == tenant_id,
                or_(SubscriptionGroupRow.id.in_(ids), SubscriptionGroupRow.name.in_(names)),
            )
        )
        return builtins.list(rows)

    async def default_for(self, tenant_id: str, channel: str) -> SubscriptionGroupRow | None:
        return await self._session.scalar(
            select(SubscriptionGroupRow).where(
                SubscriptionGroupRow.tenant_id == tenant_id,
                SubscriptionGroupRow.channel == channel,
                SubscriptionGroupRow.is_default,
            )
        )

    async def ensure_default(self, tenant_id: str, channel: str) -> SubscriptionGroupRow:
        """The channel's default group, created (OPT_OUT, named "<CHANNEL> (default)") when the tenant
        has none. In the caller's transaction: INSERT … ON CONFLICT DO NOTHING, then read, so that
        concurrent callers agree on one group (the partial unique index allows one default)."""
        found = await self.default_for(tenant_id, channel)
        if found is not None:
            return found
        # The plain name may be taken by a group that is not the default (renamed, or un-defaulted):
        # then the second attempt carries a distinguishing suffix.
        for name in (default_group_name(channel), f"{default_group_name(channel)} {uuid.uuid4().hex[:8]}"):
            await self._session.execute(
                insert(SubscriptionGroupRow)
                .values(
                    id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    name=name,
                    channel=channel,
                    type=OPT_OUT,
                    is_default=True,
                )
                .on_conflict_do_nothing()
            )
            found = await self.default_for(tenant_id, channel)
            if found is not None:
                return found
        raise ConflictError(f"could not create the default subscription group of {channel}; retry")

    async def add(self, row: SubscriptionGroupRow) -> None:
        self._session.add(row)
        await self._flush()

    async def clear_default(self, tenant_id: str, channel: str, *, keep: uuid.UUID | None = None) -> None:
        """The channel's default (other than `keep`) stops being the default."""
        conditions = [
            SubscriptionGroupRow.tenant_id == tenant_id,
            SubscriptionGroupRow.channel == channel,
            SubscriptionGroupRow.is_default,
        ]
        if keep is not None:
            conditions.append(SubscriptionGroupRow.id != keep)
        await self._session.execute(
            update(SubscriptionGroupRow).where(*conditions).values(is_default=False, updated_at=func.now())
        )

    async def save(self) -> None:
        """Write the changes made to loaded rows (a duplicate name is a ConflictError)."""
        await self._flush()

    async def delete(self, row: SubscriptionGroupRow) -> None:
        """The group and, by the foreign key's cascade, every customer's state in it."""
        await self._session.execute(delete(SubscriptionGroupRow).where(SubscriptionGroupRow.id == row.id))

    async def journey_using(self, tenant_id: str, group_id: uuid.UUID) -> JourneyRow | None:
        """A journey that is not archived and names the group on a SEND, in its draft or in any of its
        versions (a version a live enrollment may still run)."""
        uses = {"nodes": [{"config": {"subscriptionGroupId": str(group_id)}}]}
        in_a_version = select(JourneyVersionRow.journey_id).where(
            JourneyVersionRow.tenant_id == tenant_id, JourneyVersionRow.definition.contains(uses)
        )
        return await self._session.scalar(
            select(JourneyRow)
            .where(
                JourneyRow.tenant_id == tenant_id,
                JourneyRow.status != "ARCHIVED",
                JourneyRow.draft.contains(uses) | JourneyRow.id.in_(in_a_version),
            )
            .order_by(JourneyRow.created_at)
            .limit(1)
        )

    async def _flush(self) -> None:
        try:
            await self._session.flush()
        except IntegrityError as exc:
            if "uq_subscription_groups_name" in str(exc.orig):
                raise ConflictError("a subscription group of that name exists already") from None
            if "uq_subscription_groups_default" in str(exc.orig):
                raise ConflictError("the channel's default group changed meanwhile; retry") from None
            raise


@dataclass(frozen=True)
class SubscriptionChange:
    customer_id: str
    group_id: uuid.UUID
    subscribed: bool


@dataclass(frozen=True)
class GroupState:
    """A group and the customer's row in it, if any."""

    group: SubscriptionGroupRow
    row: CustomerSubscriptionRow | None


class CustomerSubscriptionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(
        self, tenant_id: str, customer_id: str, group_id: uuid.UUID
    ) -> CustomerSubscriptionRow | None:
        return await self._session.scalar(
            select(CustomerSubscriptionRow).where(
                CustomerSubscriptionRow.tenant_id == tenant_id,
                CustomerSubscriptionRow.customer_id == customer_id,
                CustomerSubscriptionRow.group_id == group_id,
            )
        )

    async def upsert(
        self, tenant_id: str, customer_id: str, group_id: uuid.UUID, subscribed: bool, source: str
    ) -> CustomerSubscriptionRow:
        """Set the customer's state in the group. Idempotent: a state that does not change keeps its
        `changed_at` and `source` (they say when and by what it last changed)."""
        await self.upsert_many(tenant_id, [SubscriptionChange(customer_id, group_id, subscribed)], source)
        row = await self._session.scalar(
            select(CustomerSubscriptionRow)
            .where(
                CustomerSubscriptionRow.tenant_id == tenant_id,
                CustomerSubscriptionRow.customer_id == customer_id,
                CustomerSubscriptionRow.group_id == group_id,
            )
            .execution_options(populate_existing=True)
        )
        assert row is not None  # written just above, in this transaction
        return row

    async def copy_customer(self, tenant_id: str, from_customer: str, to_customer: str) -> None:
        """An anonymous profile's choices, merged into the known customer's: per group, the later choice
        wins (an unsubscribe given before logging in holds after it). The anonymous rows stay, as its
        profile does, for the enrollments it already runs."""
        source = select(
            CustomerSubscriptionRow.tenant_id,
            literal(to_customer),
            CustomerSubscriptionRow.group_id,
            CustomerSubscriptionRow.subscribed,
            CustomerSubscriptionRow.source,
            CustomerSubscriptionRow.changed_at,
        ).where(
            CustomerSubscriptionRow.tenant_id == tenant_id,
            CustomerSubscriptionRow.customer_id == from_customer,
        )
        statement = insert(CustomerSubscriptionRow).from_select(
            ["tenant_id", "customer_id", "group_id", "subscribed", "source", "changed_at"], source
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    CustomerSubscriptionRow.tenant_id,
                    CustomerSubscriptionRow.customer_id,
                    CustomerSubscriptionRow.group_id,
                ],
                set_={
                    "subscribed": statement.excluded.subscribed,
                    "source": statement.excluded.source,
                    "changed_at": statement.excluded.changed_at,
                },
                where=CustomerSubscriptionRow.changed_at < statement.excluded.changed_at,
            )
        )

    async def upsert_many(self, tenant_id: str, changes: Sequence[SubscriptionChange], source: str) -> None:
        """`upsert` for many (customer, group) pairs in one statement; the last change of a pair wins."""
        last: dict[tuple[str, uuid.UUID], bool] = {}
        for change in changes:
            last[(change.customer_id, change.group_id)] = change.subscribed
        if not last:
            return
        statement = insert(CustomerSubscriptionRow).values(
            [
                {
                    "tenant_id": tenant_id,
                    "customer_id": customer_id,
                    "group_id": group_id,
                    "subscribed": subscribed,
                    "source": source,
                }
                for (customer_id, group_id), subscribed in sorted(
                    last.items(), key=lambda i: (i[0][0], str(i[0][1]))
                )
            ]
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    CustomerSubscriptionRow.tenant_id,
                    CustomerSubscriptionRow.customer_id,
                    CustomerSubscriptionRow.group_id,
                ],
                set_={
                    "subscribed": statement.excluded.subscribed,
                    "source": statement.excluded.source,
                    "changed_at": func.now(),
                },
                where=CustomerSubscriptionRow.subscribed.is_distinct_from(statement.excluded.subscribed),
            )
        )

    async def for_customer(self, tenant_id: str, customer_id: str) -> builtins.list[GroupState]:
        """Every group of the tenant with the customer's row in it (None: never chosen), oldest group
        first; one query."""
        rows = await self._session.execute(
            select(SubscriptionGroupRow, CustomerSubscriptionRow)
            .outerjoin(
                CustomerSubscriptionRow,
                and_(
                    CustomerSubscriptionRow.group_id == SubscriptionGroupRow.id,
                    CustomerSubscriptionRow.tenant_id == tenant_id,
                    CustomerSubscriptionRow.customer_id == customer_id,
                ),
            )
            .where(SubscriptionGroupRow.tenant_id == tenant_id)
            .order_by(SubscriptionGroupRow.created_at, SubscriptionGroupRow.id)
            .execution_options(populate_existing=True)
        )
        return [GroupState(group, row) for group, row in rows]
