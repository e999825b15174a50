"""A journey's priority and send rate limit: the settings as the wire takes them, how long a send over the
limit waits, when it gives up saying why, and what an enrollment's start asks of the task queue. No server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from activities.rate_limits import (
    LOCAL_TIMER_FLOOR,
    RATE_LIMIT_BACKLOG,
    RATE_LIMITED,
    refusal,
    wait_for_slot,
)
from domain.definition import DEFAULT_PRIORITY, JourneyDefinition, JourneySettings
from domain.payloads import EnrollmentInput
from services.temporal import enrollment_priority
from store.repositories.send_rates import RateWindow

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)


def test_settings_default_to_the_middle_priority_and_no_rate_limit() -> None:
    settings = JourneySettings()
    assert settings.priority == DEFAULT_PRIORITY == 3
    assert settings.rate_limit is None
    wire = JourneySettings.model_validate({"priority": 1, "rateLimit": {"perMinute": 2}}).model_dump()
    assert wire["priority"] == 1 and wire["rateLimit"] == {"perMinute": 2}


@pytest.mark.parametrize("per_minute", [0, -3, 2.5, "2", True, None, 100_001])
def test_a_per_minute_that_is_not_a_whole_number_from_one_is_refused_naming_it(per_minute: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        JourneySettings.model_validate({"rateLimit": {"perMinute": per_minute}})
    assert [error["loc"] for error in refused.value.errors()] == [("rateLimit", "perMinute")]


@pytest.mark.parametrize("priority", [0, 6, 2.0, "1", False])
def test_a_priority_outside_one_to_five_is_refused(priority: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        JourneySettings.model_validate({"priority": priority})
    assert [error["loc"] for error in refused.value.errors()] == [("priority",)]


def test_a_stored_definition_without_the_new_settings_reads_as_before() -> None:
    stored = {"nodes": [], "edges": [], "settings": {"timezone": "UTC", "frequencyCaps": []}}
    settings = JourneyDefinition.model_validate(stored).settings
    assert (settings.priority, settings.rate_limit) == (DEFAULT_PRIORITY, None)


def window(count: int, frees_in: float | None) -> RateWindow:
    frees_at = None if frees_in is None else NOW + timedelta(seconds=frees_in)
    return RateWindow(count=count, now=NOW, frees_at=frees_at)


def test_a_refused_send_waits_until_the_oldest_counted_admission_leaves_the_minute() -> None:
    assert wait_for_slot(window(2, 17), floor=timedelta(0), jitter=timedelta(0)) == timedelta(seconds=17)
    # A local activity waits at least past the SDK's local retry threshold: a durable timer, not a
    # workflow task kept open by heartbeats.
    assert wait_for_slot(window(2, 17), floor=LOCAL_TIMER_FLOOR, jitter=timedelta(0)) == LOCAL_TIMER_FLOOR
    assert timedelta(minutes=1) < LOCAL_TIMER_FLOOR
    # Jitter spreads a backlog; a slot already free (clock skew) never makes a negative wait.
    two = timedelta(seconds=2)
    assert wait_for_slot(window(2, -3), floor=timedelta(0), jitter=two) == two


def test_the_refusal_is_a_retryable_wait_that_says_why() -> None:
    wait = timedelta(seconds=17)
    error = refusal(2, window(2, 17), wait, NOW + timedelta(days=1), NOW)
    assert error.type == RATE_LIMITED and not error.non_retryable
    assert error.next_retry_delay == wait
    assert "2 sends in the last minute (limit 2 per minute); next try in 17 s" in error.message


def test_a_wait_past_the_sends_horizon_fails_it_saying_so_instead_of_timing_out_silently() -> None:
    wait = timedelta(seconds=61)
    error = refusal(2, window(2, 30), wait, NOW + timedelta(seconds=60), NOW)
    assert error.type == RATE_LIMIT_BACKLOG and error.non_retryable
    assert "backlog is longer than a send may wait" in error.message
    # No known horizon (outside a worker): it just waits.
    assert refusal(2, window(2, 30), wait, None, NOW).type == RATE_LIMITED


def test_an_enrollment_starts_with_its_journeys_priority_and_its_tenant_as_fairness_key() -> None:
    definition = JourneyDefinition.model_validate({"settings": {"priority": 1}})
    payload = EnrollmentInput(
        tenant_id="acme",
        journey_id="j",
        journey_name="J",
        version=1,
        customer_id="c",
        enrollment_id="e",
        enrolled_at=NOW,
        definition=definition,
    )
    priority = enrollment_priority(payload)
    assert (priority.priority_key, priority.fairness_key) == (1, "acme")
    default = enrollment_priority(payload.model_copy(update={"definition": JourneyDefinition()}))
    assert default.priority_key == DEFAULT_PRIORITY
