"""Journey statuses and which lifecycle verbs each allows (SPEC §6)."""

from __future__ import annotations

from typing import Literal

JourneyStatus = Literal["DRAFT", "PUBLISHED", "PAUSED", "ARCHIVED"]
LifecycleAction = Literal["publish", "pause", "resume", "unpublish", "archive", "restore"]

ALLOWED_FROM: dict[LifecycleAction, frozenset[JourneyStatus]] = {
    "publish": frozenset({"DRAFT", "PUBLISHED"}),
    "pause": frozenset({"PUBLISHED"}),
    "resume": frozenset({"PAUSED"}),
    "unpublish": frozenset({"PUBLISHED", "PAUSED"}),
    "archive": frozenset({"DRAFT", "PUBLISHED", "PAUSED"}),
    "restore": frozenset({"ARCHIVED"}),
}


def allowed_actions(status: str) -> list[str]:
    return sorted(action for action, sources in ALLOWED_FROM.items() if status in sources)


def accepts_entries(status: str) -> bool:
    return status == "PUBLISHED"
