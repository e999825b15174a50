"""`journeys replay-check`: replay the histories of running enrollments against the workflow code on disk.

The check an operator runs before deploying a new worker: it lists RUNNING enrollment workflows by
visibility query (optionally of one journey), fetches up to `limit` histories and feeds them to Temporal's
`Replayer` with the worker's own workflows, sandbox and data converter (so encrypted histories decode).
A history the new code would not replay is a nondeterminism the deployment would turn into stuck
enrollments: exit code 1. Exit code 2 when Temporal cannot be reached or refuses the query.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import RPCError
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from domain.payloads import ENROLLMENT_WORKFLOW
from plumbing.codec import data_converter
from plumbing.settings import Settings
from services.temporal import connect_client
from worker import workflow_runner
from workflows.control import JourneyControlWorkflow
from workflows.enrollment import EnrollmentWorkflow
from workflows.schedule import JourneyScheduleWorkflow

# What build_worker registers: a history is replayed by the class the worker would run it on.
WORKER_WORKFLOWS: Final[tuple[type, ...]] = (
    EnrollmentWorkflow,
    JourneyControlWorkflow,
    JourneyScheduleWorkflow,
)
DEFAULT_LIMIT: Final = 1000
CONNECT_TIMEOUT_SECONDS: Final = 10.0
# Journey ids are UUIDs; anything that could break out of the quoted query value is refused.
_JOURNEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Core reports a failed activation as a Rust debug dump; its `message: "…"` fields are what a person reads.
_CORE_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')

EXIT_OK: Final = 0
EXIT_NONDETERMINISTIC: Final = 1
EXIT_UNREACHABLE: Final = 2


class ReplayCheckUnavailableError(Exception):
    """Temporal could not be reached, or refused the visibility query or a history fetch."""


@dataclass(frozen=True)
class ReplayFailure:
    workflow_id: str
    error: str
    nondeterministic: bool  # False: the replay failed otherwise (e.g. a payload that does not decode)


@dataclass
class ReplayReport:
    replayed: int = 0
    failures: list[ReplayFailure] = field(default_factory=list)

    @property
    def nondeterministic(self) -> int:
        return sum(1 for failure in self.failures if failure.nondeterministic)

    @property
    def exit_code(self) -> int:
        return EXIT_NONDETERMINISTIC if self.failures else EXIT_OK

    def summary(self) -> str:
        line = f"replay-check: {self.replayed} histories replayed, {self.nondeterministic} nondeterministic"
        other = len(self.failures) - self.nondeterministic
        return line + (f", {other} failed otherwise" if other else "")


def readable(error: Exception) -> str:
    """The failure's messages (outermost first, then their causes) without core's debug dump."""
    text = str(error)
    messages = [m.replace('\\"', '"').replace("\\'", "'") for m in _CORE_MESSAGE.findall(text)]
    return ": ".join(m for m in messages if m) or text or type(error).__name__


def visibility_query(journey_id: str | None = None) -> str:
    """Running enrollments (of one journey): `JourneyId` is a registered search attribute."""
    query = f'WorkflowType = "{ENROLLMENT_WORKFLOW}" AND ExecutionStatus = "Running"'
    if journey_id is not None:
        if not _JOURNEY_ID.match(journey_id):
            raise ValueError(f"journey id {journey_id!r} is not a journey id")
        query += f' AND JourneyId = "{journey_id}"'
    return query


async def connect(settings: Settings) -> Client:
    """The client as the worker builds it (address, namespace, data converter with the payload codec)."""
    try:
        return await asyncio.wait_for(
            connect_client(settings.temporal_address, settings.temporal_namespace, data_converter(settings)),
            timeout=CONNECT_TIMEOUT_SECONDS,
        )
    except (RuntimeError, OSError, TimeoutError, RPCError) as exc:
        raise ReplayCheckUnavailableError(
            f"cannot connect to Temporal at {settings.temporal_address}: {exc or type(exc).__name__}"
        ) from exc


async def count_running(client: Client, query: str) -> int | None:
    try:
        return (await client.count_workflows(query)).count
    except RPCError:
        return None  # a server without counts still lists


async def replay_running(
    client: Client,
    converter: DataConverter,
    *,
    journey_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    workflows: Sequence[type] = WORKER_WORKFLOWS,
    on_replayed: Callable[[str, ReplayFailure | None], None] | None = None,
) -> ReplayReport:
    """Replay up to `limit` running enrollments' histories with `workflows` (the worker's by default).

    Histories are fetched and replayed one after another as the listing pages in, so memory stays at
    one history whatever the limit. `on_replayed(workflow_id, failure)` follows progress.
    """
    replayer = Replayer(
        workflows=list(workflows), data_converter=converter, workflow_runner=workflow_runner()
    )
    histories = client.list_workflows(visibility_query(journey_id), limit=limit).map_histories()
    report = ReplayReport()
    try:
        async with replayer.workflow_replay_iterator(histories) as results:
            async for result in results:
                failure = None
                if result.replay_failure is not None:
                    failure = ReplayFailure(
                        workflow_id=result.history.workflow_id,
                        error=readable(result.replay_failure),
                        nondeterministic=isinstance(result.replay_failure, NondeterminismError),
                    )
                    report.failures.append(failure)
                report.replayed += 1
                if on_replayed is not None:
                    on_replayed(result.history.workflow_id, failure)
    except RPCError as exc:
        raise ReplayCheckUnavailableError(f"Temporal refused the listing or a history: {exc}") from exc
    return report


async def run_replay_check(
    settings: Settings,
    *,
    journey_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    out: Console | None = None,
    progress_console: Console | None = None,
    workflows: Sequence[type] = WORKER_WORKFLOWS,
) -> int:
    """The command: connect, replay with progress, print the summary and each failure; the exit code."""
    out = out or Console()
    err = progress_console or Console(stderr=True)
    query = visibility_query(journey_id)  # ValueError for a malformed journey id: check it first
    try:
        client = await connect(settings)
        total = await count_running(client, query)
    except ReplayCheckUnavailableError as exc:
        err.print(f"[red]replay-check: {escape(str(exc))}[/red]", highlight=False)
        return EXIT_UNREACHABLE
    target = min(total, limit) if total is not None else None
    scope = f"journey {journey_id}" if journey_id else "all journeys"
    err.print(f"replay-check: replaying running enrollments of {scope} at {settings.temporal_address}")
    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("replay", total=target, failed=0)
        failed = 0

        def advance(_workflow_id: str, failure: ReplayFailure | None) -> None:
            nonlocal failed
            failed += failure is not None
            progress.update(task, advance=1, failed=failed)

        try:
            report = await replay_running(
                client,
                data_converter(settings),
                journey_id=journey_id,
                limit=limit,
                workflows=workflows,
                on_replayed=advance,
            )
        except ReplayCheckUnavailableError as exc:
            err.print(f"[red]replay-check: {escape(str(exc))}[/red]", highlight=False)
            return EXIT_UNREACHABLE
    out.print(report.summary(), highlight=False, soft_wrap=True)
    for failure in report.failures:
        kind = "nondeterministic" if failure.nondeterministic else "failed"
        out.print(
            f"{kind} {failure.workflow_id}: {failure.error}", markup=False, highlight=False, soft_wrap=True
        )
    if total is not None and total > limit:
        err.print(f"replay-check: {total - limit} more running enrollments not checked (--limit {limit})")
    return report.exit_code
