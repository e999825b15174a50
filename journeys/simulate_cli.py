"""`journeys simulate JOURNEY_ID --cohort segment:ID|sample:N|customers:a,b --horizon 30d`: a simulation from
the command line, against the store this machine is configured for (the one `make run` keeps), with a
progress bar for a large cohort and the per-node table at the end. The same checks, the same record and the
same interpreter as `POST /v1/journeys/{id}/simulations`."""

from __future__ import annotations

import uuid
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from devstack.resources import database_url
from domain.errors import DomainError
from plumbing.settings import Settings
from services.simulations import (
    CohortSpec,
    EventSpec,
    SimulationService,
    SimulationSpec,
    play,
    result_document,
)
from services.uow import UnitOfWork
from store.db import create_engine, create_session_factory


class CohortError(ValueError):
    """A `--cohort` the command cannot read."""


def cohort_of(text: str) -> CohortSpec:
    kind, _, value = text.partition(":")
    if kind == "segment" and value:
        try:
            return CohortSpec(segment_id=uuid.UUID(value))
        except ValueError:
            raise CohortError(f"{value!r} is not a segment id") from None
    if kind == "sample" and value.isdigit():
        return CohortSpec(sample=int(value))
    if kind == "customers" and value:
        return CohortSpec(customer_ids=[c for c in value.split(",") if c])
    raise CohortError("use segment:<id>, sample:<n> or customers:<id>,<id>…")


def event_of(text: str) -> EventSpec:
    """`NAME@AFTER[:SHARE]`, e.g. `purchase@2 days:0.3`."""
    name, _, rest = text.partition("@")
    after, _, share = rest.partition(":")
    if not name or not after:
        raise CohortError("an --event is NAME@AFTER[:SHARE], e.g. purchase@2d:0.3")
    return EventSpec(after=after, event=name, share=float(share) if share else 1.0)


async def run_simulation(
    settings: Settings,
    tenant_id: str,
    journey_id: uuid.UUID,
    spec: SimulationSpec,
    console: Console,
) -> int:
    engine = create_engine(database_url(settings), pool_size=2)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            uow = UnitOfWork(session)
            service = SimulationService(uow)
            try:
                prepared = await service.prepare(tenant_id, journey_id, spec)
            except DomainError as error:
                console.print(f"[red]{error.detail}[/red]")
                for issue in getattr(error, "issues", []):
                    console.print(f"  {'.'.join(str(p) for p in issue.loc)}: {issue.msg}")
                return 1
            columns = (TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console, transient=True) as progress:
                task = progress.add_task("customers", total=len(prepared.customers))
                result = await play(
                    prepared.plan, prepared.customers, progress=lambda n: progress.advance(task, n)
                )
            document = result_document(prepared.plan.definition, result)
            record = prepared.record
            record.status, record.result = "COMPLETED", document
            await service.keep(record)
            await uow.commit()
    finally:
        await engine.dispose()
    print_result(document, prepared.plan.definition.nodes, console, simulation_id=str(record.id))
    return 0


def print_result(document: dict[str, Any], nodes: list[Any], console: Console, *, simulation_id: str) -> None:
    names = {node.id: (node.name or node.type, node.type) for node in nodes}
    table = Table(title=f"{document['customers']:,} customers simulated", title_justify="left")
    for heading in ("node", "type", "entered", "completed", "exited", "failed", "at horizon"):
        table.add_column(heading, justify="left" if heading in ("node", "type") else "right")
    for row in document["nodes"]:
        name, kind = names.get(row["nodeId"], (row["nodeId"], "?"))
        table.add_row(
            name,
            kind,
            *(f"{row[key]:,}" for key in ("entered", "completed", "exited", "failed", "activeAtHorizon")),
        )
    console.print(table)
    for branch in document["branches"]:
        name = names.get(branch["nodeId"], (branch["nodeId"], ""))[0]
        console.print(f"  {name} → {branch['label']}: {branch['count']:,}")
    for send in document["sends"]:
        console.print(f"  sends {send['channel']}: {send['count']:,} ({send['suppressed']:,} suppressed)")
    conversion = document["conversion"]
    console.print(f"  converted: {conversion['converted']:,} ({conversion['rate']:.1%})")
    console.print(f"[dim]simulation {simulation_id}[/dim]")
