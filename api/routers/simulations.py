"""/v1/journeys/{journeyId}/simulations: what a cohort would live through if the journey ran (docs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.auth import Principal
from api.deps import Resources, Uow, parse_id, require
from api.schemas.simulations import SimulationIn, SimulationOut
from services.simulations import SYNC_COHORT, SimulationService

router = APIRouter(prefix="/v1/journeys/{journeyId}/simulations", tags=["simulations"])


@router.post(
    "",
    response_model=SimulationOut,
    responses={
        202: {"description": f"A cohort over {SYNC_COHORT:,} customers: played in the background; poll it"}
    },
)
async def simulate_journey(
    journeyId: str,  # noqa: N803
    body: SimulationIn,
    uow: Uow,
    res: Resources,
    response: Response,
    principal: Annotated[Principal, Depends(require("journey:journey:view"))],
) -> SimulationOut:
    """Play a version (or the draft) for every customer of a cohort from entry to the horizon, on a virtual
    clock, with the engine's own interpreter: their real traits and segments, splits drawn as the engine
    draws them, waits, scripted events for a share of them, goals, exit criteria, quiet hours, frequency
    caps within the simulated sends. Nothing is sent, enrolled or written besides the simulation's record.
    200 with the result; 202 (`status` RUNNING) for a cohort over the synchronous bound."""
    row = await SimulationService(uow).run(
        principal.tenant_id, parse_id(journeyId, "journey"), body.spec(), res.sessions
    )
    if row.status == "RUNNING":
        response.status_code = status.HTTP_202_ACCEPTED
    return SimulationOut.build(row)


@router.get("/{simulationId}", response_model=SimulationOut)
async def get_simulation(
    journeyId: str,  # noqa: N803
    simulationId: str,  # noqa: N803
    uow: Uow,
    principal: Annotated[Principal, Depends(require("journey:journey:view"))],
) -> SimulationOut:
    """A simulation: RUNNING, then COMPLETED with its result (or FAILED with `error`)."""
    row = await SimulationService(uow).get(
        principal.tenant_id, parse_id(journeyId, "journey"), parse_id(simulationId, "simulation")
    )
    return SimulationOut.build(row)
