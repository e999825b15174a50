"""Lifecycle changes reaching running enrollments.

- `JourneyControlReader.read_journey_control`: what an enrollment asks (a local activity) before a wait's
  end moves it on to another node — is its journey paused with mode `all`? Answered from a per-process
  cache of each journey's state, read again once older than `JOURNEYS_CONTROL_CACHE_SECONDS`; concurrent
  misses share one SELECT. This is what holds every enrollment within seconds of a pause.
- `ControlActivities.signal_enrollments`: one signal per ACTIVE enrollment of a journey — pause (hold, a
  nudge: the read above already holds them), resume (release), archive (exit). Pages of the projection are
  read while the previous one is signalled, with a constant number of signals in flight across pages.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.lifecycle import holds_in_flight
from domain.payloads import (
    SIGNAL_EXIT,
    SIGNAL_PAUSE,
    SIGNAL_RESUME,
    ControlSignal,
    JourneyControl,
    JourneyControlRequest,
    SignalBatchRequest,
    SignalBatchResult,
)
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.journeys import JourneyRepository
from store.rows import EnrollmentRow

SIGNAL_ENROLLMENTS = "signal_enrollments"
READ_JOURNEY_CONTROL = "read_journey_control"
SIGNAL_FOR = {"hold": SIGNAL_PAUSE, "release": SIGNAL_RESUME, "exit": SIGNAL_EXIT}
REASON_FOR = {"hold": "journey paused", "release": "journey resumed", "exit": "journey archived"}
CONCURRENCY = 64
# Cache entries kept at most (journeys read by this worker); expired ones are dropped past it.
CACHE_ENTRIES = 4096
# Added to the cache time before a release's first signal (clocks and the read's own duration).
SETTLE_MARGIN_SECONDS = 0.5


class JourneyControlReader:
    """Each journey's control state as enrollments read it, from a per-process cache.

    An answer is at most `ttl_seconds` old: an entry is stamped with the time its SELECT began, so a
    read that straddles a commit expires as if it were taken before it.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, bool]] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[bool]] = {}
        self.reads = 0  # SELECTs issued (tests and benchmarks look)

    @activity.defn(name=READ_JOURNEY_CONTROL)
    async def read_journey_control(self, request: JourneyControlRequest) -> JourneyControl:
        return JourneyControl(held=await self.held(request.tenant_id, request.journey_id))

    async def held(self, tenant_id: str, journey_id: str) -> bool:
        """Whether the journey holds its in-flight enrollments (paused with mode `all`)."""
        key = (tenant_id, journey_id)
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry[0] < self._ttl:
            return entry[1]
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(self._load(key, self._clock()))
            self._loading[key] = loading
            loading.add_done_callback(lambda _: self._loading.pop(key, None))
        # Shielded: one caller cancelled (its activity timed out) must not cancel the others' read.
        return await asyncio.shield(loading)

    async def _load(self, key: tuple[str, str], started: float) -> bool:
        tenant_id, journey_id = key
        try:
            journey = uuid.UUID(journey_id)
        except ValueError:
            return False  # no such journey: nothing holds
        self.reads += 1
        state = await self._read_state(tenant_id, journey)
        held = state is not None and holds_in_flight(*state)
        if len(self._entries) >= CACHE_ENTRIES:
            self._entries = {k: v for k, v in self._entries.items() if started - v[0] < self._ttl}
        self._entries[key] = (started, held)
        return held

    async def _read_state(self, tenant_id: str, journey_id: uuid.UUID) -> tuple[str, str | None] | None:
        async with self._sessions() as session:
            return await JourneyRepository(session).control_state(tenant_id, journey_id)


@dataclass
class _Page:
    last_id: str
    size: int
    left: int


@dataclass
class _Progress:
    """The last enrollment of the pages signalled whole so far, and how many they held."""

    cursor: str | None
    signalled: int


class ControlActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: Client,
        *,
        concurrency: int = CONCURRENCY,
        settle_seconds: float = 0.0,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._concurrency = concurrency
        # A release waits this long before its first signal (the cache time plus a margin): an enrollment
        # that read "held" from a worker's cache just after the resume committed has paused itself by
        # then, and the `resume` signal that follows reaches it.
        self._settle_seconds = settle_seconds

    @activity.defn(name=SIGNAL_ENROLLMENTS)
    async def signal_enrollments(self, request: SignalBatchRequest) -> SignalBatchResult:
        """Signal the journey's ACTIVE enrollments (the projection lists them) from a cursor: one page,
        or (`stream_seconds`) page after page for about that long. Progress is heartbeated, so a retry
        picks up after the last page signalled whole."""
        if request.stream_seconds is None:
            return await self._one_page(request)
        details = activity.info().heartbeat_details  # (cursor, signalled) from an earlier attempt
        progress = _Progress(request.after_enrollment_id, 0)
        if len(details) == 2:
            progress = _Progress(details[0] or request.after_enrollment_id, int(details[1]))
        elif request.instruction == "release" and progress.cursor is None:
            await asyncio.sleep(self._settle_seconds)
        return await self._stream(request, progress)

    async def _one_page(self, request: SignalBatchRequest) -> SignalBatchResult:
        """As requests recorded before streaming asked: one page, answered when it is signalled."""
        if request.instruction == "release" and request.after_enrollment_id is None:
            await asyncio.sleep(self._settle_seconds)
        rows = await self._page(request, request.after_enrollment_id, request.batch_size)
        gate = asyncio.Semaphore(self._concurrency)

        async def deliver(workflow_id: str) -> None:
            async with gate:
                await self._signal(request, workflow_id)

        await asyncio.gather(*(deliver(row.workflow_id) for row in rows))
        activity.heartbeat(len(rows))
        return SignalBatchResult(signalled=len(rows), last_enrollment_id=str(rows[-1].id) if rows else None)

    async def _stream(self, request: SignalBatchRequest, progress: _Progress) -> SignalBatchResult:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (request.stream_seconds or 0.0)
        # Ids waiting for a sender: bounded, so the next page is read while this one is signalled, not
        # the whole journey ahead of the signals.
        queue: asyncio.Queue[tuple[_Page, str] | None] = asyncio.Queue(maxsize=self._concurrency)
        pages: deque[_Page] = deque()
        done = False

        async def read() -> None:
            nonlocal done
            after = progress.cursor
            while True:
                rows = await self._page(request, after, request.batch_size)
                if rows:
                    page = _Page(str(rows[-1].id), len(rows), len(rows))
                    pages.append(page)
                    for row in rows:
                        await queue.put((page, row.workflow_id))
                    after = page.last_id
                if len(rows) < request.batch_size:
                    done = True
                    break
                if loop.time() >= deadline:
                    break
            for _ in range(self._concurrency):
                await queue.put(None)

        async def send() -> None:
            while (item := await queue.get()) is not None:
                page, workflow_id = item
                await self._signal(request, workflow_id)
                page.left -= 1
                while pages and pages[0].left == 0:  # pages finish in order, as a whole
                    finished = pages.popleft()
                    progress.cursor = finished.last_id
                    progress.signalled += finished.size
                activity.heartbeat(progress.cursor, progress.signalled)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(read())
                for _ in range(self._concurrency):
                    group.create_task(send())
        except BaseExceptionGroup as failures:
            raise failures.exceptions[0] from None
        return SignalBatchResult(signalled=progress.signalled, last_enrollment_id=progress.cursor, done=done)

    async def _page(self, request: SignalBatchRequest, after: str | None, limit: int) -> list[EnrollmentRow]:
        async with self._sessions() as session:
            return await EnrollmentRepository(session).active_page(
                request.tenant_id,
                uuid.UUID(request.journey_id),
                after=uuid.UUID(after) if after else None,
                limit=limit,
            )

    async def _signal(self, request: SignalBatchRequest, workflow_id: str) -> None:
        payload = ControlSignal(reason=REASON_FOR[request.instruction])
        try:
            await self._client.get_workflow_handle(workflow_id).signal(
                SIGNAL_FOR[request.instruction], payload
            )
        except RPCError as error:
            # Already finished (its final projection is still in flight): nothing to reach.
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
