"""Customer profiles: traits, identifiers, and the customer's enrollments across journeys."""

from __future__ import annotations

import uuid
from typing import Any

from domain.errors import NotFoundError
from domain.payloads import TraitsSignal
from services.identity import CustomerIdentity
from services.uow import UnitOfWork
from store.repositories.customer_enrollments import CustomerEnrollmentRepository
from store.repositories.customers import CustomerRepository
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.outbox import OutboxEntry, OutboxRepository
from store.repositories.pagination import Page, PageRequest
from store.rows import CustomerRow, EnrollmentRow

# The traits an enrollment keeps in its state (`domain.nodes.send`: the customer's clock): a profile update
# that changes one signals the customer's ACTIVE enrollments (outbox rows of this kind; an identify call
# reaches them as an event carrying its traits instead).
TRAITS = "traits"
CLOCK_TRAITS = ("timezone",)


class CustomerService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._customers = CustomerRepository(uow.session)
        self._identity = CustomerIdentity(uow)
        self._enrollments = CustomerEnrollmentRepository(uow.session)
        self._session = uow.session

    async def get(self, tenant_id: str, customer_id: str) -> CustomerRow:
        row = await self._customers.get(tenant_id, customer_id)
        if row is None:
            raise NotFoundError("customer", customer_id)
        return row

    async def identifiers(self, tenant_id: str, customer_id: str) -> dict[str, list[str]]:
        """userId, anonymousId, email, phone, cookie, externalContactId: each a list (maybe empty)."""
        return await self._identity.identifiers(tenant_id, customer_id)

    async def replace_traits(self, tenant_id: str, customer_id: str, traits: dict[str, Any]) -> CustomerRow:
        before = await self._customers.get(tenant_id, customer_id)
        before_traits = dict(before.traits or {}) if before is not None else {}
        row = await self._customers.upsert(tenant_id, customer_id, traits, merge=False)
        await self._signal_clock(tenant_id, customer_id, before_traits, row)
        return row

    async def merge_traits(self, tenant_id: str, customer_id: str, traits: dict[str, Any]) -> CustomerRow:
        before = dict((await self.get(tenant_id, customer_id)).traits or {})
        row = await self._customers.upsert(tenant_id, customer_id, traits, merge=True)
        await self._signal_clock(tenant_id, customer_id, before, row)
        return row

    async def _signal_clock(
        self, tenant_id: str, customer_id: str, before: dict[str, Any], row: CustomerRow
    ) -> None:
        """A changed `timezone` reaches the customer's ACTIVE enrollments (a held send is recomputed)."""
        after = dict(row.traits or {})
        changed = {k: after.get(k) for k in CLOCK_TRAITS if before.get(k) != after.get(k)}
        if not changed:
            return
        active = await EnrollmentRepository(self._session).active_of_customers(tenant_id, [customer_id])
        payload = TraitsSignal(traits=changed).model_dump(mode="json")
        await OutboxRepository(self._session).add(
            [
                OutboxEntry(tenant_id, customer_id, TRAITS, a.workflow_id, str(uuid.uuid4()), payload)
                for a in active
            ]
        )

    async def enrollments(
        self, tenant_id: str, customer_id: str, page: PageRequest, status: str | None
    ) -> Page[EnrollmentRow]:
        await self.get(tenant_id, customer_id)
        return await self._enrollments.list(tenant_id, customer_id, page, status=status)
