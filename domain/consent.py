"""Consent (SPEC §14): who receives a send in a subscription group, and why a message was suppressed.

A group is OPT_OUT (customers receive its sends until they leave) or OPT_IN (only after they join). A
customer's state in a group is their row there (an explicit choice), else the group's type decides. The
words here are the delivery log's `reason`, its filter, the analytics' counts and the suppression list's.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

GroupType = Literal["OPT_IN", "OPT_OUT"]
OPT_IN: Final = "OPT_IN"
OPT_OUT: Final = "OPT_OUT"

# Why a message was suppressed (messages.reason).
SuppressionReason = Literal["unsubscribed", "not_opted_in", "bounced", "complained", "frequency_cap"]
SUPPRESSION_REASONS: tuple[SuppressionReason, ...] = get_args(SuppressionReason)
UNSUBSCRIBED: Final = "unsubscribed"
NOT_OPTED_IN: Final = "not_opted_in"
BOUNCED: Final = "bounced"
COMPLAINED: Final = "complained"
FREQUENCY_CAP: Final = "frequency_cap"
# Why an address is on the suppression list (also the reason a message to it is suppressed with).
ListedReason = Literal["bounced", "complained"]


def subscribed_by_default(group_type: str) -> bool:
    """A customer who never chose: in an OPT_OUT group they are subscribed, in an OPT_IN group not."""
    return group_type == OPT_OUT


def consent_reason(group_type: str, subscribed: bool | None) -> str | None:
    """Why a customer has not consented to a send in a group of `group_type`, or None when they have.
    `subscribed`: the customer's row for the group; None when they have none.

    OPT_OUT: sent unless the customer left (`unsubscribed`); OPT_IN: sent only once they joined — no row
    is `not_opted_in`, a row saying false (they left again) is `unsubscribed`.
    """
    if subscribed is None:
        return None if subscribed_by_default(group_type) else NOT_OPTED_IN
    return None if subscribed else UNSUBSCRIBED


def consent_detail(reason: str, group_name: str, group_type: str) -> str:
    """The delivery log's readable text for a consent suppression."""
    if reason == NOT_OPTED_IN:
        return f"not opted in: the customer has not joined the {group_type} subscription group {group_name!r}"
    return f"unsubscribed: the customer left the subscription group {group_name!r}"
