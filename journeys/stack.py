"""`journeys dev`: the whole stack in the foreground, on embedded servers, state in data_dir."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO

import httpx
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from devstack.ports import PortClaim, PortInUseError, ensure_ports_free
from devstack.postgres import (
    EmbeddedPostgresError,
    ensure_embedded_postgres,
    stop_embedded_postgres,
)
from devstack.smtp_sink import SmtpSink
from devstack.temporal import TemporalDevServer, TemporalDevServerError, read_log_tail
from plumbing.settings import Settings

HEALTH_TIMEOUT_SECONDS = 60.0
CHILD_STOP_TIMEOUT_SECONDS = 10.0
DEV_TOKEN_TTL_SECONDS = 30 * 24 * 3600
DEV_TENANT = "dev"
JWT_SECRET_FILE = "dev-jwt-secret"
PAYLOAD_KEY_FILE = "dev-payload-key"
UNSUBSCRIBE_SECRET_FILE = "dev-unsubscribe-secret"
_POLL_SECONDS = 0.25
_LOG_TAIL_LINES = 30


class _StopRequested(BaseException):
    """SIGINT/SIGTERM arrived; unwinds whatever is running so everything gets stopped."""


class _DevStackError(Exception):
    """A part of the stack failed in a way the message fully explains (no traceback)."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail

    def print_to(self, console: Console) -> None:
        console.print(f"[bold red]✗ {escape(str(self))}[/]", soft_wrap=True)
        if self.log_tail:
            console.print(self.log_tail, markup=False, soft_wrap=True)


def run_dev_stack(settings: Settings) -> int:
    """Run PostgreSQL, Temporal, the SMTP sink, the worker and the API until interrupted.

    Returns the process exit code: 0 after Ctrl-C/SIGTERM, 1 if a part failed or died,
    2 if a port is taken.
    """
    console = Console(highlight=False)
    try:
        _check_ports(settings)
    except PortInUseError as error:
        _DevStackError(str(error)).print_to(console)
        return 2

    signals = _StopOnSignals()
    with signals:
        try:
            with ExitStack() as stack:
                try:
                    return _run(settings, console, stack, signals)
                finally:
                    signals.stopping = True
                    console.print("[dim]Shutting down…[/]")
        except _StopRequested:
            console.print("[green]Stopped.[/]")
            return 0
        except _DevStackError as error:
            error.print_to(console)
            return 1


def _run(settings: Settings, console: Console, stack: ExitStack, signals: _StopOnSignals) -> int:
    data_dir = settings.data_dir.resolve()
    logs_dir = data_dir / "logs"
    logs_dir.mkdir(parents=True, exist_ok=True)
    jwt_secret = _dev_jwt_secret(settings, data_dir)
    payload_key = _dev_payload_key(settings, data_dir)
    unsubscribe_secret = _dev_unsubscribe_secret(settings, data_dir)

    # An initdb cut short leaves a data directory that no later run can start.
    with signals.deferred():
        database_url, embedded_database = _start_database(settings, console, stack)
    temporal = _start_temporal(settings, data_dir, console, stack)
    smtp = _start_smtp_sink(settings, data_dir, console, stack)

    with _step(console, "Database migrations"):
        from store.migrate import upgrade_to_head

        upgrade_to_head(database_url)

    child_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "JOURNEYS_DEV_MODE": "true",
        "JOURNEYS_DATA_DIR": str(data_dir),
        "JOURNEYS_API_HOST": settings.api_host,
        "JOURNEYS_API_PORT": str(settings.api_port),
        "JOURNEYS_DATABASE_URL": database_url,
        "JOURNEYS_JWT_SECRET": jwt_secret,
        "JOURNEYS_PAYLOAD_ENCRYPTION_KEY": payload_key,
        "JOURNEYS_PAYLOAD_ENCRYPTION_KEY_ID": settings.payload_encryption_key_id,
        # Links in dev emails point at this API as it is, and survive restarts (the secret is kept).
        "JOURNEYS_PUBLIC_URL": settings.public_base_url(),
        "JOURNEYS_UNSUBSCRIBE_SECRET": unsubscribe_secret,
        "JOURNEYS_TEMPORAL_ADDRESS": temporal.address,
        "JOURNEYS_TEMPORAL_UI_URL": temporal.ui_url,
        "JOURNEYS_TEMPORAL_UI_PORT": str(temporal.ui_port),
        "JOURNEYS_SMTP_HOST": smtp.host,
        "JOURNEYS_SMTP_PORT": str(smtp.port),
        "JOURNEYS_CODEC_SERVER_PORT": str(settings.codec_server_port),
        # Browsers may open the UI as localhost or 127.0.0.1: both may ask the codec server.
        "JOURNEYS_CODEC_SERVER_CORS_ORIGINS": json.dumps([f"http://localhost:{temporal.ui_port}"]),
    }
    children = [
        _Child("worker", logs_dir / "worker.log"),
        _Child("dispatcher", logs_dir / "dispatcher.log"),
        _Child("api", logs_dir / "api.log"),
        _Child("codec-server", logs_dir / "codec-server.log"),
    ]
    metrics = _metrics_addresses(settings.metrics_address)
    for child in children:
        stack.callback(_stop_quietly, console, child.name, child.stop)
        with _step(console, f"{child.name} process") as step:
            env = dict(child_env)
            env.pop("JOURNEYS_METRICS_ADDRESS", None)
            if child.name in metrics:
                env["JOURNEYS_METRICS_ADDRESS"] = metrics[child.name]
            child.start(env)
            step.detail = f"pid {child.pid}, log {child.log_file}"

    api_base = f"http://{_connectable(settings.api_host)}:{settings.api_port}"
    with _step(console, "API health"):
        _wait_for_health(f"{api_base}/health", children)

    token = _mint_dev_token(settings, jwt_secret)
    _print_banner(
        console,
        api_base=api_base,
        temporal_ui=temporal.ui_url,
        smtp=smtp,
        logs_dir=logs_dir,
        database_url=database_url if embedded_database else None,
        token=token,
        metrics=metrics,
    )
    return _supervise(console, children, temporal)


def _metrics_addresses(address: str | None) -> dict[str, str]:
    """JOURNEYS_METRICS_ADDRESS set for `journeys dev`: the API serves it, the worker the next port
    and the dispatcher the one after (processes cannot share an address)."""
    if not address:
        return {}
    host, _, port = address.rpartition(":")
    return {"api": address, "worker": f"{host}:{int(port) + 1}", "dispatcher": f"{host}:{int(port) + 2}"}


def _check_ports(settings: Settings) -> None:
    temporal_host, temporal_port = _split_host_port(settings.temporal_address)
    claims: list[tuple[str, PortClaim]] = [
        (settings.api_host, (settings.api_port, "API", "JOURNEYS_API_PORT")),
        (temporal_host, (temporal_port, "Temporal gRPC", "JOURNEYS_TEMPORAL_ADDRESS")),
        (
            temporal_host,
            (settings.temporal_ui_port, "Temporal Web UI", "JOURNEYS_TEMPORAL_UI_PORT"),
        ),
        (settings.smtp_host, (settings.smtp_port, "SMTP sink", "JOURNEYS_SMTP_PORT")),
        ("127.0.0.1", (settings.codec_server_port, "codec server", "JOURNEYS_CODEC_SERVER_PORT")),
    ]
    for host, claim in claims:
        ensure_ports_free(host, [claim])


def _dev_jwt_secret(settings: Settings, data_dir: Path) -> str:
    """The configured secret, else one generated once and kept so dev tokens survive restarts."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    secret_file = data_dir / JWT_SECRET_FILE
    if secret_file.exists():
        return secret_file.read_text().strip()
    secret = secrets.token_urlsafe(48)
    descriptor = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    return secret


def _dev_unsubscribe_secret(settings: Settings, data_dir: Path) -> str:
    """The configured unsubscribe secret, else one generated once under data_dir, so the links in
    emails sent before a restart still work after it."""
    if settings.unsubscribe_secret is not None:
        return settings.unsubscribe_secret.get_secret_value()
    secret_file = data_dir / UNSUBSCRIBE_SECRET_FILE
    if secret_file.exists():
        return secret_file.read_text().strip()
    secret = secrets.token_urlsafe(48)
    descriptor = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    return secret


def _dev_payload_key(settings: Settings, data_dir: Path) -> str:
    """The configured payload key, else one generated once under data_dir (dev payloads stay readable)."""
    if settings.payload_encryption_key is not None:
        return settings.payload_encryption_key.get_secret_value()
    key_file = data_dir / PAYLOAD_KEY_FILE
    if key_file.exists():
        return key_file.read_text().strip()
    from plumbing.codec import generate_key

    key = generate_key()
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key


def _start_database(settings: Settings, console: Console, stack: ExitStack) -> tuple[str, bool]:
    """The database URL, and whether it is the embedded server (started here)."""
    if settings.database_url is not None:
        console.print("[green]✓[/] PostgreSQL [dim](JOURNEYS_DATABASE_URL, not embedded)[/]")
        return settings.database_url.get_secret_value(), False
    pgdata = settings.embedded_postgres_dir
    # Registered before starting: an interrupted start may still leave a server behind.
    stack.callback(_stop_quietly, console, "PostgreSQL", lambda: stop_embedded_postgres(pgdata))
    with _step(console, "PostgreSQL (embedded)") as step:
        try:
            url = ensure_embedded_postgres(pgdata, stop_at_exit=True)
        except EmbeddedPostgresError as error:
            raise _DevStackError(str(error)) from error
        step.detail = str(pgdata)
    return url, True


def _start_temporal(
    settings: Settings, data_dir: Path, console: Console, stack: ExitStack
) -> TemporalDevServer:
    host, port = _split_host_port(settings.temporal_address)
    temporal = TemporalDevServer(
        db_file=data_dir / "temporal.db",
        host=host,
        port=port,
        ui_port=settings.temporal_ui_port,
        log_file=data_dir / "logs" / "temporal.log",
        ui_codec_endpoint=f"http://{_connectable(settings.api_host)}:{settings.codec_server_port}",
    )
    stack.callback(_stop_quietly, console, "Temporal", temporal.stop)
    with _step(console, "Temporal dev server") as step:
        try:
            temporal.start()
        except TemporalDevServerError as error:
            raise _DevStackError(str(error), temporal.log_tail()) from error
        step.detail = temporal.address
    return temporal


def _start_smtp_sink(settings: Settings, data_dir: Path, console: Console, stack: ExitStack) -> SmtpSink:
    smtp = SmtpSink(host=settings.smtp_host, port=settings.smtp_port, maildir=data_dir / "mailbox")
    with _step(console, "SMTP sink") as step:
        smtp.start()
        step.detail = smtp.address
    stack.callback(_stop_quietly, console, "SMTP sink", smtp.stop)
    return smtp


class _Child:
    """`python -m journeys <name>` in its own process group, output appended to `log_file`."""

    def __init__(self, name: str, log_file: Path) -> None:
        self.name = name
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self, env: dict[str, str]) -> None:
        self._log = self.log_file.open("ab")
        started = datetime.now(UTC).isoformat(timespec="seconds")
        self._log.write(f"\n===== journeys dev: {self.name} started {started} =====\n".encode())
        self._log.flush()
        self._log_offset = self._log.tell()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "journeys", self.name],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Ctrl-C in the terminal must reach only us: we stop the children, in order.
            process_group=0,
        )

    def exit_code(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def stop(self) -> None:
        process = self._process
        if process is not None:
            if process.poll() is None:
                _signal_group(process.pid, signal.SIGTERM)
                try:
                    process.wait(CHILD_STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    _signal_group(process.pid, signal.SIGKILL)
                    process.wait()
            # Grandchildren (e.g. reloaders) share the group and must not outlive the stack.
            _signal_group(process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        return read_log_tail(self.log_file, self._log_offset, lines)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _wait_for_health(url: str, children: list[_Child]) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    while True:
        _raise_if_any_died(children)
        try:
            if httpx.get(url, timeout=2.0, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise _DevStackError(f"{url} did not answer 200 within {HEALTH_TIMEOUT_SECONDS:.0f} s")
        time.sleep(_POLL_SECONDS)


def _raise_if_any_died(children: list[_Child]) -> None:
    for child in children:
        code = child.exit_code()
        if code is not None:
            raise _DevStackError(
                f"{child.name} exited with status {code}; last lines of {child.log_file}:",
                child.log_tail(),
            )


def _supervise(console: Console, children: list[_Child], temporal: TemporalDevServer) -> int:
    """Block until a signal (raises `_StopRequested`) or until a part dies (returns 1)."""
    while True:
        try:
            _raise_if_any_died(children)
        except _DevStackError as error:
            error.print_to(console)
            return 1
        code = temporal.exit_code()
        if code is not None:
            console.print(
                f"[bold red]✗ Temporal dev server exited with status {code}; last lines of "
                f"{temporal.log_file}:[/]\n{escape(temporal.log_tail())}"
            )
            return 1
        time.sleep(_POLL_SECONDS)


def _mint_dev_token(settings: Settings, jwt_secret: str) -> str:
    from api.auth import ALL_SCOPES, mint_token

    return mint_token(
        secret=jwt_secret,
        tenant=DEV_TENANT,
        scopes=ALL_SCOPES,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        ttl_seconds=DEV_TOKEN_TTL_SECONDS,
    )


def _print_banner(
    console: Console,
    *,
    api_base: str,
    temporal_ui: str,
    smtp: SmtpSink,
    logs_dir: Path,
    database_url: str | None,
    token: str,
    metrics: dict[str, str],
) -> None:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("API", api_base)
    table.add_row("OpenAPI docs", f"{api_base}/docs")
    table.add_row("Console", f"{api_base}/console (the link below signs in; or paste the token)")
    table.add_row("Temporal UI", f"{temporal_ui} (payloads encrypted, decoded by the codec server)")
    table.add_row("SMTP sink", f"smtp://{smtp.address}")
    table.add_row("Mailbox (Maildir)", str(smtp.maildir_path))
    if database_url is not None:
        table.add_row("PostgreSQL", database_url)
    table.add_row("Logs", f"{logs_dir}/{{api,worker,dispatcher,codec-server,temporal}}.log")
    for name, address in metrics.items():
        host, _, port = address.rpartition(":")
        table.add_row(f"Metrics ({name})", f"http://{_connectable(host)}:{port}/metrics")
    table.add_row("Dev token", f"tenant {DEV_TENANT!r}, all scopes, valid 30 days")
    console.print(Panel(table, title="journeys dev is up", border_style="green", expand=False))
    # Printed bare so it can be copied without box-drawing characters around it.
    console.print(f"export TOKEN={token}", soft_wrap=True)
    # The token rides in the fragment, which the browser never sends: the console keeps it in the tab.
    console.print(f"{api_base}/console#token={token}", soft_wrap=True)
    console.print("[dim]Ctrl-C stops everything; state is kept for the next run.[/]")


@dataclass
class _StepReport:
    detail: str = ""


@contextmanager
def _step(console: Console, label: str) -> Iterator[_StepReport]:
    report = _StepReport()
    started = time.monotonic()
    try:
        yield report
    except BaseException:
        console.print(f"[red]✗[/] {label} [dim]({time.monotonic() - started:.1f} s)[/]")
        raise
    detail = f" — {escape(report.detail)}" if report.detail else ""
    console.print(f"[green]✓[/] {label}{detail} [dim]({time.monotonic() - started:.1f} s)[/]")


def _stop_quietly(console: Console, label: str, stop: Callable[[], None]) -> None:
    """Stop one part; a failure is reported but must not keep the others running."""
    started = time.monotonic()
    try:
        stop()
    except Exception as error:  # noqa: BLE001 — whatever failed, the remaining parts must still stop  # noqa: BLE001 (reported; the next part must still be stopped)
        console.print(f"[red]✗ stopping {label} failed: {escape(str(error))}[/]")
        return
    console.print(f"[dim]  stopped {label} ({time.monotonic() - started:.1f} s)[/]")


class _StopOnSignals:
    """While active, the first SIGINT/SIGTERM raises `_StopRequested`; later ones are ignored."""

    def __init__(self) -> None:
        self.stopping = False
        self._deferring = False
        self._deferred_signal: str | None = None
        self._previous: dict[signal.Signals, object] = {}

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold a stop request until the block is done, for steps that must not be cut short."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            if self._deferred_signal is not None:
                raise _StopRequested(self._deferred_signal)

    def __enter__(self) -> _StopOnSignals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *_: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping or self._deferred_signal is not None:
            return
        if self._deferring:
            self._deferred_signal = signal.Signals(signum).name
            return
        self.stopping = True
        raise _StopRequested(signal.Signals(signum).name)


def _split_host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host.strip("[]"), int(port)


def _connectable(host: str) -> str:
    # A server bound to every interface is reached through loopback.
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
