"""The Segment tracking API's use case: a source's calls in, each valid one ingested, each bad one kept aside.

One bad call never loses the others: every call is read on its own (`services.segment_spec`); the valid
ones go through the ingestion pipeline together, in the request's transaction, tagged with the source;
each refused one is stored in `event_rejections` (tenant, source, its index in the request, its
messageId when it has a usable one, the reason, and a quote of the call cut to ~2 KB — as text, since a
call holding NaN or nested 5000 deep cannot be JSONB — without its write key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.event_limits import EventIssue, excerpt
from services.ingestion import EventOutcome, IncomingEvent, IngestionService
from services.segment_spec import (
    NO_DEFAULTS,
    BatchDefaults,
    CallRejectedError,
    message_id_of,
    parse_call,
    without_secrets,
)
from services.sources import SourceService
from services.temporal import EnrollmentGateway
from services.uow import UnitOfWork
from store.repositories.sources import EventRejectionRepository, NewRejection
from store.rows import SourceRow


@dataclass(frozen=True)
class RejectedCall:
    index: int
    issue: EventIssue


@dataclass(frozen=True)
class TrackingResult:
    events: list[IncomingEvent]
    outcomes: list[EventOutcome]
    rejected: list[RejectedCall]


class TrackingService:
    def __init__(self, uow: UnitOfWork, gateway: EnrollmentGateway) -> None:
        self._uow = uow
        self._gateway = gateway
        self._sources = SourceService(uow)
        self._rejections = EventRejectionRepository(uow.session)

    async def authenticate(self, write_key: str) -> SourceRow:
        return await self._sources.authenticate(write_key)

    async def accept(
        self,
        source: SourceRow,
        calls: Sequence[Any],
        *,
        received_at: datetime,
        kind: str | None = None,
        defaults: BatchDefaults = NO_DEFAULTS,
    ) -> TrackingResult:
        """Ingest every call that can be read; record the others. `kind`: the type the route implies."""
        events: list[IncomingEvent] = []
        rejected: list[RejectedCall] = []
        for index, call in enumerate(calls):
            try:
                events.append(parse_call(call, received_at=received_at, kind=kind, defaults=defaults))
            except CallRejectedError as refused:
                rejected.append(RejectedCall(index, refused.issue))
        await self._record(source, calls, rejected, received_at)
        outcomes: list[EventOutcome] = []
        if events:
            outcomes = await IngestionService(self._uow, self._gateway).ingest(
                source.tenant_id, events, source_id=source.id
            )
        return TrackingResult(events=events, outcomes=outcomes, rejected=rejected)

    async def refuse(self, source: SourceRow, call: Any, issue: EventIssue, *, received_at: datetime) -> None:
        """Record a single call refused before it could be read (e.g. over the size limit)."""
        await self._record(source, [call], [RejectedCall(0, issue)], received_at)

    async def _record(
        self, source: SourceRow, calls: Sequence[Any], rejected: Sequence[RejectedCall], received_at: datetime
    ) -> None:
        await self._rejections.add_many(
            source.tenant_id,
            source.id,
            [
                NewRejection(
                    batch_index=r.index,
                    message_id=message_id_of(calls[r.index]),
                    code=r.issue.code,
                    reason=r.issue.message,
                    excerpt=excerpt(without_secrets(calls[r.index])),
                )
                for r in rejected
            ],
            received_at=received_at,
        )
