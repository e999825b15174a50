"""How journey lifecycle changes reach in-flight enrollments: one interface for the services.

Pause (mode all) holds running enrollments at their next step, resume releases them, archive
exits them; unpublish and pause (mode entry) leave them running. The journey service turns a
lifecycle change into one instruction and hands it over after its transaction commits.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from domain.lifecycle import holds_in_flight
from domain.payloads import ControlInstruction


class EnrollmentControl(Protocol):
    async def apply(self, tenant_id: str, journey_id: uuid.UUID, instruction: ControlInstruction) -> None: ...


def instruction_for(
    action: str, *, previous_status: str, previous_mode: str | None, new_mode: str | None
) -> ControlInstruction | None:
    """What in-flight enrollments must do after a lifecycle change, if anything."""
    was_holding = holds_in_flight(previous_status, previous_mode)
    if action == "archive":
        return "exit"
    if action == "pause":
        if new_mode == "all":
            return None if was_holding else "hold"
        return "release" if was_holding else None
    if action in ("resume", "unpublish"):
        return "release" if was_holding else None
    return None
