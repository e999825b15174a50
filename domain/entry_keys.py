"""Keyed entries: the value an EVENT trigger's `entryKey` reads from an event, and which calls reach a
keyed enrollment.

A trigger with `entryKey` (a dotted path into the event document as `domain.events.event_document`
builds it, e.g. `properties.cartId`) enrolls a customer once per distinct key value, in parallel. The
key is the value at the path as text: a string as is, a number or boolean as its JSON text (`42`,
`4.5`, `true`). A call has *no value* at the path when the path is missing, null or the empty string.

- Entering: a call with no value, or with a value that cannot be a key (an object or array, or text
  longer than `MAX_ENTRY_KEY_LENGTH`), starts no keyed enrollment.
- Signalling: a call with no value at a keyed enrollment's path reaches it (as every call reaches an
  unkeyed one); a call with a value reaches it only when that value's text is the enrollment's key.
"""

from __future__ import annotations

import json
from typing import Any

from domain.events import EventRecord, event_document
from domain.rules import lookup

MAX_ENTRY_KEY_LENGTH = 200


def _text(value: Any) -> str | None:
    """A scalar's key text; None for an object or array."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


def _has_value(value: Any) -> bool:
    return isinstance(value, str | bool | int | float | dict | list) and value != ""


def entry_key_of(path: str, event: EventRecord) -> str | None:
    """The key an event enters a keyed journey with; None when it cannot start a keyed enrollment."""
    value = lookup(event_document(event), path)
    if not _has_value(value):
        return None
    text = _text(value)
    if text is None or len(text) > MAX_ENTRY_KEY_LENGTH:
        return None
    return text


def reaches(path: str, key: str, document: dict[str, Any]) -> bool:
    """Whether a call (its `event_document`) reaches the enrollment entered with `key` at `path`."""
    value = lookup(document, path)
    if not _has_value(value):
        return True
    return _text(value) == key
