"""Human and ISO-8601 durations: "30 minutes", "2 hours", "3 days", "1 week", "PT30M", "P1DT2H"."""

from __future__ import annotations

import re
from datetime import timedelta

_UNIT_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
}
_UNIT_ALIASES = {
    "s": "second",
    "sec": "second",
    "secs": "second",
    "m": "minute",
    "min": "minute",
    "mins": "minute",
    "h": "hour",
    "hr": "hour",
    "hrs": "hour",
    "d": "day",
    "w": "week",
    "wk": "week",
}
_HUMAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")
_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


# What timedelta can hold (999,999,999 days): beyond it a duration is refused as too long, not crashed on.
_LONGEST = timedelta.max


def parse_duration(text: str) -> timedelta:
    """Parse a duration; raises ValueError with a message fit for an API client."""
    try:
        return _parse(text)
    except OverflowError:
        raise ValueError(f"duration {text!r} is too long (at most {_LONGEST.days:,} days)") from None


def _parse(text: str) -> timedelta:
    human = _HUMAN.match(text)
    if human:
        amount = float(human.group(1))
        unit = human.group(2).lower()
        unit = _UNIT_ALIASES.get(unit, unit.rstrip("s") if unit.endswith("s") else unit)
        if unit not in _UNIT_SECONDS:
            raise ValueError(f"unknown duration unit {human.group(2)!r}")
        return timedelta(seconds=amount * _UNIT_SECONDS[unit])
    iso = _ISO.match(text.strip().upper())
    if iso and any(iso.groupdict().values()) and not text.strip().upper().endswith("T"):
        parts = {k: float(v) for k, v in iso.groupdict().items() if v}
        return timedelta(**parts)
    raise ValueError(
        f"invalid duration {text!r}: use e.g. '30 minutes', '2 hours', '3 days', '1 week' or ISO-8601 'PT30M'"
    )
