"""The unit of work a request (or a job) runs in: one session, and work to do after commit.

Work after commit runs in phases, one phase after the other:

1. `starts` — workflow starts (an event, a segment entry or an audience page can ask for hundreds):
   independent of each other, so they run concurrently, at most `concurrency` at once;
2. `signals` — signals to running workflows, concurrently as well; after every start, since an
   enrollment whose start is being re-issued must exist before it is signalled;
3. `effects` — everything else (log lines, schedules, control runs), one at a time in the order asked.

Every action is tried, whatever happened to the others; the first failure is raised afterwards (e.g.
Temporal unavailable → 503; what was committed stays, and a retried request finds it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from domain.payloads import EnrollmentInput

if TYPE_CHECKING:
    from services.temporal import EnrollmentGateway

logger = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]
Phase = Literal["starts", "signals", "effects"]
PHASES: tuple[Phase, ...] = ("starts", "signals", "effects")
CONCURRENT: frozenset[Phase] = frozenset({"starts", "signals"})
CONCURRENCY = 16


@dataclass(frozen=True)
class EnrollmentStart:
    """A workflow start an entry asks for: carried out after the commit, or written to the outbox."""

    workflow_id: str
    payload: EnrollmentInput


@dataclass
class UnitOfWork:
    session: AsyncSession
    concurrency: int = CONCURRENCY
    _after_commit: dict[Phase, list[AfterCommit]] = field(default_factory=dict, init=False)
    _held_starts: list[EnrollmentStart] | None = field(default=None, init=False)

    def after_commit(self, action: AfterCommit, *, phase: Phase = "effects") -> None:
        """Defer work that must only happen once the data is durable (e.g. starting a workflow)."""
        self._after_commit.setdefault(phase, []).append(action)

    def start_enrollment(self, start: EnrollmentStart, gateway: EnrollmentGateway) -> None:
        """Start the enrollment's workflow once the entry is committed (idempotent: deterministic id).

        Inside `holding_starts()` the start is kept as data instead, for the caller to write.
        """
        if self._held_starts is not None:
            self._held_starts.append(start)
            return

        async def run() -> None:
            await gateway.start(start.workflow_id, start.payload)

        self.after_commit(run, phase="starts")

    @contextmanager
    def holding_starts(self) -> Iterator[list[EnrollmentStart]]:
        """Within: the workflow starts entries ask for are appended to the list yielded, not run after
        commit (the event ingestion writes them to the dispatch outbox, in this transaction)."""
        outer, self._held_starts = self._held_starts, []
        try:
            yield self._held_starts
        finally:
            self._held_starts = outer

    async def commit(self) -> None:
        await self.session.commit()
        pending, self._after_commit = self._after_commit, {}
        failures: list[BaseException] = []
        for phase in PHASES:
            actions = pending.get(phase, [])
            if phase in CONCURRENT:
                failures.extend(await _concurrently(actions, self.concurrency))
            else:
                failures.extend(await _in_order(actions))
        for failure in failures[1:]:
            logger.warning("after-commit action failed: %r", failure)
        if failures:
            raise failures[0]


async def _concurrently(actions: Sequence[AfterCommit], limit: int) -> list[BaseException]:
    if len(actions) == 1:
        return await _in_order(actions)
    gate = asyncio.Semaphore(limit)

    async def guarded(action: AfterCommit) -> None:
        async with gate:
            await action()

    results = await asyncio.gather(*(guarded(a) for a in actions), return_exceptions=True)
    return [r for r in results if isinstance(r, BaseException)]


async def _in_order(actions: Sequence[AfterCommit]) -> list[BaseException]:
    failures: list[BaseException] = []
    for action in actions:
        try:
            await action()
        except Exception as exc:  # noqa: BLE001 — every action is tried; the caller raises the first
            failures.append(exc)
    return failures
