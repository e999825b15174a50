"""The embedded dev stack's parts, each against the real thing (no network beyond loopback)."""

from __future__ import annotations

import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import asyncpg
import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from devstack import (
    PortInUseError,
    SmtpSink,
    TemporalDevServer,
    ensure_embedded_postgres,
    ensure_ports_free,
    find_free_port,
    read_maildir,
    stop_embedded_postgres,
    temporal_cli_path,
    temporal_test_server_path,
)
from journeys.stack import run_dev_stack
from plumbing.settings import SEARCH_ATTRIBUTES, Settings


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    # Unix socket paths are limited to ~107 bytes; pytest's tmp_path can be longer than that.
    path = Path(tempfile.mkdtemp(prefix="jpg", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.asyncio
async def test_smtp_sink_receives_over_smtp_and_fills_the_maildir(tmp_path: Path) -> None:
    maildir = tmp_path / "mailbox"
    message = EmailMessage()
    message["From"] = "journeys@localhost"
    message["To"] = "ada@example.com"
    message["Subject"] = "Welcome, Ada ✓"
    message["Message-ID"] = "<welcome-1@journeys>"
    message.set_content("Hello Ada")
    message.add_alternative("<p>Hello Ada</p>", subtype="html")

    with SmtpSink(maildir=maildir) as sink:
        await aiosmtplib.send(message, hostname="127.0.0.1", port=sink.port, timeout=5)
        received = await sink.wait_for(lambda m: m.subject.startswith("Welcome"), timeout=5)

        assert received.message_id == "<welcome-1@journeys>"
        assert received.mail_from == "journeys@localhost"
        assert received.rcpt_tos == ["ada@example.com"]
        assert received.subject == "Welcome, Ada ✓"
        assert received.text_body.strip() == "Hello Ada"
        assert received.html_body.strip() == "<p>Hello Ada</p>"
        assert received.headers["To"] == "ada@example.com"

        [stored] = read_maildir(maildir)
        assert (stored.message_id, stored.subject, stored.text_body) == (
            received.message_id,
            received.subject,
            received.text_body,
        )
        assert (stored.mail_from, stored.rcpt_tos) == (received.mail_from, received.rcpt_tos)
        assert "X-Sink-Mail-From" not in stored.headers

        sink.clear()
        assert sink.messages() == []
        assert read_maildir(maildir) == []
        with pytest.raises(TimeoutError, match="no matching message"):
            await sink.wait_for(lambda m: True, timeout=0.2)


def test_ensure_ports_free_names_the_taken_port() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        free = find_free_port()

        ensure_ports_free("127.0.0.1", [(free, "SMTP sink", "JOURNEYS_SMTP_PORT")])
        with pytest.raises(PortInUseError) as raised:
            ensure_ports_free(
                "127.0.0.1",
                [
                    (free, "SMTP sink", "JOURNEYS_SMTP_PORT"),
                    (taken, "Temporal Web UI", "JOURNEYS_TEMPORAL_UI_PORT"),
                ],
            )
    assert raised.value.port == taken
    assert str(raised.value) == (
        f"port {taken} (Temporal Web UI) is already in use on 127.0.0.1 — "
        "stop whatever holds it or set JOURNEYS_TEMPORAL_UI_PORT"
    )


def test_dev_stack_refuses_to_start_when_a_port_is_taken(short_tmp: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        settings = Settings(
            data_dir=short_tmp / "data",
            api_port=holder.getsockname()[1],
            temporal_address=f"127.0.0.1:{find_free_port()}",
            temporal_ui_port=find_free_port(),
            smtp_port=find_free_port(),
        )
        assert run_dev_stack(settings) == 2
    assert not (short_tmp / "data").exists()


@pytest.mark.asyncio
async def test_embedded_postgres_keeps_data_across_restarts(short_tmp: Path) -> None:
    pgdata = short_tmp / "pg"
    try:
        url = ensure_embedded_postgres(pgdata, database="journeys_test", stop_at_exit=True)
        assert url == f"postgresql://postgres@/journeys_test?host={pgdata}"
        connection = await asyncpg.connect(url)
        await connection.execute("CREATE TABLE kept (id int primary key)")
        await connection.execute("INSERT INTO kept VALUES (42)")
        await connection.close()

        stop_embedded_postgres(pgdata)
        assert not (pgdata / "postmaster.pid").exists()

        assert ensure_embedded_postgres(pgdata, database="journeys_test", stop_at_exit=True) == url
        connection = await asyncpg.connect(url)
        assert await connection.fetchval("SELECT id FROM kept") == 42
        await connection.close()
    finally:
        stop_embedded_postgres(pgdata)


@pytest.mark.asyncio
async def test_temporal_dev_server_registers_search_attributes_and_restarts(
    short_tmp: Path,
) -> None:
    # The first start has the registry of a release before JourneyName: a data dir kept from then
    # gets the newer attribute on the next start.
    older = {name: kind for name, kind in SEARCH_ATTRIBUTES.items() if name != "JourneyName"}
    server = TemporalDevServer(
        db_file=short_tmp / "temporal.db",
        host="127.0.0.1",
        port=find_free_port(),
        ui_port=find_free_port(),
        log_file=short_tmp / "logs" / "temporal.log",
        search_attributes=older,
    )
    try:
        for registry in (older, SEARCH_ATTRIBUTES):  # the second start reuses the same db file
            server.search_attributes = dict(registry)
            expected = {
                name: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{kind.upper()}")
                for name, kind in registry.items()
            }
            started = time.monotonic()
            server.start()
            assert time.monotonic() - started < 15
            client = await Client.connect(server.address)
            response = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace="default")
            )
            assert {name: response.custom_attributes.get(name) for name in expected} == expected
            assert response.custom_attributes.get("JourneyName") == (
                IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD if registry is SEARCH_ATTRIBUTES else None
            )
            server.stop()
            assert server.exit_code() is not None
    finally:
        server.stop()


def test_temporal_binaries_are_installed() -> None:
    for path in (temporal_cli_path(), temporal_test_server_path()):
        mode = Path(path).stat().st_mode
        assert stat.S_ISREG(mode) and mode & stat.S_IXUSR


def test_dev_stack_gives_api_worker_and_dispatcher_their_own_metrics_address() -> None:
    from journeys.stack import _metrics_addresses

    assert _metrics_addresses(None) == {}
    assert _metrics_addresses("127.0.0.1:9464") == {
        "api": "127.0.0.1:9464",
        "worker": "127.0.0.1:9465",
        "dispatcher": "127.0.0.1:9466",
    }
