"""The consent rule of the send path (interfaces of issue 15), as a table."""

from __future__ import annotations

import pytest

from activities.sending import listed_reason
from domain.consent import NOT_OPTED_IN, UNSUBSCRIBED, consent_detail, consent_reason
from domain.nodes.send import unknown_root


@pytest.mark.parametrize(
    ("group_type", "subscribed", "reason"),
    [
        ("OPT_OUT", None, None),  # sends until the customer leaves
        ("OPT_OUT", True, None),
        ("OPT_OUT", False, UNSUBSCRIBED),
        ("OPT_IN", None, NOT_OPTED_IN),  # sends only once they join
        ("OPT_IN", True, None),
        ("OPT_IN", False, UNSUBSCRIBED),  # joined, then left
    ],
)
def test_consent_reason(group_type: str, subscribed: bool | None, reason: str | None) -> None:
    assert consent_reason(group_type, subscribed) == reason


def test_the_log_text_names_the_group_and_what_is_missing() -> None:
    assert consent_detail(NOT_OPTED_IN, "Beta", "OPT_IN").startswith("not opted in")
    assert "'Beta'" in consent_detail(NOT_OPTED_IN, "Beta", "OPT_IN")
    assert consent_detail(UNSUBSCRIBED, "News", "OPT_OUT").startswith("unsubscribed")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("bounced", "bounced"),
        ("bounce", "bounced"),
        ("complained", "complained"),
        ("complaint", "complained"),
    ],
)
def test_a_suppression_list_entry_says_bounced_or_complained(entry: str, reason: str) -> None:
    assert listed_reason(entry) == reason


def test_templates_may_read_the_unsubscribe_and_preferences_links() -> None:
    assert unknown_root("<a href='{{ unsubscribe_url }}'>leave</a> {{ preferences_url }}") is None
    assert unknown_root("{{ unsubscribe_link }}") is not None
