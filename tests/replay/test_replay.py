"""Every saved history must replay on today's EnrollmentWorkflow: in-flight enrollments survive
a worker upgrade only if this holds. Histories come from the suite's own runs
(JOURNEYS_REFRESH_HISTORIES=1 refreshes them after a deliberate, patched change)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.replay.careless_workflow import ReorderedEnrollmentWorkflow
from worker import workflow_runner
from workflows.enrollment import EnrollmentWorkflow

HISTORIES = sorted((Path(__file__).resolve().parent.parent / "histories").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_there_are_histories_to_replay() -> None:
    assert len(HISTORIES) >= 2


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_saved_history_replays(path: Path) -> None:
    # The production worker's sandbox (worker.workflow_runner), so its passthrough list is replayed too.
    replayer = Replayer(
        workflows=[EnrollmentWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_a_nondeterministic_change_is_caught() -> None:
    replayer = Replayer(
        workflows=[ReorderedEnrollmentWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(load(HISTORIES[0]), raise_on_replay_failure=False)
    assert result.replay_failure is not None
