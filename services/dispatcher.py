"""The dispatcher: carries out the workflow starts and signals that events wrote to the outbox
(and the exits that leaving a segment wrote: `services.segment_exits`).

- **Claim**: `FOR UPDATE SKIP LOCKED` on the oldest due rows, in a transaction held while they are
  carried out; a dispatcher that dies releases them and another takes them again. Several lanes per
  process and several processes share the work; none waits for another's rows.
- **Order per customer**: a claimed row goes only when every earlier pending row of its customer is
  claimed by the same lane; rows of one customer go one after another, customers side by side
  (`concurrency` Temporal calls in flight).
- **Exactly once in effect**: starts use the enrollment's deterministic workflow id (a second start is
  a no-op), signals a deterministic request id (Temporal drops a second one), so redoing a row whose
  mark was lost changes nothing.
- **Never drops a row**: an unreachable Temporal is retried with exponential backoff (later rows of
  the same customer wait behind it); a row Temporal can never accept (its payload no longer decodes, an
  invalid argument) is set aside as failed with the reason — counted, listed in `/health` — instead of
  blocking its customer forever.
- **Woken** by NOTIFY from the ingesting transaction, with a slow poll as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.common import MetricMeter

from domain.errors import DependencyUnavailableError
from domain.metrics import (
    DISPATCH_DELAY,
    DISPATCH_FAILED,
    DISPATCH_LAG,
    DISPATCH_PENDING,
    DISPATCH_RETRIES,
    DISPATCHED,
)
from domain.payloads import (
    SIGNAL_EVENT,
    SIGNAL_EXIT,
    SIGNAL_TRAITS,
    ControlSignal,
    EnrollmentInput,
    EventSignal,
    TraitsSignal,
)
from services.live_journeys import VERSIONS, VersionCache, VersionKey
from services.temporal import EnrollmentGateway
from store.repositories.outbox import CHANNEL, ClaimedRow, OutboxRepository

logger = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 300.0


@dataclass(frozen=True)
class DispatcherConfig:
    concurrency: int = 64
    batch_size: int = 500
    lanes: int = 2
    poll_seconds: float = 2.0


class UndeliverableError(Exception):
    """A row Temporal can never accept as it is."""


def backoff_seconds(attempts: int) -> float:
    """1 s, 2 s, 4 s … up to 5 minutes, with jitter so that replicas do not retry in step."""
    base = min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, attempts))
    return float(base * (0.5 + random.random() / 2))


class DispatchMetrics:
    def __init__(self, meter: MetricMeter) -> None:
        self.dispatched = meter.create_counter(DISPATCHED, "Outbox rows carried out, by kind and outcome")
        self.retries = meter.create_counter(DISPATCH_RETRIES, "Outbox rows put back for a later try")
        self.failed = meter.create_counter(DISPATCH_FAILED, "Outbox rows Temporal can never accept")
        self.lag = meter.create_gauge_float(DISPATCH_LAG, "Age of the oldest pending outbox row", "s")
        self.pending = meter.create_gauge(DISPATCH_PENDING, "Outbox rows waiting")
        self.delay = meter.create_histogram_float(
            DISPATCH_DELAY, "From an event's acceptance to its start or signal reaching Temporal", "s"
        )


def listen_dsn(engine: AsyncEngine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class Dispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        gateway: EnrollmentGateway,
        *,
        config: DispatcherConfig | None = None,
        metrics: DispatchMetrics | None = None,
        versions: VersionCache = VERSIONS,
        sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._engine = engine
        self._sessions = sessions or async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._gateway = gateway
        self._config = config or DispatcherConfig()
        self._metrics = metrics or DispatchMetrics(MetricMeter.noop)
        self._versions = versions
        self._gate = asyncio.Semaphore(self._config.concurrency)
        self._wake = asyncio.Event()

    # ---- running ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Dispatcher]:
        """Run in the background of the caller (a test, or a process's main) until the block ends."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop))
        try:
            yield self
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self, stop: asyncio.Event) -> None:
        listener = await self._listen()
        lanes = [asyncio.create_task(self._lane(stop)) for _ in range(self._config.lanes)]
        try:
            await stop.wait()
        finally:
            for lane in lanes:
                lane.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close()

    async def _listen(self) -> asyncpg.Connection | None:
        """LISTEN on a connection of its own; without it the poll still drains everything."""
        try:
            connection = await asyncpg.connect(listen_dsn(self._engine), timeout=5)
            await connection.add_listener(CHANNEL, lambda *_: self._wake.set())
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            logger.warning(
                "dispatcher: LISTEN unavailable (%s); polling every %s s", exc, self._config.poll_seconds
            )
            return None
        return connection

    async def _lane(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                claimed = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("dispatcher: a pass failed; trying again shortly")
                claimed = 0
                await asyncio.sleep(1.0)
            if claimed:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._config.poll_seconds)

    # ---- one pass -----------------------------------------------------------------------------

    async def drain_once(self) -> int:
        """Claim a batch, carry out what may go now, record it; the number of rows claimed."""
        async with self._sessions() as session, session.begin():
            outbox = OutboxRepository(session)
            claimed = await outbox.claim(self._config.batch_size)
            if not claimed:
                await self._observe_backlog(outbox)
                return 0
            groups = _ready_groups(claimed, await outbox.earlier_pending(claimed))
            definitions = await self._definitions(session, claimed)
            results = await asyncio.gather(*(self._group(rows, definitions) for rows in groups))
            done: list[tuple[int, str]] = []
            for group_done, retry, failed in results:
                done.extend(group_done)
                if retry is not None:
                    row, error = retry
                    await outbox.retry_later(row.id, backoff_seconds(row.attempts), error)
                    self._metrics.retries.add(1, {"kind": row.kind})
                for row, error in failed:
                    await outbox.mark_failed(row.id, error)
                    self._metrics.failed.add(1, {"kind": row.kind})
                    logger.error(
                        "dispatcher: outbox row %d (%s %s) set aside: %s",
                        row.id,
                        row.kind,
                        row.workflow_id,
                        error,
                    )
            await outbox.mark_done(done)
            await self._observe_backlog(outbox)
        return len(claimed)

    async def _observe_backlog(self, outbox: OutboxRepository) -> None:
        backlog = await outbox.backlog()
        self._metrics.lag.set(backlog.lag_seconds)
        self._metrics.pending.set(backlog.pending)

    async def _definitions(self, session: AsyncSession, rows: Sequence[ClaimedRow]) -> dict[VersionKey, Any]:
        keys: set[VersionKey] = set()
        for row in rows:
            if row.kind == "start":
                try:
                    keys.add((uuid.UUID(str(row.payload["journeyId"])), int(row.payload["version"])))
                except (KeyError, ValueError, TypeError):
                    continue  # reported as a permanent failure when the row is carried out
        return dict(await self._versions.get_many(session, sorted(keys)))

    async def _group(
        self, rows: list[ClaimedRow], definitions: dict[VersionKey, Any]
    ) -> tuple[list[tuple[int, str]], tuple[ClaimedRow, str] | None, list[tuple[ClaimedRow, str]]]:
        """One customer's rows in order; stops at the first that must be tried again later."""
        done: list[tuple[int, str]] = []
        failed: list[tuple[ClaimedRow, str]] = []
        for row in rows:
            try:
                async with self._gate:
                    outcome = await self._carry_out(row, definitions)
            except UndeliverableError as exc:
                failed.append((row, str(exc)))
                continue
            except (DependencyUnavailableError, OSError, RuntimeError, TimeoutError) as exc:
                return done, (row, str(exc)), failed
            done.append((row.id, outcome))
            self._metrics.dispatched.add(1, {"kind": row.kind, "outcome": outcome})
            age = (datetime.now(UTC) - row.created_at).total_seconds()
            self._metrics.delay.record(max(0.0, age), {"kind": row.kind})
        return done, None, failed

    async def _carry_out(self, row: ClaimedRow, definitions: dict[VersionKey, Any]) -> str:
        if row.kind == "start":
            payload = self._start_input(row, definitions)
            await self._gateway.start(row.workflow_id, payload)
            return "started"
        if row.kind == "signal":
            try:
                event = EventSignal.model_validate(row.payload)
            except ValidationError as exc:
                raise UndeliverableError(f"the event no longer decodes: {_first_error(exc)}") from exc
            return "signalled" if await self._signal(row, SIGNAL_EVENT, event) else "gone"
        if row.kind == "exit":
            try:
                control = ControlSignal.model_validate(row.payload)
            except ValidationError as exc:
                raise UndeliverableError(f"the exit no longer decodes: {_first_error(exc)}") from exc
            return "exited" if await self._signal(row, SIGNAL_EXIT, control) else "gone"
        if row.kind == "traits":  # a profile update changed a trait enrollments keep (services.customers)
            try:
                traits = TraitsSignal.model_validate(row.payload)
            except ValidationError as exc:
                raise UndeliverableError(f"the traits no longer decode: {_first_error(exc)}") from exc
            return "signalled" if await self._signal(row, SIGNAL_TRAITS, traits) else "gone"
        raise UndeliverableError(f"unknown outbox row kind {row.kind!r}")

    async def _signal(self, row: ClaimedRow, name: str, payload: object) -> bool:
        """Signal with the row's request id; False when the workflow does not exist or has finished."""
        try:
            return await self._gateway.signal_once(row.workflow_id, name, payload, row.request_id)
        except ValueError as exc:
            raise UndeliverableError(str(exc)) from exc

    @staticmethod
    def _start_input(row: ClaimedRow, definitions: dict[VersionKey, Any]) -> EnrollmentInput:
        try:
            key = (uuid.UUID(str(row.payload["journeyId"])), int(row.payload["version"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise UndeliverableError(f"a start without a journey version: {exc}") from exc
        definition = definitions.get(key)
        if definition is None:
            raise UndeliverableError(f"journey {key[0]} has no version {key[1]}")
        try:
            return EnrollmentInput.model_validate({**row.payload, "definition": definition})
        except ValidationError as exc:
            raise UndeliverableError(f"the enrollment input no longer decodes: {_first_error(exc)}") from exc


def _ready_groups(
    claimed: Sequence[ClaimedRow], earlier: Sequence[tuple[int, str, str]]
) -> list[list[ClaimedRow]]:
    """Claimed rows by customer, in id order, cut before the first pending row this lane does not
    hold (another lane or process has it, or it waits for a retry)."""
    mine = {row.id for row in claimed}
    first_foreign: dict[tuple[str, str], int] = {}
    for row_id, tenant_id, customer_id in earlier:
        if row_id not in mine:
            key = (tenant_id, customer_id)
            first_foreign[key] = min(first_foreign.get(key, row_id), row_id)
    groups: dict[tuple[str, str], list[ClaimedRow]] = {}
    for row in sorted(claimed, key=lambda r: r.id):
        key = (row.tenant_id, row.customer_id)
        if row.id > first_foreign.get(key, row.id + 1):
            continue
        groups.setdefault(key, []).append(row)
    return list(groups.values())


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    return f"{'.'.join(str(p) for p in first.get('loc', ()))}: {first.get('msg', '')}"
