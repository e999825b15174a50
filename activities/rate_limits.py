"""The journey's send rate limit (`settings.rateLimit: {perMinute}`): sends over it wait their turn.

`RateGate.admission` wraps the claim of a message (`activities.sending.Claims.claim`). Under an advisory
lock on the journey it counts the journey's messages admitted (claimed, not suppressed) in the last
minute; while the count is under `perMinute` the claim runs with the lock still held, so the next send
of the journey counts it. When the minute is full the attempt raises a retryable `ApplicationError` of
type `RateLimited` whose `next_retry_delay` is when a slot frees: nothing is written, nothing is dropped,
and the send's retry policy brings the attempt back then. A retried attempt of a message already claimed
passes straight through (it keeps its admission).

On the lean path the send is a local activity: a retry delay up to the SDK's local retry threshold (a
minute) would be slept in the worker while the workflow task is kept open with heartbeats, so a wait is
at least `LOCAL_TIMER_FLOOR`, which the SDK turns into a durable workflow timer instead (no slot held,
two events per wait). A little jitter spreads a backlog that would otherwise wake all at once.

The bound: a send waits at most its schedule-to-close (a day, `workflows.enrollment.SEND_SCHEDULE_TO_CLOSE`),
so a journey can clear at most 1440 × perMinute sends of one burst within a day; the rest fail (the
SEND's `onFailure` decides). As an ordinary activity, a send whose next try would fall past its horizon
fails at once as `RateLimitBacklog`, saying so. A local activity does not learn when its first attempt
was scheduled (the SDK gives each re-schedule after a timer its own `scheduled_time`), so on the lean
path the horizon ends as the send's ScheduleToClose timeout; every wait before it is logged.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.payloads import SendRequest
from store.repositories.send_rates import RateWindow, SendRateRepository

RATE_LIMITED = "RateLimited"
RATE_LIMIT_BACKLOG = "RateLimitBacklog"
WINDOW = timedelta(minutes=1)
# Just over the SDK's default local retry threshold (1 minute): longer backoffs become workflow timers.
LOCAL_TIMER_FLOOR = timedelta(seconds=61)
# Up to this share of the window is added at random, so waiters do not all come back in the same instant.
JITTER_SHARE = 0.25


@dataclass(frozen=True)
class Attempt:
    """What the gate knows of the attempt: whether it is a local activity, and its horizon (when the
    send's schedule-to-close ends; None when unknown)."""

    local: bool
    deadline: datetime | None

    @staticmethod
    def current() -> Attempt:
        if not activity.in_activity():
            return Attempt(local=False, deadline=None)
        info = activity.info()
        deadline = None
        # An ordinary activity's `scheduled_time` is its first attempt's; a local one's is the latest
        # re-schedule's (after a backoff timer), which says nothing of the horizon.
        if info.schedule_to_close_timeout and info.scheduled_time and not info.is_local:
            deadline = info.scheduled_time + info.schedule_to_close_timeout
        return Attempt(local=info.is_local, deadline=deadline)


def wait_for_slot(window: RateWindow, *, floor: timedelta, jitter: timedelta) -> timedelta:
    """How long a refused send waits: until a slot frees, at least `floor`, plus `jitter`."""
    frees_in = timedelta(0) if window.frees_at is None else window.frees_at - window.now
    return max(frees_in, floor, timedelta(0)) + jitter


def refusal(
    per_minute: int, window: RateWindow, wait: timedelta, deadline: datetime | None, now: datetime
) -> ApplicationError:
    """The error that makes the send wait (retryable, back after `wait`), or, when the next try would
    fall past the send's horizon, the one that fails it saying why (non-retryable)."""
    seconds = max(1, round(wait.total_seconds()))
    if deadline is not None and now + wait >= deadline:
        return ApplicationError(
            f"the journey's rate limit ({per_minute} per minute) has no slot for this send before its "
            f"deadline {deadline.isoformat()}: the backlog is longer than a send may wait",
            type=RATE_LIMIT_BACKLOG,
            non_retryable=True,
        )
    return ApplicationError(
        f"waiting for the journey's rate limit: {window.count} sends in the last minute (limit "
        f"{per_minute} per minute); next try in {seconds} s",
        type=RATE_LIMITED,
        next_retry_delay=wait,
    )


class _KeyedLocks:
    """One asyncio lock per key while anyone holds or waits for it: the sends of one journey in this
    process queue here, so at most one of them holds a database connection waiting on the journey's lock."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: tuple[str, str]) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class RateGate:
    """Admits a journey's sends at its `rateLimit`; `window` and `floor` are the minute and the local
    timer floor (tests shorten them)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        window: timedelta = WINDOW,
        floor: timedelta = LOCAL_TIMER_FLOOR,
    ) -> None:
        self._sessions = sessions
        self._window = window
        self._floor = floor
        self._locks = _KeyedLocks()

    @asynccontextmanager
    async def admission(self, request: SendRequest) -> AsyncIterator[None]:
        """Run the body (the claim) once the send is admitted; raise `RateLimited` when it must wait."""
        limit = request.rate_limit
        if limit is None:
            yield
            return
        async with (
            self._locks.hold((request.tenant_id, request.journey_id)),
            self._sessions() as session,
            session.begin(),
        ):
            rates = SendRateRepository(session)
            await rates.lock_journey(request.tenant_id, request.journey_id)
            if not await rates.claimed(request.tenant_id, request.idempotency_key):
                window = await rates.window(
                    request.tenant_id,
                    uuid.UUID(request.journey_id),
                    length=self._window,
                    limit=limit.per_minute,
                )
                if window.count >= limit.per_minute:
                    raise self._refuse(request, limit.per_minute, window)
            # Admitted: the claim commits while this transaction holds the journey's lock.
            yield

    def _refuse(self, request: SendRequest, per_minute: int, window: RateWindow) -> ApplicationError:
        attempt = Attempt.current()
        jitter = self._window * JITTER_SHARE * random.random()
        wait = wait_for_slot(window, floor=self._floor if attempt.local else timedelta(0), jitter=jitter)
        error = refusal(per_minute, window, wait, attempt.deadline, datetime.now(UTC))
        if activity.in_activity():
            activity.logger.info(
                "send %s of journey %s: %s", request.node_id, request.journey_id, error.message
            )
        return error
