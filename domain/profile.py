"""Profile updates (UPDATE nodes): set, unset, add, remove, increment on dotted trait paths."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from domain.definition import ProfileUpdate


class ProfileUpdateError(ValueError):
    """An update that cannot apply to these traits (e.g. incrementing text): a business failure."""


def apply_updates(traits: dict[str, Any], updates: Sequence[ProfileUpdate]) -> dict[str, Any]:
    """Return new traits with every update applied in order; the input is not modified."""
    result = copy.deepcopy(traits)
    for update in updates:
        parent, key = _parent(result, update.field)
        current = parent.get(key)
        if update.action == "set":
            parent[key] = update.value
        elif update.action == "unset":
            parent.pop(key, None)
        elif update.action == "increment":
            step = 1 if update.value is None else update.value
            if not _is_number(step) or (current is not None and not _is_number(current)):
                raise ProfileUpdateError(f"cannot increment {update.field!r} ({current!r}) by {step!r}")
            parent[key] = (current or 0) + step
        else:
            items = [] if current is None else current
            if not isinstance(items, list):
                raise ProfileUpdateError(f"{update.field!r} is not a list, cannot {update.action} items")
            values = update.value if isinstance(update.value, list) else [update.value]
            if update.action == "add":
                parent[key] = items + [v for v in values if v not in items]
            else:
                parent[key] = [item for item in items if item not in values]
    return result


def _parent(traits: dict[str, Any], dotted: str) -> tuple[dict[str, Any], str]:
    *path, key = dotted.split(".")
    node = traits
    for part in path:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ProfileUpdateError(f"{part!r} in {dotted!r} is not an object")
        node = child
    return node, key


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
