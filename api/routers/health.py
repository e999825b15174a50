"""/health: open, reports whether the database and Temporal answer."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import Resources
from services.health import check_database, check_temporal

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(res: Resources) -> JSONResponse:
    database, temporal = await asyncio.gather(check_database(res.engine), check_temporal(res.temporal))
    ok = database.ok and temporal.ok
    body = {
        "status": "ok" if ok else "degraded",
        "checks": {
            check.name: {"ok": check.ok, **({"detail": check.detail} if check.detail else {})}
            for check in (database, temporal)
        },
    }
    return JSONResponse(body, status_code=200 if ok else 503)
