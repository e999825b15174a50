"""What a process keeps of published journeys between requests.

- `VersionCache`: parsed definitions by (journey, version). A published version's graph never changes,
  but its SEND destinations may be re-pointed in place (`PATCH …/destinations`): each lookup reads the
  stored definitions' digests (one primary-key query) and re-reads only a copy that changed. The cache
  is bounded and forgets the least recently used.
- `LiveTriggers`: per tenant, the published journeys with an EVENT trigger, indexed by the event name
  they answer to. Each batch reads the tenant's (journey, live version) list once — one indexed query —
  and rebuilds the index only when that list changed (a publish, pause, resume, unpublish, archive), so
  every process sees a lifecycle change from its next batch on, without a message bus.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.definition import JourneyDefinition, TriggerConfig
from store.repositories.triggers import TriggerRepository

VersionKey = tuple[uuid.UUID, int]


@dataclass(frozen=True)
class LiveVersion:
    journey_id: uuid.UUID
    version: int
    name: str
    definition: JourneyDefinition

    @property
    def trigger(self) -> TriggerConfig:
        return self.definition.trigger().config


class VersionCache:
    def __init__(self, capacity: int = 2048) -> None:
        self._capacity = capacity
        self._parsed: OrderedDict[VersionKey, tuple[str, JourneyDefinition]] = OrderedDict()

    async def get_many(
        self, session: AsyncSession, keys: list[VersionKey], digests: dict[VersionKey, str] | None = None
    ) -> dict[VersionKey, JourneyDefinition]:
        """`digests`: the stored definitions' digests when the caller just read them (not read again)."""
        triggers = TriggerRepository(session)
        if digests is None:
            digests = await triggers.digests(keys) if keys else {}
        stale = [k for k, digest in digests.items() if k not in self._parsed or self._parsed[k][0] != digest]
        if stale:
            for key, (digest, raw) in (await triggers.definitions(stale)).items():
                self._remember(key, digest, JourneyDefinition.model_validate(raw))
        found: dict[VersionKey, JourneyDefinition] = {}
        for key in keys:
            cached = self._parsed.get(key)
            if cached is not None and key in digests:
                self._parsed.move_to_end(key)
                found[key] = cached[1]
        return found

    def _remember(self, key: VersionKey, digest: str, definition: JourneyDefinition) -> None:
        self._parsed[key] = (digest, definition)
        self._parsed.move_to_end(key)
        while len(self._parsed) > self._capacity:
            self._parsed.popitem(last=False)


@dataclass(frozen=True)
class _TenantIndex:
    fingerprint: tuple[tuple[uuid.UUID, int, str, str], ...]
    by_event: dict[str, list[LiveVersion]]


class LiveTriggers:
    def __init__(self, versions: VersionCache) -> None:
        self._versions = versions
        self._tenants: dict[str, _TenantIndex] = {}

    async def event_journeys(self, session: AsyncSession, tenant_id: str) -> dict[str, list[LiveVersion]]:
        """Published EVENT-triggered journeys of the tenant by trigger event name, current as of now."""
        published = tuple(await TriggerRepository(session).published_versions(tenant_id))
        cached = self._tenants.get(tenant_id)
        if cached is not None and cached.fingerprint == published:
            return cached.by_event
        digests = {(j, v): digest for j, v, _, digest in published}
        definitions = await self._versions.get_many(session, list(digests), digests)
        by_event: dict[str, list[LiveVersion]] = {}
        for journey_id, version, name, _ in published:
            definition = definitions.get((journey_id, version))
            if definition is None:
                continue
            live = LiveVersion(journey_id, version, name, definition)
            trigger = live.trigger
            if trigger.trigger_type == "EVENT" and trigger.event:
                by_event.setdefault(trigger.event, []).append(live)
        self._tenants[tenant_id] = _TenantIndex(published, by_event)
        return by_event


# One per process: the API's batches and the dispatcher's starts share it.
VERSIONS = VersionCache()
LIVE_TRIGGERS = LiveTriggers(VERSIONS)
