"""A throwaway stack for one benchmark run: embedded PostgreSQL, a fresh Temporal dev server, an
SMTP sink, and the processes a scenario asks for (the worker; the API and the dispatcher, each as its
own `python -m journeys …` process), all on free ports under a temporary directory, all stopped after:
the processes first (SIGTERM, in the reverse order of their start), then the servers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from devstack import (
    SmtpSink,
    TemporalDevServer,
    ensure_embedded_postgres,
    find_free_port,
    stop_embedded_postgres,
)
from devstack.temporal import read_log_tail
from plumbing.settings import Settings
from store.migrate import upgrade_to_head

STOP_TIMEOUT_SECONDS = 30.0
# Settings a child must not inherit from the caller's environment: each process of the stack gets its
# own (two processes cannot serve metrics on one address; the API's port is chosen here).
_NOT_INHERITED = ("JOURNEYS_METRICS_ADDRESS", "JOURNEYS_API_PORT", "JOURNEYS_API_HOST")


def memory_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process, from /proc."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU seconds, CPU seconds of its children that have exited) from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return int(fields[1]), (utime + stime) / _CLOCK_TICKS, (cutime + cstime) / _CLOCK_TICKS


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each process tree (the process, its live descendants, and the
    descendants that have exited and been waited for), by name. A tree whose root is gone counts 0."""
    parents: dict[int, int] = {}
    own: dict[int, tuple[float, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = stat[0]
            own[int(entry.name)] = stat[1], stat[2]
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    totals: dict[str, float] = {}
    for name, root in roots.items():
        total, pending = 0.0, [root] if root in own else []
        while pending:
            pid = pending.pop()
            mine, exited = own[pid]
            total += mine + exited
            pending.extend(children.get(pid, []))
        totals[name] = total
    return totals


def own_cpu_seconds() -> float:
    """CPU seconds of this process alone (not the servers and processes it started)."""
    times = os.times()
    return times.user + times.system


@dataclass
class StackProcess:
    """A child of the benchmark, its output appended to `log_file`."""

    name: str
    process: subprocess.Popen[bytes]
    log_file: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        return self.process.poll()

    def log_tail(self, lines: int = 30) -> str:
        return read_log_tail(self.log_file, 0, lines)

    def pause(self) -> None:
        """SIGSTOP: the process keeps its state and connections but takes no CPU until `resume`."""
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM and wait (each of these processes drains and closes on it); SIGKILL if it hangs."""
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGCONT)  # a paused process would not act on SIGTERM
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class BenchStack:
    root: Path
    settings: Settings
    database_url: str
    temporal: TemporalDevServer
    smtp: SmtpSink
    worker: subprocess.Popen[bytes] | None = None
    processes: list[StackProcess] = field(default_factory=list)
    pgdata: Path | None = None

    def child_env(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "JOURNEYS_DATABASE_URL": self.database_url,
                "JOURNEYS_TEMPORAL_ADDRESS": self.temporal.address,
                "JOURNEYS_TEMPORAL_TASK_QUEUE": self.settings.temporal_task_queue,
                "JOURNEYS_SMTP_HOST": self.smtp.host,
                "JOURNEYS_SMTP_PORT": str(self.smtp.port),
                "JOURNEYS_DEV_MODE": "true",
                "JOURNEYS_DATA_DIR": str(self.root / "data"),
            }
        )
        env.update(extra)
        return env

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> StackProcess:
        log_file = self.root / f"{name}.log"
        with log_file.open("ab") as log:
            process = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        child = StackProcess(name, process, log_file)
        self.processes.append(child)
        return child

    def start_worker(self) -> int:
        """The product worker plus the hand-written reference workflow (bench/worker.py)."""
        child = self.spawn("worker", [sys.executable, "-m", "bench.worker"], self.child_env())
        self.worker = child.process
        return child.pid

    def start_api(self, jwt_secret: str, **extra: str) -> tuple[StackProcess, str]:
        """`journeys api` (uvicorn) on a free port; the process and its base URL."""
        port = find_free_port()
        env = self.child_env(
            JOURNEYS_API_HOST="127.0.0.1",
            JOURNEYS_API_PORT=str(port),
            JOURNEYS_JWT_SECRET=jwt_secret,
            **extra,
        )
        child = self.spawn("api", [sys.executable, "-m", "journeys", "api"], env)
        return child, f"http://127.0.0.1:{port}"

    def start_dispatcher(self, **extra: str) -> StackProcess:
        """`journeys dispatcher`: drains the outbox into Temporal (and runs the reconciler)."""
        return self.spawn(
            "dispatcher", [sys.executable, "-m", "journeys", "dispatcher"], self.child_env(**extra)
        )

    def stop_processes(self) -> None:
        """Stop every process started here, the last started first (the worker outlives its callers)."""
        while self.processes:
            self.processes.pop().stop()

    def cpu_roots(self) -> dict[str, int]:
        """The pid of each part whose CPU can be read: the processes started here, the Temporal dev
        server and the PostgreSQL postmaster (whose backends are its children)."""
        roots = {process.name: process.pid for process in self.processes}
        if self.temporal.pid is not None:
            roots["temporal"] = self.temporal.pid
        if self.pgdata is not None:
            with suppress(OSError, ValueError, IndexError):
                roots["postgres"] = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        return roots

    def worker_memory_mib(self) -> tuple[float, float]:
        """(current RSS, peak RSS) of the worker process, from /proc."""
        assert self.worker is not None
        return memory_mib(self.worker.pid)


class InMemoryTemporalDevServer(TemporalDevServer):
    """The dev server keeping its state in memory (no `--db-filename`): nothing is fsynced. On a
    file, SQLite's fsync per transaction caps the dev server at a few dozen starts a second (14/s
    measured on the 2-core machine, 70/s in memory), which would measure the disk, not Temporal."""

    def _command(self) -> list[str]:
        command = super()._command()
        at = command.index("--db-filename")
        del command[at : at + 2]
        return command


@contextmanager
def bench_stack(*, temporal_in_memory: bool = False) -> Iterator[BenchStack]:
    """The stack; `temporal_in_memory` keeps the dev server's state in memory instead of a file."""
    root = Path(tempfile.mkdtemp(prefix="jbench", dir="/tmp"))
    pgdata = root / "pg"
    server = InMemoryTemporalDevServer if temporal_in_memory else TemporalDevServer
    temporal = server(
        db_file=root / "temporal.db",
        host="127.0.0.1",
        port=find_free_port(),
        ui_port=find_free_port(),
        log_file=root / "temporal.log",
    )
    smtp = SmtpSink(port=0)
    stack: BenchStack | None = None
    try:
        database_url = ensure_embedded_postgres(pgdata, stop_at_exit=True)
        # Alembic runs its own event loop; the benchmark already has one running on this thread.
        with ThreadPoolExecutor(max_workers=1) as migrations:
            migrations.submit(upgrade_to_head, database_url).result()
        temporal.start()
        smtp.start()
        settings = Settings(
            dev_mode=True,
            database_url=SecretStr(database_url),
            temporal_address=temporal.address,
            temporal_task_queue=f"bench-{uuid.uuid4().hex[:8]}",
            smtp_port=smtp.port,
        )
        stack = BenchStack(root, settings, database_url, temporal, smtp, pgdata=pgdata)
        yield stack
    finally:
        if stack is not None:
            stack.stop_processes()
        smtp.stop()
        temporal.stop()
        stop_embedded_postgres(pgdata)
        shutil.rmtree(root, ignore_errors=True)
