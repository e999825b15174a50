"""Who a customer is: identifiers, anonymous profiles, and merging an anonymous profile into a known one.

- A userId names the customer whose id it is (as in `PUT /v1/customers/{id}`).
- An anonymousId seen alone names the customer it was last seen with, or a new anonymous profile
  `anon-<anonymousId>`.
- An anonymousId seen with a userId is merged into that customer: its identifiers, events and segment
  assignments move over, its traits go under the known customer's, and its subscription choices join
  the known customer's (per group, the later choice wins). The anonymous profile itself is
  kept (enrollments it already runs carry on with it), so nothing is lost.
- identify traits `email`, `phone`, `cookie`, `externalContactId` become identifiers too (emails
  lower-cased); an identifier points at the latest customer it was seen with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.errors import NotFoundError
from domain.segments import IDENTIFIER_KINDS
from services.uow import UnitOfWork
from store.repositories.customers import CustomerRepository
from store.repositories.events import EventRepository
from store.repositories.identifiers import IdentifierRepository
from store.repositories.segments import AssignmentRepository
from store.repositories.subscriptions import CustomerSubscriptionRepository

ANONYMOUS_PREFIX = "anon-"
EXTERNAL_CONTACT_PREFIX = "ext-"
TRAIT_IDENTIFIERS = ("email", "phone", "cookie", "externalContactId")


@dataclass(frozen=True)
class ResolvedCustomer:
    customer_id: str
    # Known only by an anonymousId (journeys that do not allow anonymous customers skip it).
    anonymous: bool


def identifier_value(kind: str, value: Any) -> str | None:
    """The stored form of an identifier (None when the trait is not a usable string)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    if not text or len(text) > 256:
        return None
    return text.lower() if kind == "email" else text


class CustomerIdentity:
    def __init__(self, uow: UnitOfWork) -> None:
        self._identifiers = IdentifierRepository(uow.session)
        self._customers = CustomerRepository(uow.session)
        self._events = EventRepository(uow.session)
        self._assignments = AssignmentRepository(uow.session)
        self._subscriptions = CustomerSubscriptionRepository(uow.session)

    async def lookup(self, tenant_id: str, user_id: str | None, anonymous_id: str | None) -> ResolvedCustomer:
        """Read-only: the customer an event is about (merging happens in `settle`)."""
        if user_id is not None:
            return ResolvedCustomer(user_id, anonymous=False)
        assert anonymous_id is not None
        owner = await self._identifiers.resolve(tenant_id, "anonymousId", anonymous_id)
        if owner is None:
            return ResolvedCustomer(ANONYMOUS_PREFIX + anonymous_id, anonymous=True)
        return ResolvedCustomer(owner, anonymous=await self.is_anonymous(tenant_id, owner))

    async def settle(
        self, tenant_id: str, user_id: str | None, anonymous_id: str | None, customer_id: str
    ) -> None:
        """Create the profile if new, record the event's ids, merge an anonymous profile into a known one."""
        await self._customers.ensure_exists(tenant_id, customer_id)
        if user_id is not None:
            await self._identifiers.record(tenant_id, "userId", user_id, customer_id)
        if anonymous_id is None:
            return
        owner = await self._identifiers.resolve(tenant_id, "anonymousId", anonymous_id)
        known = user_id is not None
        if known and owner is not None and owner != customer_id and await self.is_anonymous(tenant_id, owner):
            await self.merge(tenant_id, owner, customer_id)
        await self._identifiers.record(tenant_id, "anonymousId", anonymous_id, customer_id)

    async def record_traits(self, tenant_id: str, customer_id: str, traits: dict[str, Any]) -> None:
        for kind in TRAIT_IDENTIFIERS:
            value = identifier_value(kind, traits.get(kind))
            if value is not None:
                await self._identifiers.record(tenant_id, kind, value, customer_id)

    async def merge(self, tenant_id: str, anonymous_customer: str, known_customer: str) -> None:
        anonymous_traits = await self._customers.traits(tenant_id, anonymous_customer) or {}
        known_traits = await self._customers.traits_for_update(tenant_id, known_customer)
        await self._customers.set_traits(tenant_id, known_customer, {**anonymous_traits, **known_traits})
        await self._identifiers.repoint(tenant_id, anonymous_customer, known_customer)
        await self._events.repoint_customer(tenant_id, anonymous_customer, known_customer)
        await self._assignments.move_customer(tenant_id, anonymous_customer, known_customer)
        await self._subscriptions.copy_customer(tenant_id, anonymous_customer, known_customer)

    async def is_anonymous(self, tenant_id: str, customer_id: str) -> bool:
        """Seen with an anonymousId and never with a userId."""
        return not await self._identifiers.has_kind(
            tenant_id, customer_id, "userId"
        ) and await self._identifiers.has_kind(tenant_id, customer_id, "anonymousId")

    async def resolve(self, tenant_id: str, kind: str, value: str) -> str:
        """The customer an identifier names (a userId may also be a profile id given to PUT); else 404."""
        stored = identifier_value(kind, value) or value
        owner = await self._identifiers.resolve(tenant_id, kind, stored)
        if owner is None and kind == "userId" and await self._customers.get(tenant_id, value) is not None:
            owner = value
        if owner is None:
            raise NotFoundError(f"customer with {kind}", value)
        return owner

    async def external_contact(self, tenant_id: str, external_id: str) -> str:
        """The customer of an external contact, created (`ext-<id>`) when first named."""
        owner = await self._identifiers.resolve(tenant_id, "externalContactId", external_id)
        if owner is not None:
            return owner
        customer_id = EXTERNAL_CONTACT_PREFIX + external_id
        await self._customers.ensure_exists(tenant_id, customer_id)
        await self._identifiers.record(tenant_id, "externalContactId", external_id, customer_id)
        return customer_id

    async def identifiers(self, tenant_id: str, customer_id: str) -> dict[str, list[str]]:
        """Every kind, each a list (a merged customer may have several anonymousIds)."""
        found: dict[str, list[str]] = {kind: [] for kind in IDENTIFIER_KINDS}
        for kind, value in await self._identifiers.of_customer(tenant_id, customer_id):
            found.setdefault(kind, []).append(value)
        return found


@dataclass(frozen=True)
class CallIdentity:
    """Who one call of a batch is about, and the anonymous profile it merges (if it does)."""

    customer_id: str
    anonymous: bool
    merges: str | None = None


@dataclass(frozen=True)
class CallIds:
    user_id: str | None
    anonymous_id: str | None
    previous_id: str | None = None  # alias: the identity that becomes `user_id`


async def resolve_batch(
    identifiers: IdentifierRepository, tenant_id: str, calls: list[CallIds]
) -> list[CallIdentity]:
    """The rules above for a whole batch, in two queries: walked in order, so that a later call of the
    batch sees the links an earlier one made (anonymous, then identify, then anonymous again)."""
    anonymous_ids = {c.anonymous_id for c in calls if c.anonymous_id} | {
        c.previous_id for c in calls if c.previous_id
    }
    owners = await identifiers.resolve_many(tenant_id, "anonymousId", sorted(anonymous_ids))
    known = await identifiers.customers_with_kind(tenant_id, sorted(set(owners.values())), "userId")
    resolved: list[CallIdentity] = []
    for call in calls:
        if call.user_id is not None:
            customer, merges = call.user_id, None
            known.add(customer)
            for linked in (call.anonymous_id, call.previous_id):
                if linked is None:
                    continue
                owner = owners.get(linked)
                if owner is not None and owner != customer and owner not in known:
                    merges = owner
                owners[linked] = customer
            resolved.append(CallIdentity(customer, anonymous=False, merges=merges))
            continue
        assert call.anonymous_id is not None, "a call names a userId or an anonymousId"
        owner = owners.setdefault(call.anonymous_id, ANONYMOUS_PREFIX + call.anonymous_id)
        resolved.append(CallIdentity(owner, anonymous=owner not in known))
    return resolved


def identifier_records(customer_id: str, ids: CallIds, traits: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, value, customer) a call records: its ids, and identifiers found among its traits."""
    records: list[tuple[str, str, str]] = []
    if ids.user_id is not None:
        records.append(("userId", ids.user_id, customer_id))
    for linked in (ids.anonymous_id, ids.previous_id):
        if linked is not None:
            records.append(("anonymousId", linked, customer_id))
    for kind in TRAIT_IDENTIFIERS:
        value = identifier_value(kind, traits.get(kind))
        if value is not None:
            records.append((kind, value, customer_id))
    return records
