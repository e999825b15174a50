"""Wall-clock arithmetic for WAIT nodes: concrete DST cases per rule, then properties checked by an oracle.

The oracle (`_occurrences`, `_clock_jumps_over`) finds wall times by trying every UTC offset a zone uses
around a date, independently of how `domain.schedule` resolves them.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain.schedule import (
    next_local_time,
    parse_offset,
    quiet_hours_end,
    resolve_zone,
    trait_instant,
    until_trait,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
SANTIAGO = ZoneInfo("America/Santiago")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
KOLKATA = ZoneInfo("Asia/Kolkata")
UTC_ZONE = ZoneInfo("UTC")

# Whole-hour, half-hour and 45-minute offsets; northern and southern DST; 30-minute DST (Lord Howe);
# zones that dropped DST part-way through 2000-2040 (Sao Paulo 2019, Tehran 2022).
PROPERTY_ZONES = [
    "UTC",
    "Europe/Paris",
    "Europe/London",
    "America/New_York",
    "America/St_Johns",
    "America/Santiago",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tehran",
]
ZONES_WITH_DST_THROUGHOUT = [
    "Europe/Paris",
    "Europe/London",
    "America/New_York",
    "America/St_Johns",
    "America/Santiago",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- resolve_zone -------------------------------------------------------------------------------------


def test_resolve_zone_prefers_a_valid_customer_zone() -> None:
    assert resolve_zone("Asia/Kathmandu", "Europe/Paris") == KATHMANDU


@pytest.mark.parametrize(
    "customer_zone", [None, "", "Mars/Olympus_Mons", "America", "../etc/passwd", "/etc/x"]
)
def test_resolve_zone_falls_back_to_the_journey_zone(customer_zone: str | None) -> None:
    assert resolve_zone(customer_zone, "Europe/Paris") == PARIS


def test_resolve_zone_tolerates_a_non_string_trait() -> None:
    assert resolve_zone(42, "Europe/Paris") == PARIS  # type: ignore[arg-type]


def test_resolve_zone_ends_at_utc_when_both_zones_are_invalid() -> None:
    assert resolve_zone("Nope/Nope", "Also/Nope") == UTC_ZONE


# --- next_local_time: ordinary days -------------------------------------------------------------------


def test_later_the_same_day() -> None:
    # 08:00 EDT; 09:00 EDT is 13:00 UTC.
    assert next_local_time(utc(2024, 6, 14, 12), "09:00", [], NEW_YORK) == utc(2024, 6, 14, 13)


def test_exactly_at_the_target_minute_is_already_satisfied() -> None:
    now = utc(2024, 6, 14, 13)
    assert next_local_time(now, "09:00", [], NEW_YORK) == now


def test_one_second_past_the_target_waits_for_the_next_day() -> None:
    assert next_local_time(utc(2024, 6, 14, 13, 0, 1), "09:00", [], NEW_YORK) == utc(2024, 6, 15, 13)


def test_result_is_aware_utc() -> None:
    result = next_local_time(utc(2024, 6, 14, 12), "09:00", [], NEW_YORK)
    assert result.tzinfo is UTC


def test_next_monday_morning_from_friday_evening() -> None:
    friday_evening = datetime(2024, 6, 14, 19, 0, tzinfo=PARIS).astimezone(UTC)
    assert friday_evening.astimezone(PARIS).isoweekday() == 5
    # Monday 2024-06-17 09:00 CEST = 07:00 UTC.
    assert next_local_time(friday_evening, "09:00", [1], PARIS) == utc(2024, 6, 17, 7)


def test_the_nearest_of_several_weekdays() -> None:
    wednesday_noon = utc(2024, 6, 12, 12)
    assert next_local_time(wednesday_noon, "10:00", [2, 4], UTC_ZONE) == utc(2024, 6, 13, 10)


def test_the_same_weekday_a_week_later_when_todays_time_has_passed() -> None:
    wednesday_noon = utc(2024, 6, 12, 12)
    assert next_local_time(wednesday_noon, "10:00", [3], UTC_ZONE) == utc(2024, 6, 19, 10)


def test_weekday_is_the_local_one_not_utc() -> None:
    # Sunday 2024-06-16 23:00 UTC is already Monday 09:00 in Sydney (AEST, +10): Monday 09:00 is now.
    assert next_local_time(utc(2024, 6, 16, 23), "09:00", [1], SYDNEY) == utc(2024, 6, 16, 23)
    # ... and Sunday 09:00 in Sydney is six days later.
    assert next_local_time(utc(2024, 6, 16, 23), "09:00", [7], SYDNEY) == utc(2024, 6, 22, 23)


def test_year_rollover() -> None:
    # 2025-01-01 is a Wednesday.
    assert next_local_time(utc(2024, 12, 31, 10), "09:00", [3], UTC_ZONE) == utc(2025, 1, 1, 9)
    assert next_local_time(utc(2024, 12, 31, 23, 59), "00:00", [], UTC_ZONE) == utc(2025, 1, 1, 0)


def test_year_rollover_in_a_zone_ahead_of_utc() -> None:
    # 2024-12-31 20:00 UTC is already 2025-01-01 07:00 in Sydney (AEDT, +11); 08:00 local is 21:00 UTC.
    assert next_local_time(utc(2024, 12, 31, 20), "08:00", [3], SYDNEY) == utc(2024, 12, 31, 21)


def test_half_and_three_quarter_hour_offsets() -> None:
    assert next_local_time(utc(2024, 6, 14, 0), "09:00", [], KATHMANDU) == utc(2024, 6, 14, 3, 15)
    assert next_local_time(utc(2024, 6, 14, 0), "09:00", [], KOLKATA) == utc(2024, 6, 14, 3, 30)
    # 03:20 UTC is 09:05 in Kathmandu: 09:00 has passed there, not yet in Kolkata.
    assert next_local_time(utc(2024, 6, 14, 3, 20), "09:00", [], KATHMANDU) == utc(2024, 6, 15, 3, 15)
    assert next_local_time(utc(2024, 6, 14, 3, 20), "09:00", [], KOLKATA) == utc(2024, 6, 14, 3, 30)


# --- next_local_time: DST -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "now", "at", "expected"),
    [
        # Europe/Paris springs forward 2024-03-31 02:00 CET -> 03:00 CEST (01:00 UTC).
        (PARIS, utc(2024, 3, 30, 12), "02:30", utc(2024, 3, 31, 1)),
        (PARIS, utc(2024, 3, 30, 12), "02:00", utc(2024, 3, 31, 1)),
        (PARIS, utc(2024, 3, 30, 12), "02:59", utc(2024, 3, 31, 1)),
        # America/New_York springs forward 2024-03-10 02:00 EST -> 03:00 EDT (07:00 UTC).
        (NEW_YORK, utc(2024, 3, 9, 12), "02:30", utc(2024, 3, 10, 7)),
        # Australia/Sydney springs forward 2024-10-06 02:00 AEST -> 03:00 AEDT (2024-10-05 16:00 UTC).
        (SYDNEY, utc(2024, 10, 5, 0), "02:30", utc(2024, 10, 5, 16)),
        # America/Santiago springs forward at midnight: 2024-09-08 00:00 -04 -> 01:00 -03 (04:00 UTC).
        (SANTIAGO, utc(2024, 9, 7, 12), "00:30", utc(2024, 9, 8, 4)),
        # Australia/Lord_Howe springs forward by 30 minutes: 2024-10-06 02:00 +10:30 -> 02:30 +11.
        (LORD_HOWE, utc(2024, 10, 5, 0), "02:15", utc(2024, 10, 5, 15, 30)),
    ],
)
def test_a_wall_time_skipped_by_spring_forward_resolves_to_the_end_of_the_gap(
    zone: ZoneInfo, now: datetime, at: str, expected: datetime
) -> None:
    assert next_local_time(now, at, [], zone) == expected


def test_the_gap_rule_applies_only_on_the_transition_day() -> None:
    # The day after Paris's spring-forward, 02:30 exists again: 02:30 CEST = 00:30 UTC.
    assert next_local_time(utc(2024, 3, 31, 1, 1), "02:30", [], PARIS) == utc(2024, 4, 1, 0, 30)


@pytest.mark.parametrize(
    ("zone", "now", "at", "expected"),
    [
        # Europe/Paris falls back 2024-10-27 03:00 CEST -> 02:00 CET: 02:30 CEST (00:30 UTC) comes first.
        (PARIS, utc(2024, 10, 26, 12), "02:30", utc(2024, 10, 27, 0, 30)),
        # America/New_York falls back 2024-11-03 02:00 EDT -> 01:00 EST: 01:30 EDT (05:30 UTC) comes first.
        (NEW_YORK, utc(2024, 11, 2, 12), "01:30", utc(2024, 11, 3, 5, 30)),
        # Australia/Sydney falls back 2024-04-07 03:00 AEDT -> 02:00 AEST: 02:30 AEDT (2024-04-06 15:30 UTC).
        (SYDNEY, utc(2024, 4, 6, 0), "02:30", utc(2024, 4, 6, 15, 30)),
    ],
)
def test_a_wall_time_repeated_by_fall_back_resolves_to_its_first_occurrence(
    zone: ZoneInfo, now: datetime, at: str, expected: datetime
) -> None:
    assert next_local_time(now, at, [], zone) == expected


def test_once_the_first_occurrence_has_passed_the_repeat_does_not_count() -> None:
    # 06:40 UTC is 01:40 EST, inside New York's repeated hour; 01:30 EDT (05:30 UTC) has passed, and the
    # repeated 01:30 EST (06:30 UTC) has too. Next is 01:30 EST the following day.
    assert next_local_time(utc(2024, 11, 3, 6, 40), "01:30", [], NEW_YORK) == utc(2024, 11, 4, 6, 30)
    # 05:40 UTC is 01:40 EDT: 01:30 EST (06:30 UTC) is still ahead, but only the first occurrence counts.
    assert next_local_time(utc(2024, 11, 3, 5, 40), "01:30", [], NEW_YORK) == utc(2024, 11, 4, 6, 30)


def test_weekly_wait_keeps_local_time_across_a_dst_change() -> None:
    # Sundays at 10:00 in Paris: CET (+1) on 2024-03-24, CEST (+2) on 2024-03-31.
    assert next_local_time(utc(2024, 3, 24, 10), "10:00", [7], PARIS) == utc(2024, 3, 31, 8)


@pytest.mark.parametrize(
    ("at", "weekdays"),
    [("9:00", []), ("24:00", []), ("09:60", []), ("0900", []), ("09:00", [0]), ("09:00", [8])],
)
def test_next_local_time_rejects_invalid_arguments(at: str, weekdays: list[int]) -> None:
    with pytest.raises(ValueError):
        next_local_time(utc(2024, 6, 14), at, weekdays, PARIS)


def test_next_local_time_rejects_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_local_time(datetime(2024, 6, 14), "09:00", [], PARIS)


# --- parse_offset -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, timedelta(0)),
        ("-1 day", timedelta(days=-1)),
        ("+2 hours", timedelta(hours=2)),
        ("2 days", timedelta(days=2)),
        ("-PT1H", timedelta(hours=-1)),
        ("P1D", timedelta(days=1)),
        ("+P1DT2H", timedelta(days=1, hours=2)),
        ("-P1DT2H", -timedelta(days=1, hours=2)),
        ("-30 minutes", timedelta(minutes=-30)),
        (" - 1 week ", timedelta(weeks=-1)),
    ],
)
def test_parse_offset(text: str | None, expected: timedelta) -> None:
    assert parse_offset(text) == expected


@pytest.mark.parametrize(
    "text", ["", "-", "+", "yesterday", "--1 day", "+-1 day", "1 fortnight", "-P", "1 day ago"]
)
def test_parse_offset_rejects_invalid_text_clearly(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid offset .*e\.g\. '-1 day'"):
        parse_offset(text)


# --- trait_instant ------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", [PARIS, KATHMANDU, UTC_ZONE])
def test_an_iso_string_with_an_offset_ignores_the_zone(zone: ZoneInfo) -> None:
    assert trait_instant("2024-06-14T09:00:00+02:00", zone) == utc(2024, 6, 14, 7)
    assert trait_instant("2024-06-14T09:00:00Z", zone) == utc(2024, 6, 14, 9)
    assert trait_instant("2024-06-14T09:00:00+05:45", zone) == utc(2024, 6, 14, 3, 15)


def test_a_naive_iso_string_is_local_wall_time() -> None:
    assert trait_instant("2024-06-14T09:00:00", NEW_YORK) == utc(2024, 6, 14, 13)
    assert trait_instant("2024-06-14T09:00", KATHMANDU) == utc(2024, 6, 14, 3, 15)
    assert trait_instant("2024-06-14 09:00:00", NEW_YORK) == utc(2024, 6, 14, 13)
    assert trait_instant("  2024-06-14T09:00:00 ", NEW_YORK) == utc(2024, 6, 14, 13)


def test_a_naive_iso_string_follows_the_dst_rules() -> None:
    assert trait_instant("2024-03-31T02:30:00", PARIS) == utc(2024, 3, 31, 1)  # gap: end of the gap
    assert trait_instant("2024-10-27T02:30:00", PARIS) == utc(2024, 10, 27, 0, 30)  # overlap: first one


def test_a_date_only_string_is_local_midnight() -> None:
    assert trait_instant("2024-06-14", NEW_YORK) == utc(2024, 6, 14, 4)
    assert trait_instant("2024-06-14", SYDNEY) == utc(2024, 6, 13, 14)
    assert trait_instant("2024-06-14", KATHMANDU) == utc(2024, 6, 13, 18, 15)


def test_a_date_whose_midnight_is_skipped_starts_when_the_clock_jumps() -> None:
    # America/Santiago jumps from 00:00 to 01:00 on 2024-09-08: the day starts at 01:00 -03 = 04:00 UTC.
    assert trait_instant("2024-09-08", SANTIAGO) == utc(2024, 9, 8, 4)
    assert trait_instant(date(2024, 9, 8), SANTIAGO) == utc(2024, 9, 8, 4)


def test_datetime_and_date_objects() -> None:
    assert trait_instant(datetime(2024, 6, 14, 9, 0), NEW_YORK) == utc(2024, 6, 14, 13)
    assert trait_instant(datetime(2024, 6, 14, 9, 0, tzinfo=PARIS), NEW_YORK) == utc(2024, 6, 14, 7)
    assert trait_instant(date(2024, 6, 14), NEW_YORK) == utc(2024, 6, 14, 4)


def test_an_aware_datetime_keeps_its_fold() -> None:
    second_one_thirty = datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=NEW_YORK)
    assert trait_instant(second_one_thirty, UTC_ZONE) == utc(2024, 11, 3, 6, 30)


def test_epoch_seconds() -> None:
    assert trait_instant(1718355600, PARIS) == utc(2024, 6, 14, 9)
    assert trait_instant(1718355600.5, PARIS) == utc(2024, 6, 14, 9) + timedelta(milliseconds=500)
    assert trait_instant(0, PARIS) == utc(1970, 1, 1)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        "",
        "   ",
        "not a date",
        "2024-13-01",
        "2024-02-30",
        "09:00",
        [],
        {},
        math.nan,
        math.inf,
        1e20,
        10**30,
        b"2024-06-14",
    ],
)
def test_unusable_trait_values(value: object) -> None:
    assert trait_instant(value, PARIS) is None


def test_a_trait_that_overflows_in_utc_is_unusable() -> None:
    assert trait_instant("0001-01-01T00:00:00", KATHMANDU) is None


# --- until_trait --------------------------------------------------------------------------------------

NOW = utc(2024, 6, 1)


def test_until_trait_without_offset_is_the_trait_instant() -> None:
    assert until_trait(NOW, "2024-06-14T09:00:00", None, NEW_YORK) == utc(2024, 6, 14, 13)


def test_until_trait_with_a_signed_offset() -> None:
    assert until_trait(NOW, "2024-06-14T09:00:00Z", "-1 day", PARIS) == utc(2024, 6, 13, 9)
    assert until_trait(NOW, "2024-06-14T09:00:00Z", "+2 hours", PARIS) == utc(2024, 6, 14, 11)
    assert until_trait(NOW, "2024-06-14", "-PT1H", NEW_YORK) == utc(2024, 6, 14, 3)
    assert until_trait(NOW, 1718355600, "P1D", UTC_ZONE) == utc(2024, 6, 15, 9)


def test_whole_days_of_an_offset_keep_the_local_wall_time_across_dst() -> None:
    # A 10:00 appointment on Paris's spring-forward day (CEST): one day before is 10:00 CET, not 09:00.
    assert until_trait(NOW, "2024-03-31T10:00:00", "-1 day", PARIS) == utc(2024, 3, 30, 9)
    # A 09:00 EST appointment the day after New York falls back: two days before is 09:00 EDT.
    assert until_trait(NOW, "2024-11-04T09:00:00-05:00", "-2 days", NEW_YORK) == utc(2024, 11, 2, 13)


def test_hours_of_an_offset_are_elapsed_time_across_dst() -> None:
    # 01:30 CET (00:30 UTC) plus two hours on the spring-forward night is 04:30 CEST (02:30 UTC).
    assert until_trait(NOW, "2024-03-31T01:30:00", "+2 hours", PARIS) == utc(2024, 3, 31, 2, 30)


def test_a_calendar_shift_onto_a_skipped_wall_time_lands_at_the_end_of_the_gap() -> None:
    assert until_trait(NOW, "2024-04-01T02:30:00", "-1 day", PARIS) == utc(2024, 3, 31, 1)


def test_until_trait_does_not_clamp_to_now() -> None:
    assert until_trait(utc(2030, 1, 1), "2020-01-01T00:00:00Z", None, PARIS) == utc(2020, 1, 1)


def test_until_trait_is_none_for_an_unusable_trait() -> None:
    assert until_trait(NOW, "soon", "-1 day", PARIS) is None
    assert until_trait(NOW, None, None, PARIS) is None


def test_until_trait_is_none_when_the_offset_overflows() -> None:
    assert until_trait(NOW, "9999-12-31T00:00:00Z", "+2 days", UTC_ZONE) is None


def test_until_trait_rejects_an_invalid_offset_even_for_a_usable_trait() -> None:
    with pytest.raises(ValueError, match="invalid offset"):
        until_trait(NOW, "2024-06-14", "a day early", PARIS)


# --- quiet_hours_end ----------------------------------------------------------------------------------


def test_no_quiet_hours_when_start_equals_end() -> None:
    assert quiet_hours_end(utc(2024, 6, 14, 3), "22:00", "22:00", UTC_ZONE) is None


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2024, 6, 14, 11, 59), None),
        (utc(2024, 6, 14, 12), utc(2024, 6, 14, 14)),  # the start is inside
        (utc(2024, 6, 14, 13, 30), utc(2024, 6, 14, 14)),
        (utc(2024, 6, 14, 14), None),  # the end is not
        (utc(2024, 6, 14, 20), None),
    ],
)
def test_a_daytime_window(now: datetime, expected: datetime | None) -> None:
    assert quiet_hours_end(now, "12:00", "14:00", UTC_ZONE) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2024, 6, 14, 20, 59), None),
        (utc(2024, 6, 14, 21), utc(2024, 6, 15, 8)),
        (utc(2024, 6, 14, 23, 30), utc(2024, 6, 15, 8)),
        (utc(2024, 6, 15, 0), utc(2024, 6, 15, 8)),
        (utc(2024, 6, 15, 3), utc(2024, 6, 15, 8)),
        (utc(2024, 6, 15, 7, 59, 59), utc(2024, 6, 15, 8)),
        (utc(2024, 6, 15, 8), None),
        (utc(2024, 6, 15, 12), None),
        (utc(2024, 12, 31, 22), utc(2025, 1, 1, 8)),
    ],
)
def test_a_window_wrapping_midnight(now: datetime, expected: datetime | None) -> None:
    assert quiet_hours_end(now, "21:00", "08:00", UTC_ZONE) == expected


def test_quiet_hours_are_local() -> None:
    # 22:00 UTC is 03:45 in Kathmandu: quiet until 08:00 local = 02:15 UTC.
    assert quiet_hours_end(utc(2024, 6, 14, 22), "21:00", "08:00", KATHMANDU) == utc(2024, 6, 15, 2, 15)
    assert quiet_hours_end(utc(2024, 6, 14, 22), "21:00", "08:00", UTC_ZONE) == utc(2024, 6, 15, 8)


def test_a_quiet_window_ending_in_the_spring_forward_gap_ends_when_the_clock_jumps() -> None:
    # 23:00 CET on 2024-03-30; 02:30 does not exist on 2024-03-31, the clock jumps at 01:00 UTC.
    assert quiet_hours_end(utc(2024, 3, 30, 22), "22:00", "02:30", PARIS) == utc(2024, 3, 31, 1)


def test_a_quiet_window_ending_in_the_repeated_hour() -> None:
    # New York falls back at 2024-11-03 02:00 EDT -> 01:00 EST; quiet hours 21:00-01:30.
    # 01:10 EDT (05:10 UTC): the window ends at the first 01:30, EDT (05:30 UTC).
    assert quiet_hours_end(utc(2024, 11, 3, 5, 10), "21:00", "01:30", NEW_YORK) == utc(2024, 11, 3, 5, 30)
    # 01:40 EDT (05:40 UTC): past the end by the wall clock.
    assert quiet_hours_end(utc(2024, 11, 3, 5, 40), "21:00", "01:30", NEW_YORK) is None
    # 01:10 EST (06:10 UTC): the wall clock is back inside; it ends at the second 01:30, EST (06:30 UTC).
    assert quiet_hours_end(utc(2024, 11, 3, 6, 10), "21:00", "01:30", NEW_YORK) == utc(2024, 11, 3, 6, 30)


def test_quiet_hours_reject_invalid_times() -> None:
    with pytest.raises(ValueError, match="start must be a local time"):
        quiet_hours_end(utc(2024, 6, 14), "9pm", "08:00", PARIS)
    with pytest.raises(ValueError, match="end must be a local time"):
        quiet_hours_end(utc(2024, 6, 14), "21:00", "8:00", PARIS)


# --- oracle -------------------------------------------------------------------------------------------


def _local_wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _occurrences(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """Every UTC instant whose local wall time in `zone` is `wall`, earliest first.

    Tries each UTC offset the zone uses within two days of the date (sampled every two hours; offsets
    never last less than that) and keeps those that read back as `wall`.
    """
    around = wall.replace(hour=0, minute=0, tzinfo=UTC)
    offsets = {(around + timedelta(hours=hours)).astimezone(zone).utcoffset() for hours in range(-48, 73, 2)}
    candidates = {(wall - offset).replace(tzinfo=UTC) for offset in offsets if offset is not None}
    return sorted(instant for instant in candidates if _local_wall(instant, zone) == wall)


def _clock_jumps_over(wall: datetime, zone: ZoneInfo, instant: datetime) -> bool:
    """Whether the clock in `zone` reads before `wall` just before `instant` and after it at `instant`."""
    return _local_wall(instant - timedelta(seconds=1), zone) < wall < _local_wall(instant, zone)


def _check_is_first_matching_instant(
    now: datetime, at: str, weekdays: frozenset[int], zone: ZoneInfo, result: datetime
) -> None:
    hour, minute = (int(part) for part in at.split(":"))
    wall_time = time(hour, minute)
    assert result.utcoffset() == timedelta(0)
    assert now <= result < now + timedelta(days=8, hours=1)
    local = result.astimezone(zone)
    if weekdays:
        assert local.isoweekday() in weekdays
    result_wall = datetime.combine(local.date(), wall_time)
    occurrences = _occurrences(result_wall, zone)
    if occurrences:
        assert result == occurrences[0], "a wall time shown on the day resolves to its first occurrence"
    else:
        assert _clock_jumps_over(result_wall, zone, result), "a skipped wall time resolves to the jump"
    # No earlier qualifying day: each one's wall time (or, if skipped, the jump over it) is before now.
    day = now.astimezone(zone).date()
    while day < local.date():
        if not weekdays or day.isoweekday() in weekdays:
            earlier_wall = datetime.combine(day, wall_time)
            earlier = _occurrences(earlier_wall, zone)
            if earlier:
                assert earlier[0] < now, f"{earlier[0]} on {day} qualifies before {result}"
            else:
                assert _local_wall(now, zone) > earlier_wall, f"the jump over {earlier_wall} is not past"
        day += timedelta(days=1)


# --- properties ---------------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31, 23, 59, 59), timezones=st.just(UTC)
)
wall_times = st.builds(
    lambda hour, minute: f"{hour:02d}:{minute:02d}", st.integers(0, 23), st.integers(0, 59)
)
weekday_sets = st.frozensets(st.integers(1, 7))


@settings(max_examples=300, deadline=None)
@given(now=instants, zone_key=st.sampled_from(PROPERTY_ZONES), at=wall_times, weekdays=weekday_sets)
def test_next_local_time_is_the_first_matching_instant(
    now: datetime, zone_key: str, at: str, weekdays: frozenset[int]
) -> None:
    zone = ZoneInfo(zone_key)
    result = next_local_time(now, at, sorted(weekdays), zone)
    _check_is_first_matching_instant(now, at, weekdays, zone, result)


@functools.cache
def _utc_offset_changes(zone_key: str, year: int) -> tuple[datetime, ...]:
    """The instants in `year` when `zone_key` changes its UTC offset (to the second)."""
    zone = ZoneInfo(zone_key)

    def offset_at(instant: datetime) -> timedelta | None:
        return instant.astimezone(zone).utcoffset()

    changes = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:
        following = day + timedelta(days=1)
        if offset_at(day) != offset_at(following):
            low, high = 0, 86400  # seconds after `day`: before the change / at or after it
            while high - low > 1:
                middle = (low + high) // 2
                if offset_at(day + timedelta(seconds=middle)) == offset_at(day):
                    low = middle
                else:
                    high = middle
            changes.append(day + timedelta(seconds=high))
        day = following
    return tuple(changes)


@st.composite
def near_an_offset_change(draw: st.DrawFn) -> tuple[datetime, ZoneInfo, str]:
    """A zone, a `now` up to three days before (or a day after) one of its DST changes, and an HH:MM within
    ninety minutes of the wall time at which the clock changed: gaps and repeats get hit often."""
    zone_key = draw(st.sampled_from(ZONES_WITH_DST_THROUGHOUT))
    changes = _utc_offset_changes(zone_key, draw(st.integers(2000, 2040)))
    assume(changes)
    change = draw(st.sampled_from(changes))
    zone = ZoneInfo(zone_key)
    now = change + timedelta(seconds=draw(st.integers(-3 * 86400, 86400)))
    near_wall = _local_wall(change - timedelta(seconds=1), zone) + timedelta(
        minutes=draw(st.integers(-90, 90))
    )
    return now, zone, f"{near_wall.hour:02d}:{near_wall.minute:02d}"


@settings(max_examples=300, deadline=None)
@given(case=near_an_offset_change(), weekdays=weekday_sets)
def test_next_local_time_around_dst_changes(
    case: tuple[datetime, ZoneInfo, str], weekdays: frozenset[int]
) -> None:
    now, zone, at = case
    result = next_local_time(now, at, sorted(weekdays), zone)
    _check_is_first_matching_instant(now, at, weekdays, zone, result)


@settings(max_examples=300, deadline=None)
@given(
    now_and_zone=st.tuples(instants, st.sampled_from(PROPERTY_ZONES).map(ZoneInfo))
    | near_an_offset_change().map(lambda case: (case[0], case[1])),
    start=wall_times,
    end=wall_times,
)
def test_quiet_hours_end_by_the_wall_clock(
    now_and_zone: tuple[datetime, ZoneInfo], start: str, end: str
) -> None:
    now, zone = now_and_zone
    result = quiet_hours_end(now, start, end, zone)
    start_time, end_time = time.fromisoformat(start), time.fromisoformat(end)
    time_of_day = now.astimezone(zone).time()
    if start_time < end_time:
        inside = start_time <= time_of_day < end_time
    else:
        inside = start_time != end_time and (time_of_day >= start_time or time_of_day < end_time)
    assert (result is not None) == inside
    if result is None:
        return
    assert now < result <= now + timedelta(days=1, hours=1)
    end_wall = datetime.combine(result.astimezone(zone).date(), end_time)
    assert result in _occurrences(end_wall, zone) or _clock_jumps_over(end_wall, zone, result)


@settings(max_examples=300, deadline=None)
@given(
    sign=st.sampled_from(["", "+", "-"]),
    amount=st.integers(0, 1000),
    unit=st.sampled_from(["minutes", "hours", "days", "weeks"]),
)
def test_parse_offset_applies_the_sign_to_the_duration(sign: str, amount: int, unit: str) -> None:
    expected = timedelta(**{unit: amount})
    assert parse_offset(f"{sign}{amount} {unit}") == (-expected if sign == "-" else expected)


@settings(max_examples=300, deadline=None)
@given(
    trait=instants.map(lambda instant: instant.replace(second=0, microsecond=0, tzinfo=None)),
    zone_key=st.sampled_from(PROPERTY_ZONES),
    days=st.integers(-60, 60),
)
def test_a_whole_day_offset_keeps_an_unambiguous_wall_time(trait: datetime, zone_key: str, days: int) -> None:
    zone = ZoneInfo(zone_key)
    shifted_wall = trait + timedelta(days=days)
    # Skip walls that are skipped or repeated on either date; the concrete tests cover those.
    assume(len(_occurrences(trait, zone)) == 1 and len(_occurrences(shifted_wall, zone)) == 1)
    result = until_trait(NOW, trait.isoformat(), f"{days} days", zone)
    assert result is not None
    assert _local_wall(result, zone) == shifted_wall
