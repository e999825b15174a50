"""Enrollment context: what an enrollment carries besides its position — the event it entered on, the
last event a WAIT_FOR_EVENT matched — and the documents templates and rules read it from.

Roots a template or a rule may name (`CONTEXT_ROOTS`):
- `traits`: the customer's traits, read fresh (at the send, or when a CONDITION is reached);
- `customer`: `id` and the traits, at top level (templates);
- `entry`: the entry event — `event` (its name, or its type for page/identify/…), `properties`,
  `timestamp`, `messageId`; absent for an enrollment not started by an event;
- `event`: the last event a WAIT_FOR_EVENT matched, same shape; until one has, the entry event;
- `journey`: `id`, `name`, `version`;
- `unsubscribe_url`, `preferences_url` (templates only): the recipient's one-click unsubscribe link for
  the send's subscription group and their preferences page, made at the send; "" on a transactional send
  (and on a WEBHOOK send naming no group), which belongs to no group.

Bound: each carried event's `properties` may take `MAX_CONTEXT_PROPERTIES_BYTES` of JSON; a larger one
is carried without them (`propertiesDropped`), so a path into them does not resolve and says why. With
both events at the bound a context stays near 33 KiB, far under Temporal's payload limit; it travels
only inside payloads (workflow input and state, the send request), which the payload codec encrypts.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from pydantic import Field

from domain.wire import WireModel

if TYPE_CHECKING:
    from domain.events import EventRecord

CONTEXT_ROOTS: Final = (
    "traits",
    "customer",
    "entry",
    "event",
    "journey",
    "unsubscribe_url",
    "preferences_url",
)
# Roots a rule's `valueFrom` may name (a CONDITION also reads `traits`; templates read them all).
VALUE_ROOTS: Final = ("entry", "event", "journey", "traits")
MAX_CONTEXT_PROPERTIES_BYTES: Final = 16 * 1024


class ContextEvent(WireModel):
    """One event as an enrollment carries it."""

    event: str
    properties: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime
    message_id: str
    properties_dropped: bool = False

    @classmethod
    def of(cls, record: EventRecord) -> ContextEvent:
        name = record.name if record.type == "track" else record.type
        size = len(json.dumps(record.properties, default=str, separators=(",", ":")))
        dropped = size > MAX_CONTEXT_PROPERTIES_BYTES
        return cls(
            event=name,
            properties={} if dropped else record.properties,
            timestamp=record.timestamp,
            message_id=record.id,
            properties_dropped=dropped,
        )

    def document(self) -> dict[str, Any]:
        """As templates and rules see it: `event`, `properties`, `timestamp` (ISO 8601), `messageId`."""
        return {
            "event": self.event,
            "properties": self.properties,
            "timestamp": self.timestamp.isoformat(),
            "messageId": self.message_id,
        }


class JourneyRef(WireModel):
    id: str
    name: str = ""
    version: int = 0


class UnresolvedPathError(ValueError):
    """A `valueFrom` path (or a template variable) this enrollment's context does not have."""

    def __init__(self, path: str, why: str | None = None) -> None:
        self.path = path
        super().__init__(
            f"{path!r} does not resolve in this enrollment's context" + (f": {why}" if why else "")
        )


def context_document(
    entry: ContextEvent | None, matched: ContextEvent | None, journey: JourneyRef | None
) -> dict[str, Any]:
    """`entry`, `event` and `journey` as templates and rules read them (absent roots are left out)."""
    document: dict[str, Any] = {}
    if entry is not None:
        document["entry"] = entry.document()
    current = matched or entry
    if current is not None:
        document["event"] = current.document()
    if journey is not None:
        document["journey"] = journey.model_dump(mode="json")
    return document


def why_unresolved(path: str, entry: ContextEvent | None, matched: ContextEvent | None) -> str | None:
    """A reason to add when `path` does not resolve (the root is absent, or its properties were dropped)."""
    root, _, rest = path.partition(".")
    carried = entry if root == "entry" else (matched or entry) if root == "event" else None
    if root in ("entry", "event") and carried is None:
        return "this enrollment did not start from an event" if root == "entry" else "no event yet"
    if carried is not None and carried.properties_dropped and rest.startswith("properties"):
        return f"its properties were over {MAX_CONTEXT_PROPERTIES_BYTES} bytes and were not kept"
    return None
