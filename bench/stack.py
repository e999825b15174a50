"""A throwaway stack for one benchmark run: embedded PostgreSQL, a fresh Temporal dev server, an
SMTP sink and a worker process, all on free ports under a temporary directory, all stopped after."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from journeys.devstack import (
    SmtpSink,
    TemporalDevServer,
    ensure_embedded_postgres,
    find_free_port,
    stop_embedded_postgres,
)
from journeys.settings import Settings
from store.migrate import upgrade_to_head


@dataclass
class BenchStack:
    root: Path
    settings: Settings
    database_url: str
    temporal: TemporalDevServer
    smtp: SmtpSink
    worker: subprocess.Popen[bytes] | None = None

    def start_worker(self) -> int:
        env = {
            **os.environ,
            "JOURNEYS_DATABASE_URL": self.database_url,
            "JOURNEYS_TEMPORAL_ADDRESS": self.temporal.address,
            "JOURNEYS_TEMPORAL_TASK_QUEUE": self.settings.temporal_task_queue,
            "JOURNEYS_SMTP_HOST": self.smtp.host,
            "JOURNEYS_SMTP_PORT": str(self.smtp.port),
            "JOURNEYS_DEV_MODE": "true",
        }
        log = (self.root / "worker.log").open("ab")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "bench.worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        return self.worker.pid

    def worker_memory_mib(self) -> tuple[float, float]:
        """(current RSS, peak RSS) of the worker process, from /proc."""
        assert self.worker is not None
        fields: dict[str, float] = {}
        for line in Path(f"/proc/{self.worker.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
        return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


@contextmanager
def bench_stack() -> Iterator[BenchStack]:
    root = Path(tempfile.mkdtemp(prefix="jbench", dir="/tmp"))
    pgdata = root / "pg"
    temporal = TemporalDevServer(
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
        stack = BenchStack(root, settings, database_url, temporal, smtp)
        yield stack
    finally:
        if stack is not None and stack.worker is not None:
            stack.worker.terminate()
            stack.worker.wait(timeout=30)
        smtp.stop()
        temporal.stop()
        stop_embedded_postgres(pgdata)
        shutil.rmtree(root, ignore_errors=True)
