"""`journeys bench sandbox --n N`: what starting an enrollment costs the worker in each workflow runner.

One enrollment of the reference journey runs on a throwaway stack; its history is then replayed N
times per runner. A replay builds a fresh workflow instance (in the sandbox: a fresh module
namespace) and runs it to the end, which is the CPU a worker spends on a workflow it has to start or
rebuild after eviction from its cache.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from bench.common import connect, enrollment_input, publish_journey, run_id
from bench.reference import reference_journey
from bench.stack import bench_stack
from plumbing.codec import data_converter
from worker import workflow_runner
from workflows.enrollment import EnrollmentWorkflow

ROUNDS = 3


@dataclass(frozen=True)
class SandboxFigures:
    n: int
    history_events: int
    milliseconds: dict[str, float]  # per replayed start, median of the rounds, by runner


def _runners() -> dict[str, WorkflowRunner]:
    return {
        "sandbox, Temporal's default restrictions": SandboxedWorkflowRunner(),
        "sandbox + the worker's passthrough list": workflow_runner(),
        "no sandbox (reference only, not used)": UnsandboxedWorkflowRunner(),
    }


async def _record_history(console: Console) -> tuple[WorkflowHistory, DataConverter]:
    with bench_stack() as stack:
        bench = await connect(stack, console)
        customer = f"sandbox-{run_id()}"
        traits = {"email": f"{customer}@example.com", "firstName": "Sam", "plan": "pro"}
        journey_id, definition = await publish_journey(
            bench.sessions, "Sandbox", reference_journey(), [(customer, traits)]
        )
        workflow_id, payload = enrollment_input(journey_id, "Sandbox", definition, customer)
        await bench.gateway.start(workflow_id, payload)
        handle = bench.client.get_workflow_handle(workflow_id)
        await handle.result()
        history = await handle.fetch_history()
        await bench.close()
        return history, data_converter(stack.settings)


async def _replay_all(
    runner: WorkflowRunner, converter: DataConverter, history: WorkflowHistory, n: int
) -> float:
    replayer = Replayer(workflows=[EnrollmentWorkflow], data_converter=converter, workflow_runner=runner)

    async def copies() -> AsyncIterator[WorkflowHistory]:
        for i in range(n):
            yield WorkflowHistory(f"{history.workflow_id}-{i}", history.events)

    started = time.perf_counter()
    async with replayer.workflow_replay_iterator(copies()) as results:
        async for result in results:
            if result.replay_failure is not None:
                raise result.replay_failure
    return (time.perf_counter() - started) / n * 1000


async def run_sandbox_bench(n: int, console: Console) -> SandboxFigures:
    history, converter = await _record_history(console)
    runners = _runners()
    samples: dict[str, list[float]] = {label: [] for label in runners}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"replaying {n} starts per runner", total=ROUNDS * len(runners))
        for _ in range(ROUNDS):  # interleaved, so a busy moment does not favour one runner
            for label, runner in runners.items():
                samples[label].append(await _replay_all(runner, converter, history, n))
                progress.advance(task)
    return SandboxFigures(
        n, len(history.events), {label: statistics.median(values) for label, values in samples.items()}
    )


def print_sandbox(figures: SandboxFigures, console: Console) -> None:
    table = Table(title=f"Reference enrollment ({figures.history_events} history events), {figures.n} starts")
    table.add_column("workflow runner")
    table.add_column("ms per start", justify="right")
    for label, value in figures.milliseconds.items():
        table.add_row(label, f"{value:.1f}")
    console.print(table)
