"""`journeys bench simulate --customers N`: how fast a simulation plays a cohort.

A 10-node journey (a WAIT, a SEND, a WAIT_FOR_EVENT answered by a scripted event for 30 % of the
cohort, a CONDITION on a trait, a 50/50 SPLIT, a second SEND, three EXITs) over N in-memory customers,
through the same `services.simulations.play` the API uses (the interpreter spread over the machine's
cores). The process pool is started first (a running API has it), so the figure is the playing alone;
reading the cohort from the store is not in it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from domain.definition import JourneyDefinition
from domain.simulation import ScriptedEvent, SimCustomer, SimulationPlan
from services.simulations import play, simulation_processes


@dataclass(frozen=True)
class SimulateFigures:
    customers: int
    seconds: float
    processes: int
    sent: int
    converted: int

    @property
    def rate(self) -> float:
        return self.customers / self.seconds if self.seconds else 0.0


def bench_journey() -> JourneyDefinition:
    mail = {"channel": "EMAIL", "subject": "Hello {{ traits.firstName }}", "body": "b"}
    nodes = [
        {"id": "start", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}},
        {"id": "day", "type": "WAIT", "config": {"duration": "1 day"}},
        {"id": "hello", "type": "SEND", "config": mail},
        {"id": "buy", "type": "WAIT_FOR_EVENT", "config": {"event": "purchase", "timeout": "3 days"}},
        {
            "id": "pro",
            "type": "CONDITION",
            "config": {"combinator": "AND", "rules": [{"field": "plan", "operator": "eq", "value": "pro"}]},
        },
        {
            "id": "ab",
            "type": "SPLIT",
            "config": {"splits": [{"key": "a", "percentage": 50}, {"key": "b", "percentage": 50}]},
        },
        {"id": "offer", "type": "SEND", "config": mail},
        {"id": "bought", "type": "EXIT"},
        {"id": "free", "type": "EXIT"},
        {"id": "done", "type": "EXIT"},
    ]
    edges = [
        ("start", "day", "next"),
        ("day", "hello", "next"),
        ("hello", "buy", "next"),
        ("buy", "bought", "matched"),
        ("buy", "pro", "timeout"),
        ("pro", "ab", "yes"),
        ("pro", "free", "no"),
        ("ab", "offer", "a"),
        ("ab", "done", "b"),
        ("offer", "done", "next"),
    ]
    return JourneyDefinition.model_validate(
        {
            "nodes": nodes,
            "edges": [{"sourceNodeId": s, "targetNodeId": t, "label": label} for s, t, label in edges],
            "goal": {"type": "event", "config": {"eventName": "purchase"}},
        }
    )


async def run_simulate_bench(customers: int, console: Console) -> SimulateFigures:
    plan = SimulationPlan(
        definition=bench_journey(),
        journey_id="bench-simulate",
        journey_name="Bench",
        version=1,
        start=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        horizon=timedelta(days=30),
        events=[ScriptedEvent(after=timedelta(days=2), event="purchase", share=0.3)],
    )
    cohort = [
        SimCustomer(
            f"cust-{i}", {"firstName": "Ada", "plan": "pro" if i % 2 else "free", "email": f"c{i}@x.io"}
        )
        for i in range(customers)
    ]
    await play(plan, cohort[: min(len(cohort), 2_000)])  # starts the pool, as a running API has it
    columns = (TextColumn("simulating"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("customers", total=customers)
        started = time.perf_counter()
        result = await play(plan, cohort, progress=lambda n: progress.advance(task, n))
        seconds = time.perf_counter() - started
    return SimulateFigures(
        customers, seconds, simulation_processes(), sum(result.sent.values()), result.converted
    )


def print_simulate(figures: SimulateFigures, console: Console) -> None:
    console.print(
        f"simulated {figures.customers} customers in {figures.seconds:.2f} s ({figures.rate:.0f} customers/s)"
    )
    console.print(
        f"  {figures.processes} processes; {figures.sent} sends, {figures.converted} converted "
        "(10 nodes: WAIT, SEND, WAIT_FOR_EVENT with a scripted event for 30 %, CONDITION, SPLIT, SEND)"
    )
