"""UnitOfWork after commit: starts, then signals (each many at a time, bounded), then other effects in
order; every action is tried and the first failure raised; starts can be held as data instead."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from domain.payloads import EnrollmentInput
from services.temporal import EnrollmentGateway
from services.uow import AfterCommit, EnrollmentStart, UnitOfWork


class FakeSession:
    def __init__(self, log: list[str]) -> None:
        self._log = log

    async def commit(self) -> None:
        self._log.append("commit")


class FakeGateway:
    def __init__(self, log: list[str]) -> None:
        self._log = log

    async def start(self, workflow_id: str, payload: EnrollmentInput) -> None:
        self._log.append(f"start {workflow_id}")


def unit(log: list[str], concurrency: int = 16) -> UnitOfWork:
    return UnitOfWork(cast(AsyncSession, FakeSession(log)), concurrency=concurrency)


def start(workflow_id: str) -> EnrollmentStart:
    payload = EnrollmentInput.model_construct(enrolled_at=datetime.now(UTC))
    return EnrollmentStart(workflow_id, payload)


async def test_phases_run_after_commit_starts_then_signals_then_effects_in_order() -> None:
    log: list[str] = []
    uow = unit(log)
    gateway = cast(EnrollmentGateway, FakeGateway(log))

    def note(text: str) -> AfterCommit:
        async def action() -> None:
            log.append(text)

        return action

    uow.after_commit(note("effect 1"))
    uow.after_commit(note("signal"), phase="signals")
    uow.start_enrollment(start("w1"), gateway)
    uow.after_commit(note("effect 2"))
    uow.start_enrollment(start("w2"), gateway)
    assert log == []
    await uow.commit()
    assert log[0] == "commit"
    assert sorted(log[1:3]) == ["start w1", "start w2"]
    assert log[3:] == ["signal", "effect 1", "effect 2"]
    await uow.commit()
    assert log[6:] == ["commit"], "what ran once is not run again"


async def test_one_phase_runs_concurrently_but_bounded() -> None:
    running, peak = 0, 0

    async def action() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    uow = unit([], concurrency=3)
    for _ in range(10):
        uow.after_commit(action, phase="starts")
    await uow.commit()
    assert peak == 3


async def test_every_action_is_tried_and_the_first_failure_raised() -> None:
    log: list[str] = []
    uow = unit(log)

    async def fails() -> None:
        log.append("fails")
        raise RuntimeError("temporal is down")

    async def works() -> None:
        log.append("works")

    uow.after_commit(fails, phase="starts")
    uow.after_commit(works, phase="signals")
    uow.after_commit(fails)
    uow.after_commit(works)
    with pytest.raises(RuntimeError, match="temporal is down"):
        await uow.commit()
    assert log == ["commit", "fails", "works", "fails", "works"]


async def test_held_starts_are_kept_as_data_not_run() -> None:
    log: list[str] = []
    uow = unit(log)
    gateway = cast(EnrollmentGateway, FakeGateway(log))
    with uow.holding_starts() as held:
        uow.start_enrollment(start("kept"), gateway)
    uow.start_enrollment(start("run"), gateway)
    assert [s.workflow_id for s in held] == ["kept"]
    await uow.commit()
    assert log == ["commit", "start run"]
