"""How journey lifecycle changes reach in-flight enrollments: one interface for the services.

Pause (mode all) holds running enrollments at their next step, resume releases them, archive
exits them; unpublish and pause (mode entry) leave them running. The journey service calls this
after its transaction commits; the engine implements it on Temporal.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from domain.lifecycle import LifecycleAction, PauseMode


class EnrollmentControl(Protocol):
    async def lifecycle_changed(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        action: LifecycleAction,
        pause_mode: PauseMode | None,
    ) -> None: ...


class NoEnrollmentControl:
    """For processes without an engine (tools, tests of authoring alone)."""

    async def lifecycle_changed(
        self,
        tenant_id: str,
        journey_id: uuid.UUID,
        action: LifecycleAction,
        pause_mode: PauseMode | None,
    ) -> None:
        return None
