"""What a recipient does with the links in an email (no login: the link's token is the credential).

- The unsubscribe link: see whether they receive the link's group (GET, nothing changes), and leave
  it (the one-click POST, source `unsubscribe_link`; idempotent).
- The preferences page: their state in every group of the link's group's channel, and changes to it
  (source `preferences`; only the groups whose state the form changes are written).

A link whose group was deleted names nothing any more: 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from delivery.unsubscribe import UnsubscribeClaim, UnsubscribeLinks
from domain.errors import FieldIssue, InvalidInputError, NotFoundError
from plumbing.settings import Settings
from services.subscriptions import SubscriptionService, SubscriptionState
from services.uow import UnitOfWork
from store.rows import SubscriptionGroupRow


def links_from_settings(settings: Settings) -> UnsubscribeLinks:
    """JOURNEYS_UNSUBSCRIBE_SECRET (dev mode: derived when unset), JOURNEYS_PUBLIC_URL (else the API's own
    URL) and JOURNEYS_UNSUBSCRIBE_MAILTO. RuntimeError outside dev mode without a secret."""
    return UnsubscribeLinks(
        settings.unsubscribe_key_material(), settings.public_base_url(), settings.unsubscribe_mailto
    )


@dataclass(frozen=True)
class Preferences:
    """The link's group and the customer's state in every group of its channel (oldest first)."""

    group: SubscriptionGroupRow
    states: list[SubscriptionState]


class UnsubscribeService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._subscriptions = SubscriptionService(uow)

    async def state(self, claim: UnsubscribeClaim) -> SubscriptionState:
        """The customer's state in the link's group (404 when the group is gone)."""
        for state in await self._subscriptions.states(claim.tenant_id, claim.customer_id):
            if state.group.id == claim.group_id:
                return state
        raise NotFoundError("subscription group", str(claim.group_id))

    async def unsubscribe(self, claim: UnsubscribeClaim) -> SubscriptionState:
        """Leave the link's group at once; again is the same (the first change keeps its time)."""
        return await self._subscriptions.set_state(
            claim.tenant_id, claim.customer_id, claim.group_id, False, "unsubscribe_link"
        )

    async def preferences(self, claim: UnsubscribeClaim) -> Preferences:
        states = await self._subscriptions.states(claim.tenant_id, claim.customer_id)
        group = next((s.group for s in states if s.group.id == claim.group_id), None)
        if group is None:
            raise NotFoundError("subscription group", str(claim.group_id))
        return Preferences(group, [s for s in states if s.group.channel == group.channel])

    async def set_preferences(
        self, claim: UnsubscribeClaim, shown: Sequence[str], chosen: Collection[str]
    ) -> Preferences:
        """The form's answer: `shown` the groups the page listed (`group` fields), `chosen` those left
        ticked (`subscribed` fields). A group not listed is left alone; one that is not of the link's
        channel (or not the tenant's, or not an id) is a 422 naming the field."""
        current = await self.preferences(claim)
        by_id = {str(s.group.id): s for s in current.states}
        wanted: dict[str, bool] = {}
        issues: list[FieldIssue] = []
        for field, values in (("group", shown), ("subscribed", chosen)):
            for index, value in enumerate(values):
                key = _canonical(value)
                if key not in by_id:
                    issues.append(FieldIssue(("body", field, index), "not one of this page's groups"))
        if issues:
            raise InvalidInputError(issues)
        ticked = {_canonical(value) for value in chosen}
        for value in shown:
            key = _canonical(value)
            wanted[key] = key in ticked
        for key, subscribed in wanted.items():
            if by_id[key].subscribed != subscribed:
                await self._subscriptions.set_state(
                    claim.tenant_id, claim.customer_id, uuid.UUID(key), subscribed, "preferences"
                )
        return await self.preferences(claim)


def _canonical(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value
