"""`journeys enrollment …`: an operator's actions on one enrollment, through the API.

Each command is one `POST /v1/journeys/{id}/enrollments/{enrollmentId}/actions`, so the same scope
(`journey:enrollment:edit`), tenant isolation and audit log apply as to any other caller. The API is
`--api` (default JOURNEYS_PUBLIC_URL, else the API's own address); the token is `--token` or
JOURNEYS_TOKEN, else, on a dev machine, one minted with the dev secret `make run` keeps.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from plumbing.settings import get_settings

enrollment_app = typer.Typer(
    no_args_is_help=True,
    help="Steer one enrollment: skip or move its wait, move it to a node, pause, resume, exit.",
)
out = Console()
err = Console(stderr=True)

JourneyArg = Annotated[str, typer.Argument(help="The journey's id")]
EnrollmentArg = Annotated[str, typer.Argument(help="The enrollment's id")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (kept in the audit log and timeline)")]
ApiOpt = Annotated[str | None, typer.Option("--api", help="The API's base URL")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Bearer token (default JOURNEYS_TOKEN)")]


def _token(given: str | None) -> str:
    token = given or os.environ.get("JOURNEYS_TOKEN")
    if token:
        return token
    from api.auth import ALL_SCOPES, mint_token
    from devstack.resources import jwt_secret

    settings = get_settings()
    try:
        secret = jwt_secret(settings, allow_dev_file=True)
    except RuntimeError:
        err.print("[red]no token: pass --token or set JOURNEYS_TOKEN[/red]")
        raise typer.Exit(2) from None
    return mint_token(
        secret=secret,
        tenant="dev",
        scopes=list(ALL_SCOPES),
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        subject="cli",
    )


def _act(journey: str, enrollment: str, body: dict[str, Any], api: str | None, token: str | None) -> None:
    base = (api or get_settings().public_base_url()).rstrip("/")
    url = f"{base}/v1/journeys/{journey}/enrollments/{enrollment}/actions"
    try:
        response = httpx.post(
            url,
            json={k: v for k, v in body.items() if v is not None},
            headers={"Authorization": f"Bearer {_token(token)}"},
            timeout=60,
        )
    except httpx.HTTPError as error:
        err.print(f"[red]could not reach the API at {base}: {error}[/red]")
        raise typer.Exit(2) from None
    if response.status_code != 200:
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text}
        err.print(
            f"[red]{response.status_code} {problem.get('title', '')}[/red]: {problem.get('detail', '')}"
        )
        for issue in problem.get("errors", []):
            err.print(f"  {'.'.join(str(part) for part in issue.get('loc', []))}: {issue.get('msg')}")
        raise typer.Exit(1)
    _show(response.json())


def _show(state: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    for label, key in (
        ("status", "status"),
        ("at", "currentStepId"),
        ("waiting on", "awaiting"),
        ("until", "waitingUntil"),
        ("paused", "paused"),
        ("version", "version"),
        ("exit reason", "exitReason"),
    ):
        value = state.get(key)
        if value is not None:
            table.add_row(f"[bold]{label}[/bold]", str(value))
    out.print(table)


@enrollment_app.command("skip-wait")
def skip_wait(
    journey: JourneyArg,
    enrollment: EnrollmentArg,
    reason: ReasonOpt = None,
    api: ApiOpt = None,
    token: TokenOpt = None,
) -> None:
    """End the current WAIT / WAIT_FOR_EVENT (its timeout branch) / quiet-hours hold now."""
    _act(journey, enrollment, {"action": "skipWait", "reason": reason}, api, token)


@enrollment_app.command("set-wait")
def set_wait(
    journey: JourneyArg,
    enrollment: EnrollmentArg,
    until: Annotated[datetime, typer.Option("--until", help="The new deadline, ISO 8601 with a zone")],
    reason: ReasonOpt = None,
    api: ApiOpt = None,
    token: TokenOpt = None,
) -> None:
    """Move the current wait's deadline (earlier or later)."""
    _act(journey, enrollment, {"action": "setWait", "until": until.isoformat(), "reason": reason}, api, token)


@enrollment_app.command("move-to")
def move_to(
    journey: JourneyArg,
    enrollment: EnrollmentArg,
    node: Annotated[str, typer.Option("--node", help="A node of the enrollment's version")],
    reason: ReasonOpt = None,
    api: ApiOpt = None,
    token: TokenOpt = None,
) -> None:
    """Continue from another node of the same version."""
    _act(journey, enrollment, {"action": "moveTo", "nodeId": node, "reason": reason}, api, token)


@enrollment_app.command("exit")
def exit_enrollment(
    journey: JourneyArg,
    enrollment: EnrollmentArg,
    reason: ReasonOpt = None,
    api: ApiOpt = None,
    token: TokenOpt = None,
) -> None:
    """End the enrollment now (EXITED, with the reason)."""
    _act(journey, enrollment, {"action": "exit", "reason": reason}, api, token)


@enrollment_app.command("pause")
def pause(
    journey: JourneyArg,
    enrollment: EnrollmentArg,
    reason: ReasonOpt = None,
    api: ApiOpt = None,
    token: TokenOpt = None,
) -> None:
    """Hold the enrollment before its next step until resumed."""
    _act(journey, enrollment, {"action": "pause", "reason": reason}, api, token)


@enrollment_app.command("resume")
def resume(
    journey: JourneyArg,
    enrollment: EnrollmentArg,
    reason: ReasonOpt = None,
    api: ApiOpt = None,
    token: TokenOpt = None,
) -> None:
    """Release a paused enrollment."""
    _act(journey, enrollment, {"action": "resume", "reason": reason}, api, token)
