"""Wall-clock arithmetic for WAIT nodes, quiet hours and SEND time windows: pure and DST-safe.

Nothing here reads a clock: `now` is always passed in, and every returned instant is a timezone-aware
UTC datetime. Local times are interpreted in an IANA zone (`resolve_zone`).

How a local wall time on a given date becomes one instant (`_first_instant_showing`):
- a wall time that occurs twice (the clock falls back) is its FIRST occurrence, so a wait never ends an
  hour "late" and a wall time on a given date always names exactly one instant;
- a wall time that never occurs (the clock springs forward over it) is the instant the clock jumps,
  i.e. the first valid instant after the gap: 02:30 on Europe/Paris's spring-forward day is 03:00 CEST.
  The intended moment has passed by then, and nothing earlier showed a later wall time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.durations import parse_duration

_WALL_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ISO_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_WEEKDAYS = range(1, 8)
# Weekday filters look at most a week ahead; the slack covers a date skipped outright (Pacific/Apia, 2011).
_DAYS_TO_SEARCH = 15


def resolve_zone(customer_zone: str | None, journey_zone: str) -> ZoneInfo:
    """The customer's IANA zone if it names one, else the journey's, else UTC; never raises.

    Customer zones come from free-form profile traits, so anything (empty, misspelt, a path, not a string)
    silently falls back rather than failing the enrollment.
    """
    for key in (customer_zone, journey_zone):
        if isinstance(key, str) and key:
            try:
                return ZoneInfo(key)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                continue
    return ZoneInfo("UTC")


WEEKDAY_NAMES: dict[str, int] = {
    name: number
    for number, names in enumerate(
        (
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ),
        start=1,
    )
    for name in names
}
# How many hold recomputations `send_hold_end` tries before it gives the quiet hours up (a window wholly
# inside them never opens; publish refuses that, this is the belt to that brace).
_HOLD_ROUNDS = 64


def weekday_number(value: object) -> int | None:
    """An ISO weekday (1=Monday .. 7=Sunday) from a number or an English name ("mon", "Monday"); None
    when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in _ISO_WEEKDAYS else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            return weekday_number(int(text))
        return WEEKDAY_NAMES.get(text)
    return None


def zone_named(key: object) -> ZoneInfo | None:
    """The IANA zone `key` names, or None (not a string, empty, unknown, a path)."""
    if not isinstance(key, str) or not key:
        return None
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def is_wall_time(text: object) -> bool:
    """Whether `text` is a local time 'HH:MM' (00:00 to 23:59)."""
    return isinstance(text, str) and _WALL_TIME.match(text) is not None


def in_window(now: datetime, days: Sequence[int], start: str | None, end: str | None, zone: ZoneInfo) -> bool:
    """Whether the clock in `zone` at `now` is inside a SEND's time window.

    `days` are ISO weekdays (empty: every day). Without `start`/`end` the window is the whole of each
    day. `start` after `end` is a window across midnight: the stretch after midnight belongs to the day
    the window opened (a Friday 22:00-06:00 window holds Saturday 05:00, not Friday 05:00). Membership is
    by wall clock, like quiet hours.
    """
    _require_aware(now, "now")
    local = now.astimezone(zone)
    today, time_of_day = local.date(), local.time()
    allowed = set(days)

    def on(day: date) -> bool:
        return not allowed or day.isoweekday() in allowed

    if start is None or end is None:
        return on(today)
    opens, closes = _parse_wall_time(start, "from"), _parse_wall_time(end, "to")
    if opens < closes:
        return on(today) and opens <= time_of_day < closes
    if opens == closes:  # refused at publish; read as the whole day
        return on(today)
    return (time_of_day >= opens and on(today)) or (time_of_day < closes and on(today - timedelta(days=1)))


def window_opening(
    now: datetime, days: Sequence[int], start: str | None, end: str | None, zone: ZoneInfo
) -> datetime:
    """`now` when it is inside the window, else the instant the window next opens (its `start`, or local
    midnight for a whole-day window, on an allowed day; a `start` in a spring-forward gap opens when the
    clock jumps)."""
    if in_window(now, days, start, end, zone):
        return now
    return next_local_time(now, start if start is not None and end is not None else "00:00", days, zone)


def send_hold_end(
    now: datetime,
    zone: ZoneInfo,
    *,
    quiet: tuple[str, str] | None = None,
    window: tuple[Sequence[int], str | None, str | None] | None = None,
) -> datetime | None:
    """When a SEND reached at `now` may go: None when it may go now, else the first instant after `now`
    that is outside the quiet hours `(start, end)` and inside the time window `(days, from, to)`, both read
    in `zone`. Should no such instant come (a window wholly inside the quiet hours, refused at publish),
    the window alone decides.
    """
    moment = now
    for _ in range(_HOLD_ROUNDS):
        moved = False
        if quiet is not None:
            quiet_end = quiet_hours_end(moment, quiet[0], quiet[1], zone)
            if quiet_end is not None:
                moment, moved = quiet_end, True
        if window is not None:
            opening = window_opening(moment, *window, zone)
            if opening != moment:
                moment, moved = opening, True
        if not moved:
            return None if moment == now else moment
    if window is None:
        return None
    opening = window_opening(now, *window, zone)
    return None if opening == now else opening


def next_local_time(now: datetime, at: str, weekdays: Sequence[int], zone: ZoneInfo) -> datetime:
    """The first instant at or after `now` when the clock in `zone` shows `at` (HH:MM) on one of `weekdays`.

    `weekdays` are ISO (1=Monday .. 7=Sunday); empty means any day. "At or after": a WAIT reached exactly
    at its target minute is already satisfied rather than postponed by a day or a week. Days are compared
    by their local date, and each date's `at` resolves to one instant (first occurrence; a wall time in a
    spring-forward gap resolves to the end of the gap). So if `now` is inside a repeated hour after the
    first occurrence of `at` already passed, the answer is on a later day.
    """
    _require_aware(now, "now")
    wall = _parse_wall_time(at, "at")
    allowed = set(weekdays)
    if not allowed <= set(_ISO_WEEKDAYS):
        raise ValueError(f"weekdays must be ISO weekdays 1 (Monday) to 7 (Sunday), got {sorted(allowed)}")
    today = now.astimezone(zone).date()
    for days_ahead in range(_DAYS_TO_SEARCH):
        day = today + timedelta(days=days_ahead)
        if allowed and day.isoweekday() not in allowed:
            continue
        candidate = _first_instant_showing(datetime.combine(day, wall), zone)
        if candidate >= now:
            return candidate
    raise AssertionError(f"no {at} on weekdays {sorted(allowed)} within {_DAYS_TO_SEARCH} days of {now}")


def parse_offset(text: str | None) -> timedelta:
    """A signed duration such as "-1 day", "+2 hours", "2 days", "-PT1H" or "P1D"; None means no offset."""
    if text is None:
        return timedelta(0)
    stripped = text.strip()
    sign = -1 if stripped.startswith("-") else 1
    magnitude = stripped[1:] if stripped[:1] in ("-", "+") else stripped
    try:
        return sign * parse_duration(magnitude.strip())
    except ValueError as exc:
        example = "e.g. '-1 day', '+2 hours' or '-PT1H'"
        raise ValueError(f"invalid offset {text!r}: use an optionally signed duration, {example}") from exc


def trait_instant(value: object, zone: ZoneInfo) -> datetime | None:
    """A customer trait read as an instant, in UTC; None when it cannot be one.

    Accepted: an ISO-8601 datetime string (with an offset, or naive = wall time in `zone`), an ISO date
    "YYYY-MM-DD" (local midnight in `zone`), a `datetime` (naive = wall time in `zone`), a `date`, or
    int/float epoch seconds. Booleans are not epochs, and out-of-range values are unusable rather than errors.
    """
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            if not math.isfinite(value):
                return None
            return datetime.fromtimestamp(value, tz=UTC)
        if isinstance(value, str):
            return _instant_from_iso_text(value.strip(), zone)
        if isinstance(value, datetime):  # before `date`: a datetime is also a date
            return _instant_from_datetime(value, zone)
        if isinstance(value, date):
            return _first_instant_showing(datetime.combine(value, time(0, 0)), zone)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def until_trait(now: datetime, value: object, offset: str | None, zone: ZoneInfo) -> datetime | None:
    """When an `untilTrait` WAIT ends: the trait's instant shifted by `offset`; None if the trait is unusable.

    Whole days of the offset move the local calendar date and keep the wall time ("-1 day" before a 10:00
    appointment is 10:00 the day before, even across a DST change); the rest is elapsed time. Note that a
    whole number of days written in hours ("PT24H") therefore also counts as a calendar day. The result may
    lie before `now`: the caller decides what a past instant means, so it is not clamped. `now` is only
    checked for awareness, to keep the contract of every WAIT resolver here the same.
    Raises ValueError for an invalid `offset` (a definition error, not a data error).
    """
    _require_aware(now, "now")
    shift = parse_offset(offset)
    instant = trait_instant(value, zone)
    if instant is None:
        return None
    try:
        return _shift_by_offset(instant, shift, zone)
    except OverflowError:
        return None


def quiet_hours_end(now: datetime, start: str, end: str, zone: ZoneInfo) -> datetime | None:
    """If the clock in `zone` at `now` is in the daily window [start, end), the instant the window ends.

    A window with start > end wraps midnight (21:00-08:00); start == end means no quiet hours. Membership is
    by wall clock, so a repeated fall-back hour can be quiet twice. The end resolves like any wall time
    (spring-forward gap: the instant the clock jumps), except that when the clock fell back over `end` and
    `now` is in the repeated stretch, the end is its second occurrence: the window ends after `now`, never
    before it.
    """
    _require_aware(now, "now")
    window_start = _parse_wall_time(start, "start")
    window_end = _parse_wall_time(end, "end")
    if window_start == window_end:
        return None
    local_now = now.astimezone(zone)
    time_of_day = local_now.time()
    if window_start < window_end:
        inside = window_start <= time_of_day < window_end
        end_day = local_now.date()
    elif time_of_day >= window_start:  # wrapping window, evening part: it ends tomorrow
        inside, end_day = True, local_now.date() + timedelta(days=1)
    else:  # wrapping window, morning part: it ends today
        inside, end_day = time_of_day < window_end, local_now.date()
    if not inside:
        return None
    end_wall = datetime.combine(end_day, window_end)
    first = _first_instant_showing(end_wall, zone)
    if first > now:
        return first
    second = end_wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return second if second > now else None


def _first_instant_showing(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of naive local `wall` in `zone`: first occurrence if repeated, gap end if skipped."""
    # fold=0 is the earlier offset in an overlap, hence the first occurrence.
    candidate = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if candidate.astimezone(zone).replace(tzinfo=None) == wall:
        return candidate
    return _end_of_gap_containing(wall, zone)


def _end_of_gap_containing(wall: datetime, zone: ZoneInfo) -> datetime:
    """The transition instant at which the clock in `zone` jumped over the nonexistent wall time `wall`.

    In a gap, fold=0 reads `wall` with the offset from before the jump and fold=1 with the offset after it,
    so the jump lies in (wall - offset_after, wall - offset_before]. zoneinfo does not expose transitions;
    they fall on whole seconds, so a binary search over the seconds of that interval finds it exactly.
    """
    whole_seconds = wall.replace(microsecond=0)
    offset_before = _utc_offset(whole_seconds.replace(tzinfo=zone, fold=0))
    offset_after = _utc_offset(whole_seconds.replace(tzinfo=zone, fold=1))
    earliest = (whole_seconds - offset_after).replace(tzinfo=UTC)  # before the jump
    latest_seconds = int((offset_after - offset_before).total_seconds())  # earliest + this: after the jump
    low, high = 0, latest_seconds
    while high - low > 1:
        middle = (low + high) // 2
        if _utc_offset((earliest + timedelta(seconds=middle)).astimezone(zone)) == offset_before:
            low = middle
        else:
            high = middle
    return earliest + timedelta(seconds=high)


def _shift_by_offset(instant: datetime, shift: timedelta, zone: ZoneInfo) -> datetime:
    sign = -1 if shift < timedelta(0) else 1
    magnitude = abs(shift)
    calendar_days = timedelta(days=magnitude.days)
    elapsed = magnitude - calendar_days
    if calendar_days:
        local_wall = instant.astimezone(zone).replace(tzinfo=None)
        instant = _first_instant_showing(local_wall + sign * calendar_days, zone)
    return instant + sign * elapsed


def _instant_from_iso_text(text: str, zone: ZoneInfo) -> datetime | None:
    if not text:
        return None
    if _ISO_DATE_ONLY.match(text):
        return _first_instant_showing(datetime.combine(date.fromisoformat(text), time(0, 0)), zone)
    return _instant_from_datetime(datetime.fromisoformat(text), zone)


def _instant_from_datetime(value: datetime, zone: ZoneInfo) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        return _first_instant_showing(value.replace(tzinfo=None), zone)
    return value.astimezone(UTC)


def _parse_wall_time(text: str, name: str) -> time:
    match = _WALL_TIME.match(text)
    if match is None:
        raise ValueError(f"{name} must be a local time 'HH:MM' (00:00 to 23:59), got {text!r}")
    return time(int(match.group(1)), int(match.group(2)))


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")


def _utc_offset(moment: datetime) -> timedelta:
    offset = moment.utcoffset()
    if offset is None:  # unreachable for ZoneInfo-aware datetimes; keeps the type exact
        raise ValueError(f"{moment!r} has no UTC offset")
    return offset
