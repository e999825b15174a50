"""The `journeys` command: dev stack, API, worker, migrations, tokens."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from journeys.enrollment_cli import enrollment_app
from plumbing.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
bench_app = typer.Typer(
    no_args_is_help=True, help="Benchmarks: each starts its own stack and prints figures."
)
app.add_typer(bench_app, name="bench")
app.add_typer(enrollment_app, name="enrollment")
console = Console(stderr=True)


@app.command()
def dev() -> None:
    """Start everything on this machine: PostgreSQL, Temporal + UI, SMTP sink, worker, API."""
    from journeys.stack import run_dev_stack

    raise typer.Exit(run_dev_stack(get_settings()))


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address (default JOURNEYS_API_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default JOURNEYS_API_PORT)")] = None,
) -> None:
    """Serve the HTTP API with uvicorn."""
    import uvicorn

    from api.app import create_app
    from api.resources import AppResources
    from devstack.resources import database_url, jwt_secret
    from plumbing.logs import configure_logging, uvicorn_log_options
    from plumbing.tracing import API_SERVICE, configure_tracing
    from plumbing.tracing import shutdown as shutdown_tracing

    settings = get_settings()
    configure_logging(settings)
    configure_tracing(settings, API_SERVICE)
    resources = AppResources.from_settings(
        settings,
        database_url=database_url(settings),
        jwt_secret=jwt_secret(settings) if settings.jwt_algorithm == "HS256" else None,
    )
    application = create_app(resources, close_resources_on_shutdown=True)
    try:
        uvicorn.run(
            application,
            host=host or settings.api_host,
            port=port or settings.api_port,
            proxy_headers=False,
            **uvicorn_log_options(),  # uvicorn's lines go through our handler; no access log of its own
        )
    finally:
        shutdown_tracing()  # export the spans still buffered


@app.command()
def worker() -> None:
    """Run the Temporal worker (same as `python worker.py`)."""
    from plumbing.logs import configure_logging
    from plumbing.tracing import WORKER_SERVICE, configure_tracing
    from plumbing.tracing import shutdown as shutdown_tracing
    from worker import run_worker

    settings = get_settings()
    configure_logging(settings)
    configure_tracing(settings, WORKER_SERVICE)
    try:
        asyncio.run(run_worker(settings))
    finally:
        shutdown_tracing()  # export the spans still buffered


@app.command()
def dispatcher() -> None:
    """Drain the outbox of workflow starts and signals into Temporal; heal orphaned enrollments."""
    from journeys.dispatch import run_dispatcher
    from plumbing.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    asyncio.run(run_dispatcher(settings))


@app.command("codec-server")
def codec_server(
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default JOURNEYS_CODEC_SERVER_PORT)")] = None,
) -> None:
    """Serve the Temporal codec endpoints (/encode, /decode) so the Temporal UI shows payloads."""
    import uvicorn

    from journeys.codec_server import create_codec_app

    settings = get_settings()
    if settings.payload_encryption_key is None:
        console.print("[red]JOURNEYS_PAYLOAD_ENCRYPTION_KEY is not set: there is nothing to decode[/red]")
        raise typer.Exit(2)
    uvicorn.run(
        create_codec_app(settings),
        host=host,
        port=port or settings.codec_server_port,
        log_level="info",
        proxy_headers=False,
    )


@app.command()
def migrate() -> None:
    """Apply database migrations up to the newest."""
    from devstack.resources import database_url
    from store.migrate import upgrade_to_head

    upgrade_to_head(database_url(get_settings()))
    console.print("[green]database schema is up to date[/green]")


@app.command()
def token(
    tenant: Annotated[str, typer.Option(help="Tenant id the token acts for")] = "dev",
    scopes: Annotated[
        list[str] | None, typer.Option("--scopes", help="Scope to grant; repeat. Default: all")
    ] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds")] = 24 * 3600,
    subject: Annotated[str, typer.Option(help="The `sub` claim")] = "dev",
) -> None:
    """Mint an HS256 bearer token with the configured (or dev) secret."""
    from api.auth import ALL_SCOPES, mint_token
    from devstack.resources import jwt_secret

    settings = get_settings()
    granted: list[str] = []
    for item in scopes or list(ALL_SCOPES):
        granted.extend(part for part in item.replace(",", " ").split() if part)
    typer.echo(
        mint_token(
            secret=jwt_secret(settings, allow_dev_file=True),
            tenant=tenant,
            scopes=granted,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            ttl_seconds=ttl,
            subject=subject,
        )
    )


@bench_app.command("enroll")
def bench_enroll(n: Annotated[int, typer.Option("--n", min=10, help="Enrollments per side")] = 400) -> None:
    """The reference journey through the engine vs a hand-written workflow: throughput ratio R."""
    from bench.enroll import print_enroll, run_enroll_bench

    out = Console()
    print_enroll(asyncio.run(run_enroll_bench(n, out)), out)


@bench_app.command("idle")
def bench_idle(n: Annotated[int, typer.Option("--n", min=10, help="Sleeping enrollments")] = 10_000) -> None:
    """N enrollments asleep in a WAIT: the worker's memory stays bounded."""
    from bench.idle import print_idle, run_idle_bench

    out = Console()
    print_idle(asyncio.run(run_idle_bench(n, out)), out)


@bench_app.command("lifecycle")
def bench_lifecycle(
    n: Annotated[int, typer.Option("--n", min=10, help="In-flight enrollments")] = 1000,
    temporal_on_file: Annotated[
        bool,
        typer.Option(
            "--temporal-on-file",
            help="Keep the dev server's state in a SQLite file (default: in memory; on a file every "
            "transaction waits for an fsync, which measures the disk)",
        ),
    ] = False,
) -> None:
    """How fast pause (mode all) holds and archive exits N in-flight enrollments, against bare signals."""
    from bench.lifecycle import print_lifecycle, run_lifecycle_bench

    out = Console()
    print_lifecycle(asyncio.run(run_lifecycle_bench(n, out, temporal_on_file=temporal_on_file)), out)


@bench_app.command("ingest")
def bench_ingest(
    n: Annotated[int, typer.Option("--n", min=100, help="Events per scenario")] = 3000,
    clients: Annotated[int, typer.Option(min=1, max=64, help="HTTP clients posting at once")] = 4,
    batch: Annotated[int, typer.Option(min=1, max=500, help="Events per request")] = 100,
    rate: Annotated[int, typer.Option(min=10, help="Events/s of the latency phase")] = 200,
    seconds: Annotated[float, typer.Option(min=1, help="Length of the latency phase")] = 10.0,
    live_worker: Annotated[
        bool,
        typer.Option(
            "--live-worker",
            help="Keep the worker running during the Temporal-bound phases (default: paused meanwhile)",
        ),
    ] = False,
    events_batch: Annotated[
        bool,
        typer.Option(
            "--events-batch",
            help="Post to POST /v1/events/batch (bearer token) instead of the Segment route POST /v1/batch",
        ),
    ] = False,
) -> None:
    """The ingestion pipeline end to end (API and dispatcher processes, Segment batches over HTTP):
    events/s accepted, entered and signalled, against COPY and bare Temporal calls; latency; API RSS."""
    from bench.ingest import BenchError, IngestOptions, print_ingest, run_ingest_bench

    out = Console()
    options = IngestOptions(
        n=n,
        batch=batch,
        clients=clients,
        rate=rate,
        latency_seconds=seconds,
        segment_route=not events_batch,
        live_worker=live_worker,
    )
    try:
        figures = asyncio.run(run_ingest_bench(options, out))
    except BenchError as error:
        console.print(f"[red]bench ingest stopped: {error}[/red]", highlight=False)
        raise typer.Exit(1) from error
    print_ingest(figures, out)


@bench_app.command("analytics")
def bench_analytics(
    rows: Annotated[int, typer.Option("--rows", min=1000, help="Step records")] = 1_000_000,
) -> None:
    """An aggregates query over N step records against a full scan of them."""
    from bench.analytics import print_analytics, run_analytics_bench

    out = Console()
    print_analytics(asyncio.run(run_analytics_bench(rows, out)), out)


@bench_app.command("simulate")
def bench_simulate(
    customers: Annotated[int, typer.Option("--customers", min=100, help="Customers in the cohort")] = 10_000,
) -> None:
    """A 10-node journey simulated over N customers: customers per second."""
    from bench.simulate import print_simulate, run_simulate_bench

    out = Console()
    print_simulate(asyncio.run(run_simulate_bench(customers, out)), out)


@bench_app.command("sandbox")
def bench_sandbox(
    n: Annotated[int, typer.Option("--n", min=10, help="Replayed starts per runner")] = 300,
) -> None:
    """The CPU cost of starting an enrollment in the worker's sandbox, with and without passthrough."""
    from bench.sandbox import print_sandbox, run_sandbox_bench

    out = Console()
    print_sandbox(asyncio.run(run_sandbox_bench(n, out)), out)


@app.command()
def simulate(
    journey_id: Annotated[str, typer.Argument(help="The journey's id")],
    cohort: Annotated[str, typer.Option("--cohort", help="segment:<id>, sample:<n> or customers:<id>,<id>…")],
    horizon: Annotated[str, typer.Option("--horizon", help="How far to play, e.g. 30d")] = "30d",
    version: Annotated[str | None, typer.Option("--version", help="A version number or 'draft'")] = None,
    event: Annotated[
        list[str] | None, typer.Option("--event", help="A scripted event NAME@AFTER[:SHARE]; repeat")
    ] = None,
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant the journey belongs to")] = "dev",
) -> None:
    """Simulate a journey over a cohort (nothing is sent or enrolled) and print what each node would see."""
    import uuid

    from journeys.simulate_cli import CohortError, cohort_of, event_of, run_simulation
    from services.simulations import SimulationSpec

    try:
        spec = SimulationSpec(
            cohort=cohort_of(cohort),
            version=None if version is None else ("draft" if version == "draft" else int(version)),
            events=[event_of(text) for text in event or []],
            horizon=horizon,
        )
        journey = uuid.UUID(journey_id)
    except (CohortError, ValueError) as error:
        raise typer.BadParameter(str(error)) from error
    out = Console()
    raise typer.Exit(asyncio.run(run_simulation(get_settings(), tenant, journey, spec, out)))


@app.command("replay-check")
def replay_check(
    journey: Annotated[
        str | None, typer.Option("--journey", help="Only the running enrollments of this journey id")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Histories to replay at most")] = 1000,
) -> None:
    """Replay running enrollments' histories against the workflow code on disk, before deploying a
    worker: exit 1 on any nondeterminism, 2 when Temporal cannot be reached."""
    from journeys.replay_check import run_replay_check, visibility_query

    try:
        visibility_query(journey)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--journey") from error
    raise typer.Exit(asyncio.run(run_replay_check(get_settings(), journey_id=journey, limit=limit)))


def main() -> None:
    app()
