"""The per-worker cache enrollments read their journey's control state from (activities.control)."""

from __future__ import annotations

import asyncio
import uuid

from activities.control import JourneyControlReader

JOURNEY = str(uuid.uuid4())


class CountingReader(JourneyControlReader):
    """The reader with the database replaced by a state the test sets, and a clock it moves."""

    def __init__(self, ttl_seconds: float) -> None:
        self.now = 100.0
        super().__init__(None, ttl_seconds=ttl_seconds, clock=lambda: self.now)  # type: ignore[arg-type]
        self.state: tuple[str, str | None] | None = ("PUBLISHED", None)
        self.gate: asyncio.Event | None = None

    async def _read_state(self, tenant_id: str, journey_id: uuid.UUID) -> tuple[str, str | None] | None:
        if self.gate is not None:
            await self.gate.wait()
        return self.state


async def test_an_answer_is_kept_for_the_cache_time_then_read_again() -> None:
    reader = CountingReader(ttl_seconds=1.0)
    assert await reader.held("acme", JOURNEY) is False
    reader.state = ("PAUSED", "all")  # committed; the cache still answers what it read
    reader.now += 0.9
    assert await reader.held("acme", JOURNEY) is False
    assert reader.reads == 1
    reader.now += 0.1  # the entry is a second old: read again
    assert await reader.held("acme", JOURNEY) is True
    assert reader.reads == 2


async def test_only_a_pause_with_mode_all_holds() -> None:
    reader = CountingReader(ttl_seconds=0.0)  # no caching: every call reads
    for state, held in [
        (("PAUSED", "all"), True),
        (("PAUSED", "entry"), False),
        (("PUBLISHED", None), False),
        (("ARCHIVED", None), False),
        (None, False),  # no such journey
    ]:
        reader.state = state
        assert await reader.held("acme", JOURNEY) is held, state
    assert reader.reads == 5
    assert await reader.held("acme", "not-a-uuid") is False


async def test_journeys_are_cached_apart_and_concurrent_misses_share_one_read() -> None:
    reader = CountingReader(ttl_seconds=1.0)
    reader.gate = asyncio.Event()
    waiting = [asyncio.ensure_future(reader.held("acme", JOURNEY)) for _ in range(50)]
    other = asyncio.ensure_future(reader.held("acme", str(uuid.uuid4())))
    await asyncio.sleep(0)
    reader.gate.set()
    assert await asyncio.gather(*waiting, other) == [False] * 51
    assert reader.reads == 2, "one read per journey"


async def test_an_entry_ages_from_when_its_read_began() -> None:
    # A read that straddles a commit may carry the old state: it expires as if taken before the commit.
    reader = CountingReader(ttl_seconds=1.0)
    reader.gate = asyncio.Event()
    pending = asyncio.ensure_future(reader.held("acme", JOURNEY))
    await asyncio.sleep(0)
    reader.now += 0.6  # the read took 0.6 s
    reader.gate.set()
    assert await pending is False
    reader.state = ("PAUSED", "all")
    reader.now += 0.4
    assert await reader.held("acme", JOURNEY) is True
    assert reader.reads == 2
