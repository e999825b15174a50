"""Every saved history must replay on today's EnrollmentWorkflow: in-flight enrollments survive
a worker upgrade only if this holds. Histories come from the suite's own runs
(JOURNEYS_REFRESH_HISTORIES=1 refreshes them after a deliberate, patched change)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.replay.careless_workflow import ReorderedEnrollmentWorkflow
from worker import workflow_runner
from workflows.enrollment import (
    CUSTOMER_CLOCK_PATCH,
    INTERPRETER_QUIET_HOURS_PATCH,
    JOURNEY_CONTROL_PATCH,
    QUIET_HOURS_PATCH,
    EnrollmentWorkflow,
)

HISTORY_DIR = Path(__file__).resolve().parent.parent / "histories"
HISTORIES = sorted(HISTORY_DIR.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def patch_ids(path: Path) -> set[str]:
    return {
        json.loads(payload.data)["id"]
        for e in load(path).events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
        for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
    }


def test_there_are_histories_to_replay() -> None:
    assert len(HISTORIES) >= 2


def test_both_quiet_hours_holds_have_a_history() -> None:
    # The shell's hold, kept for enrollments recorded before the interpreter held sends ...
    shell = patch_ids(HISTORY_DIR / "quiet_hours_hold.json")
    assert QUIET_HOURS_PATCH in shell and INTERPRETER_QUIET_HOURS_PATCH not in shell
    # ... and the interpreter's (tests/integration/test_quiet_hours_hold.py records it).
    interpreter = patch_ids(HISTORY_DIR / "interpreter_quiet_hours_hold.json")
    assert INTERPRETER_QUIET_HOURS_PATCH in interpreter and QUIET_HOURS_PATCH not in interpreter


def test_the_customer_clock_replays_beside_the_journeys_clock() -> None:
    # Sends held on the customer's clock (tests/integration/test_send_window.py records them) ...
    for name in ("customer_clock_quiet_hours", "customer_clock_zone_change"):
        assert CUSTOMER_CLOCK_PATCH in patch_ids(HISTORY_DIR / f"{name}.json"), name
    # ... and a hold recorded before it, on the journey's clock, which must still replay so.
    assert CUSTOMER_CLOCK_PATCH not in patch_ids(HISTORY_DIR / "interpreter_quiet_hours_hold.json")


def test_a_hold_by_the_journeys_control_state_has_a_history() -> None:
    # An enrollment that read its paused journey's state and held (tests/integration/test_journey_control.py
    # records it), beside histories from before the read, which replay without it.
    assert JOURNEY_CONTROL_PATCH in patch_ids(HISTORY_DIR / "journey_control_hold.json")
    assert JOURNEY_CONTROL_PATCH not in patch_ids(HISTORY_DIR / "pause_resume.json")


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
