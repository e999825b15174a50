"""/health: open, reports whether the database and Temporal answer (503 when either does not), and
the dispatch backlog (details only: a lagging dispatcher does not make the API unhealthy)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.deps import Resources, refuse_unknown_query
from services.health import check_database, check_dispatch, check_temporal

router = APIRouter(tags=["health"])


DEGRADED = {
    "status": "degraded",
    "checks": {
        "database": {"ok": True},
        "temporal": {"ok": False, "detail": "connection refused"},
        "dispatch": {"ok": True, "pending": 12, "lagSeconds": 3.5, "failed": 0},
    },
}


@router.get(
    "/health",
    dependencies=[Depends(refuse_unknown_query)],
    responses={
        503: {
            "description": "PostgreSQL or Temporal does not answer: the same report, naming which",
            "content": {"application/json": {"example": DEGRADED}},
        }
    },
)
async def health(res: Resources) -> JSONResponse:
    """Open (no token). 200 when PostgreSQL and Temporal both answer; else 503 with the one that did not.
    `checks.dispatch` reports the event outbox backlog (pending, lagSeconds, failed) without making the
    API unhealthy."""
    database, temporal, dispatch = await asyncio.gather(
        check_database(res.engine), check_temporal(res.temporal), check_dispatch(res.engine)
    )
    ok = database.ok and temporal.ok
    checks: dict[str, object] = {
        check.name: {"ok": check.ok, **({"detail": check.detail} if check.detail else {})}
        for check in (database, temporal)
    }
    if dispatch is not None:
        checks["dispatch"] = {
            "ok": dispatch.ok,
            "pending": dispatch.pending,
            "lagSeconds": dispatch.lag_seconds,
            "failed": dispatch.failed,
        }
    body = {"status": "ok" if ok else "degraded", "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)
