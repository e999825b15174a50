"""Work after commit, many at a time: workflow starts and signals an event or a segment entry causes.

`UnitOfWork.after_commit` runs actions one after another; a batch of events can produce hundreds. A
`Deferred` unit of work shares the request's session but collects those actions, and `bounded` turns
them into one after-commit action that runs them with limited concurrency: every start first, then
every signal (an existing enrollment whose start is being retried must exist before it is signalled).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.uow import AfterCommit, EnrollmentStart, UnitOfWork

logger = logging.getLogger(__name__)
CONCURRENCY = 16


@dataclass
class Deferred(UnitOfWork):
    """The caller's session; after-commit work is collected, not scheduled."""

    collected: list[AfterCommit] = field(default_factory=list)

    def after_commit(self, action: AfterCommit) -> None:
        self.collected.append(action)


def bounded(*phases: Sequence[AfterCommit], limit: int = CONCURRENCY) -> AfterCommit:
    """One action running each phase's actions concurrently (at most `limit` at once), phase by phase.

    Every action is tried; the first failure is raised afterwards (e.g. Temporal unavailable → 503).
    """

    async def run() -> None:
        gate = asyncio.Semaphore(limit)

        async def guarded(action: AfterCommit) -> None:
            async with gate:
                await action()

        failures: list[BaseException] = []
        for phase in phases:
            results = await asyncio.gather(*(guarded(a) for a in phase), return_exceptions=True)
            failures.extend(r for r in results if isinstance(r, BaseException))
        for failure in failures[1:]:
            logger.warning("after-commit action failed: %r", failure)
        if failures:
            raise failures[0]

    return run


@dataclass
class CollectedStarts(Deferred):
    """The caller's session; enrollment starts are kept as data (the ingestion writes them to the
    dispatch outbox), other after-commit work is collected as in `Deferred`."""

    starts: list[EnrollmentStart] = field(default_factory=list)

    def start_enrollment(self, start: EnrollmentStart, gateway: object) -> None:
        self.starts.append(start)
