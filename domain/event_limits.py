"""Bounds an event must keep before it is accepted, so that poison input never breaks what was stored.

An event that is accepted is stored as JSONB, handed to Temporal workflows and read back for as long as
an enrollment lives: a value PostgreSQL, Python or the workflow cannot hold must be refused at the edge,
before anything is committed. The checks here are pure (stdlib and pydantic only) and shared by the
Segment tracking routes (per event: a bad event is skipped, the batch goes on) and `/v1/events` (422):

- nesting: each field (`properties`, `traits`, `context`, any extra field) nests at most `MAX_DEPTH`
  levels, the field's own object or array being level 1;
- numbers: finite only — `NaN`, `Infinity`, `-Infinity`, and literals beyond the float range such as
  `1e400` (which Python's json reads as infinity) are refused, as are integers too long to convert;
- text: no NUL character and no lone surrogate, in values and in keys (neither is storable);
- timestamps: must stay within years 1–9999 once converted to UTC (`0001-01-01T00:00:00+14:00`
  does not), the two end instants excluded (the database driver reads them as ±infinity);
- sizes: an event at most 32 KB, a request at most 500 KB and 500 events (as Segment's API).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

MAX_EVENT_BYTES: Final = 32 * 1024
MAX_BATCH_BYTES: Final = 500 * 1024
MAX_BATCH_EVENTS: Final = 500
MAX_DEPTH: Final = 32
EXCERPT_CHARS: Final = 2048

# Reason codes of a refused value (also labels of journeys_events_rejected_total).
TOO_DEEP: Final = "too_deep"
NON_FINITE_NUMBER: Final = "non_finite_number"
UNSTORABLE_TEXT: Final = "unstorable_text"
INVALID_TIMESTAMP: Final = "invalid_timestamp"
TOO_LARGE: Final = "too_large"

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class EventIssue:
    """One thing wrong with an event: a stable `code`, where (`loc`, a path of keys and indexes), what."""

    code: str
    loc: Loc
    message: str


class BadNumber:
    """A JSON number Python cannot hold as a finite value, kept as its literal so the event can still
    be quoted in its rejection (`NaN`, `Infinity`, `1e400`, an integer of 5000 digits)."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal

    def __repr__(self) -> str:
        return f"BadNumber({self.literal!r})"


def dotted(loc: Loc, *, limit: int = 8) -> str:
    """`properties.items[2].sku`, shortened in the middle of very deep paths."""
    parts = list(loc)
    shown = parts if len(parts) <= limit else [*parts[: limit - 2], "…", parts[-1]]
    text = ""
    for part in shown:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += part if not text else f".{part}"
    return text or "(the event)"


def text_issue(value: str) -> str | None:
    if "\x00" in value:
        return "text must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "text must be valid Unicode (no lone surrogates)"
    return None


# A place inside a value, built only as deep as the walk goes: (parent place, key or index).
_Place = tuple[Any, str | int] | None


def _loc(place: _Place, root: Loc) -> Loc:
    parts: list[str | int] = []
    while place is not None:
        place, part = place
        parts.append(part)
    return (*root, *reversed(parts))


def _scalar_issue(value: Any) -> tuple[str, str] | None:
    """(code, message) when a non-container value cannot be kept."""
    if isinstance(value, str):
        problem = text_issue(value)
        return (UNSTORABLE_TEXT, problem) if problem else None
    if isinstance(value, float):
        if math.isfinite(value):
            return None
    elif not isinstance(value, BadNumber):
        return None
    shown = value.literal[:40] if isinstance(value, BadNumber) else str(value)
    return (
        NON_FINITE_NUMBER,
        f"{shown} is not a finite number (NaN, Infinity and numbers beyond ±1.8e308 are refused)",
    )


def check_value(value: Any, loc: Loc = ()) -> EventIssue | None:
    """The first bound `value` breaks (depth, non-finite number, unstorable text), or None. `loc` is
    where `value` is (`("properties",)`); the issue's `loc` and message name the place inside it.

    Iterative, so that a value nested thousands of levels deep is refused, not a RecursionError; and
    cheap per leaf (a batch of 500 KB is walked once per request), paths being built only for an issue.
    """
    if not isinstance(value, dict | list):
        found = _scalar_issue(value)
        return None if found is None else EventIssue(found[0], loc, f"{dotted(loc)}: {found[1]}")
    stack: list[tuple[Any, int, _Place]] = [(value, 1, None)]
    while stack:
        container, depth, place = stack.pop()
        if depth > MAX_DEPTH:
            where = _loc(place, loc)
            field = dotted(where[:1]) if where else "the value"
            return EventIssue(
                TOO_DEEP, where, f"{field} nests deeper than {MAX_DEPTH} levels (at {dotted(where)})"
            )
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, child in items:
            if isinstance(key, str) and (problem := text_issue(key)):
                where = _loc(place, loc)
                return EventIssue(UNSTORABLE_TEXT, where, f"{dotted(where)}: a key: {problem}")
            if isinstance(child, dict | list):
                stack.append((child, depth + 1, (place, key)))
            elif child is not None and not isinstance(child, bool | int) and (found := _scalar_issue(child)):
                where = _loc((place, key), loc)
                return EventIssue(found[0], where, f"{dotted(where)}: {found[1]}")
    return None


# The first and last instants Python holds are what asyncpg writes for PostgreSQL's -infinity and
# infinity: an event stamped with either would come back as a naive, infinite time. Both are refused.
EARLIEST: Final = datetime.min.replace(tzinfo=UTC)
LATEST: Final = datetime.max.replace(tzinfo=UTC)


def check_timestamp(value: datetime) -> datetime:
    """The timestamp, made aware (naive means UTC); ValueError unless it is a finite instant strictly
    between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z once converted to UTC."""
    aware = value if value.tzinfo is not None and value.utcoffset() is not None else value.replace(tzinfo=UTC)
    try:
        utc = aware.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST < utc < LATEST:
        raise ValueError(
            f"{value.isoformat()} is outside what can be stored: the years 1–9999 in UTC "
            "(0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z themselves excluded)"
        )
    return aware


# --- JSON that cannot sink a batch -----------------------------------------------------------------

_RAW_DEPTH_CUT = 64  # far beyond MAX_DEPTH plus the envelope, far below Python's recursion limit
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def _parse_float(literal: str) -> float | BadNumber:
    number = float(literal)
    return number if math.isfinite(number) else BadNumber(literal)


def _parse_int(literal: str) -> int | BadNumber:
    try:
        return int(literal)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        return BadNumber(literal)


def _loads(text: str) -> Any:
    return json.loads(text, parse_float=_parse_float, parse_int=_parse_int, parse_constant=BadNumber)


def _cut_deep(text: str) -> str:
    """`text` with every array or object nested deeper than `_RAW_DEPTH_CUT` replaced by `null`.

    What is left still nests deeper than `MAX_DEPTH` wherever something was cut, so the events
    holding it are still refused (as too deep) one by one, instead of the whole request failing.
    """
    pieces: list[str] = []
    depth = 0
    kept_from = 0
    cut_from = -1
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token[0] == '"':
            continue
        if token in "[{":
            depth += 1
            if depth == _RAW_DEPTH_CUT + 1:
                cut_from = match.start()
        elif depth > 0:
            if depth == _RAW_DEPTH_CUT + 1 and cut_from >= 0:
                pieces.append(text[kept_from:cut_from])
                pieces.append("null")
                kept_from = match.end()
                cut_from = -1
            depth -= 1
    pieces.append(text[kept_from:])
    return "".join(pieces)


def loads(text: str) -> Any:
    """Parse JSON without letting one value spoil the rest: non-finite and unconvertible numbers come
    back as `BadNumber` (for `check_value` to refuse), and nesting too deep for Python's parser is cut
    (see `_cut_deep`). ValueError when the text is not JSON."""
    try:
        return _loads(text)
    except RecursionError:
        return _loads(_cut_deep(text))


# --- quoting a refused event -----------------------------------------------------------------------


class _Raw(str):
    """Text already in JSON form (punctuation), as opposed to a string value to quote."""


def _scalar(value: Any) -> str:
    if isinstance(value, BadNumber):
        return value.literal
    try:
        quoted = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        quoted = json.dumps(repr(value), ensure_ascii=False)
    # Lone surrogates become \udXXX escapes; NUL is already escaped by json: the quote is storable.
    return quoted.encode("utf-8", "backslashreplace").decode("utf-8")


def _pieces(value: Any) -> Iterator[str]:
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            yield item
        elif isinstance(item, dict):
            entries = list(item.items())
            stack.append(_Raw("}"))
            for index in range(len(entries) - 1, -1, -1):
                key, child = entries[index]
                stack.append(child)
                stack.append(_Raw(("," if index else "") + _scalar(str(key)) + ":"))
            yield "{"
        elif isinstance(item, list):
            stack.append(_Raw("]"))
            for index in range(len(item) - 1, -1, -1):
                stack.append(item[index])
                if index:
                    stack.append(_Raw(","))
            yield "["
        else:
            yield _scalar(item)


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """`value` as JSON-like text, cut after `limit` characters; safe for any parsed value (deep,
    non-finite, unstorable text) and always storable as PostgreSQL text."""
    parts: list[str] = []
    size = 0
    for piece in _pieces(value):
        if size + len(piece) > limit:
            parts.append(piece[: max(0, limit - size)])
            parts.append("…")
            break
        parts.append(piece)
        size += len(piece)
    return "".join(parts)


def json_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON (call it on values `check_value` passed)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
