"""`journeys replay-check` against a live dev server: running enrollments' histories (encrypted, so the
codec must be the worker's) replay on today's code (exit 0), are caught as nondeterministic on a careless
variant of the enrollment workflow (exit 1), and an unreachable server is exit 2."""

from __future__ import annotations

import asyncio
import io
import os
import sys

import pytest
from pydantic import SecretStr
from rich.console import Console
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from journeys.replay_check import (
    EXIT_NONDETERMINISTIC,
    EXIT_UNREACHABLE,
    readable,
    replay_running,
    run_replay_check,
    visibility_query,
)
from plumbing.codec import data_converter, generate_key
from plumbing.settings import Settings
from tests.conftest import ApiClientFor, RunWorker
from tests.replay.careless_workflow import ReorderedEnrollmentWorkflow
from tests.support import END, TRIGGER, awaiting, chain, enroll, eventually, handle_of, publish

CUSTOMERS = ("ada", "bob")


def nap(node_id: str) -> dict[str, object]:
    return {"id": node_id, "type": "WAIT", "name": node_id, "config": {"duration": "1 hour"}}


async def run_command(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "journeys",
        "replay-check",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_replay_check_passes_on_todays_code_and_catches_a_careless_change(
    api_client_for: ApiClientFor, dev_env: WorkflowEnvironment, run_worker: RunWorker, settings: Settings
) -> None:
    key = generate_key()
    settings.payload_encryption_key = SecretStr(key)
    config = dev_env.client.config()
    config["data_converter"] = data_converter(settings)  # the worker's and the API's: encrypting
    client = Client(**config)
    address = client.service_client.config.target_host
    async with api_client_for(client) as http, run_worker(client):
        journey_id = await publish(http, chain(TRIGGER, nap("nap"), END))
        handles = [handle_of(client, journey_id, customer) for customer in CUSTOMERS]
        for customer, handle in zip(CUSTOMERS, handles, strict=True):
            await enroll(http, journey_id, customer)
            await awaiting(handle, "time")

    try:
        query = visibility_query(journey_id)

        async def listed() -> bool:
            return (await client.count_workflows(query)).count == len(CUSTOMERS)

        await eventually(listed)  # visibility is eventually consistent

        # The command as an operator runs it, configured like the worker (address, codec key).
        env = {
            "JOURNEYS_TEMPORAL_ADDRESS": address,
            "JOURNEYS_TEMPORAL_NAMESPACE": client.namespace,
            "JOURNEYS_PAYLOAD_ENCRYPTION_KEY": key,
        }
        code, stdout, stderr = await run_command("--journey", journey_id, env=env)
        assert code == 0, stdout + stderr
        assert "replay-check: 2 histories replayed, 0 nondeterministic" in stdout

        # --limit bounds what is fetched.
        one = await replay_running(client, data_converter(settings), journey_id=journey_id, limit=1)
        assert (one.replayed, one.failures) == (1, []), one

        # The same histories against a careless edit (a timer first, no `workflow.patched`).
        out = io.StringIO()
        code = await run_replay_check(
            settings.model_copy(update={"temporal_address": address}),
            journey_id=journey_id,
            out=Console(file=out, width=200),
            progress_console=Console(file=io.StringIO()),
            workflows=[ReorderedEnrollmentWorkflow],
        )
        printed = out.getvalue()
        assert code == EXIT_NONDETERMINISTIC, printed
        assert "replay-check: 2 histories replayed, 2 nondeterministic" in printed
        for handle in handles:
            assert f"nondeterministic {handle.id}: [TMPRL1100] Nondeterminism error" in printed

        # Without the worker's codec the encrypted histories do not replay either: the key matters.
        report = await replay_running(client, pydantic_data_converter, journey_id=journey_id)
        assert report.replayed == 2 and len(report.failures) == 2, report
        assert report.nondeterministic == 0 and report.exit_code == EXIT_NONDETERMINISTIC
        assert all("binary/encrypted" in failure.error for failure in report.failures), report
    finally:
        for handle in handles:
            await handle.terminate(reason="replay-check test done")


async def test_replay_check_says_when_temporal_is_unreachable() -> None:
    err = io.StringIO()
    code = await run_replay_check(
        Settings(temporal_address="127.0.0.1:1"),
        out=Console(file=io.StringIO()),
        progress_console=Console(file=err, width=200),
    )
    assert code == EXIT_UNREACHABLE
    assert "cannot connect to Temporal at 127.0.0.1:1" in err.getvalue()


def test_the_query_names_the_journey_and_refuses_what_could_break_out_of_it() -> None:
    assert visibility_query("j-1") == (
        'WorkflowType = "EnrollmentWorkflow" AND ExecutionStatus = "Running" AND JourneyId = "j-1"'
    )
    with pytest.raises(ValueError, match="not a journey id"):
        visibility_query('x" OR JourneyId != "')


def test_a_failure_reads_as_its_messages_not_cores_dump() -> None:
    dump = (
        'Workflow activation completion failed: Failure { failure: Some(Failure { message: "Failed decoding'
        ' arguments", cause: Some(Failure { message: "\'Unknown payload encoding binary/encrypted\'" }) }) }'
    )
    assert (
        readable(RuntimeError(dump))
        == "Failed decoding arguments: 'Unknown payload encoding binary/encrypted'"
    )
    assert readable(RuntimeError("plain")) == "plain"
