"""Journey statuses and which lifecycle verbs each allows (SPEC §6).

DRAFT → PUBLISHED ⇄ PAUSED → ARCHIVED → (restore) DRAFT;  PUBLISHED/PAUSED → (unpublish) DRAFT.
"""

from __future__ import annotations

from typing import Literal

JourneyStatus = Literal["DRAFT", "PUBLISHED", "PAUSED", "ARCHIVED"]
LifecycleAction = Literal["publish", "pause", "resume", "unpublish", "archive", "restore"]
PauseMode = Literal["all", "entry"]

ALLOWED_FROM: dict[LifecycleAction, frozenset[JourneyStatus]] = {
    "publish": frozenset({"DRAFT", "PUBLISHED"}),
    # Pausing a paused journey again switches its mode (entry ⇄ all).
    "pause": frozenset({"PUBLISHED", "PAUSED"}),
    "resume": frozenset({"PAUSED"}),
    "unpublish": frozenset({"PUBLISHED", "PAUSED"}),
    "archive": frozenset({"DRAFT", "PUBLISHED", "PAUSED"}),
    "restore": frozenset({"ARCHIVED"}),
}

RESULTING_STATUS: dict[LifecycleAction, JourneyStatus] = {
    "publish": "PUBLISHED",
    "pause": "PAUSED",
    "resume": "PUBLISHED",
    "unpublish": "DRAFT",
    "archive": "ARCHIVED",
    "restore": "DRAFT",
}

# Metadata that cannot change while the journey is live (PUBLISHED or PAUSED): moving a live
# journey to another site would strand the entries that site's events produce.
LOCKED_WHILE_LIVE = frozenset({"site_id"})


def allowed_actions(status: str) -> list[str]:
    return sorted(action for action, sources in ALLOWED_FROM.items() if status in sources)


def accepts_entries(status: str) -> bool:
    """Entry checks read this at entry time: only a PUBLISHED journey takes new customers."""
    return status == "PUBLISHED"


def is_live(status: str) -> bool:
    return status in ("PUBLISHED", "PAUSED")


def holds_in_flight(status: str | None, pause_mode: str | None) -> bool:
    """Whether in-flight enrollments must hold before their next step: paused with mode `all`."""
    return status == "PAUSED" and pause_mode == "all"
