"""Segment Spec calls (track, identify, page, screen, group, alias) as the SDKs send them → IncomingEvent.

Read as Segment's HTTP Tracking API reads them, and as analytics-python, rudder-sdk-python and
analytics.js send them:

- who: `userId` and/or `anonymousId` (strings; numbers are read as text; `null` or "" is absent);
- what: `track` needs `event`; `page` / `screen` carry `name` (+ `properties`); `group` needs
  `groupId`, and its `traits` are the group's — they go to `properties`, never to the customer's
  profile; `alias` needs `previousId` and `userId`;
- traits: the call's `traits` over `context.traits` (RudderStack's identify sends only the latter),
  on every call but group;
- when: `timestamp`; else `receivedAt − (sentAt − originalTimestamp)` (the device's clock skew
  corrected, as Segment does) when both are given; else `originalTimestamp`; else when received;
- session: `sessionId` (as on /v1/events), else `context.sessionId`, else `properties.sessionId`;
- everything else the call holds (`integrations`, `sentAt`, `originalTimestamp`, `_metadata`,
  `channel`, `category`, any unknown field) is kept in `extra` — except `writeKey`, a secret, which is
  never stored;
- a batch's own `context`, `integrations` and `sentAt` apply to each of its calls (the call's win).

A call that cannot be read raises `CallRejectedError` with a reason code (the metric label) and a message
naming the field; the bounds of domain/event_limits.py apply to every field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, cast

from pydantic import TypeAdapter, ValidationError

from domain.event_limits import (
    INVALID_TIMESTAMP,
    MAX_EVENT_BYTES,
    TOO_LARGE,
    UNSTORABLE_TEXT,
    EventIssue,
    Loc,
    check_timestamp,
    check_value,
    json_size,
    text_issue,
)
from domain.events import EventType
from services.ingestion import IncomingEvent

CALL_TYPES: Final = ("track", "identify", "page", "screen", "group", "alias")
SECRET_FIELDS: Final = frozenset({"writeKey"})

NOT_AN_OBJECT: Final = "not_an_object"
UNKNOWN_TYPE: Final = "unknown_type"
MISSING_IDENTITY: Final = "missing_identity"
MISSING_EVENT: Final = "missing_event"
MISSING_PREVIOUS_ID: Final = "missing_previous_id"
MISSING_GROUP_ID: Final = "missing_group_id"
INVALID_FIELD: Final = "invalid_field"

# Column sizes of the stored event (and the limits of /v1/events).
MAX_USER_ID: Final = 256
MAX_ANONYMOUS_ID: Final = 200
MAX_MESSAGE_ID: Final = 200
MAX_NAME: Final = 200
MAX_SESSION_ID: Final = 256
MAX_OTHER_ID: Final = 256

_COMMON_FIELDS: Final = frozenset(
    {
        "type",
        "userId",
        "anonymousId",
        "properties",
        "traits",
        "context",
        "messageId",
        "timestamp",
        "sessionId",
    }
)
_TYPE_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "track": frozenset({"event"}),
    "identify": frozenset(),
    "page": frozenset({"name"}),
    "screen": frozenset({"name"}),
    "group": frozenset({"groupId"}),
    "alias": frozenset({"previousId"}),
}
_DATETIME: Final = TypeAdapter(datetime)


class CallRejectedError(Exception):
    def __init__(self, issue: EventIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


@dataclass(frozen=True)
class BatchDefaults:
    """What a batch request says for all its calls (Segment's batch-level fields)."""

    context: dict[str, Any] = field(default_factory=dict)
    integrations: dict[str, Any] = field(default_factory=dict)
    sent_at: Any = None


NO_DEFAULTS: Final = BatchDefaults()


def batch_defaults(body: Mapping[str, Any]) -> BatchDefaults:
    context = body.get("context")
    integrations = body.get("integrations")
    return BatchDefaults(
        context=context if isinstance(context, dict) else {},
        integrations=integrations if isinstance(integrations, dict) else {},
        sent_at=body.get("sentAt"),
    )


def _reject(code: str, loc: Loc, message: str) -> CallRejectedError:
    return CallRejectedError(EventIssue(code, loc, message))


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:40] + "…"


def _identifier(fields: Mapping[str, Any], key: str, longest: int) -> str | None:
    value = fields.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _reject(INVALID_FIELD, (key,), f"`{key}` must be a string")
    if len(value) > longest:
        raise _reject(INVALID_FIELD, (key,), f"`{key}` may be at most {longest} characters")
    return value


def _text(fields: Mapping[str, Any], key: str, longest: int) -> str | None:
    value = fields.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _reject(INVALID_FIELD, (key,), f"`{key}` must be a string")
    if len(value) > longest:
        raise _reject(INVALID_FIELD, (key,), f"`{key}` may be at most {longest} characters")
    return value


def _object(fields: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = fields.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _reject(INVALID_FIELD, (key,), f"`{key}` must be an object")
    return cast(dict[str, Any], value)


def _moment(value: Any, key: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _reject(INVALID_TIMESTAMP, (key,), f"`{key}` must be an ISO 8601 date-time string")
    try:
        parsed = _DATETIME.validate_python(value)
    except ValidationError:
        raise _reject(
            INVALID_TIMESTAMP, (key,), f"`{key}` is not an ISO 8601 date-time: {_shown(value)}"
        ) from None
    try:
        return check_timestamp(parsed)
    except ValueError as exc:
        raise _reject(INVALID_TIMESTAMP, (key,), f"`{key}`: {exc}") from None


def _timestamp(fields: Mapping[str, Any], defaults: BatchDefaults, received_at: datetime) -> datetime | None:
    given = _moment(fields.get("timestamp"), "timestamp")
    if given is not None:
        return given
    original = _moment(fields.get("originalTimestamp"), "originalTimestamp")
    if original is None:
        return None
    sent = _moment(fields.get("sentAt", defaults.sent_at), "sentAt")
    if sent is None:
        return original
    try:
        return check_timestamp(received_at - (sent - original))
    except (OverflowError, ValueError):
        raise _reject(
            INVALID_TIMESTAMP,
            ("originalTimestamp",),
            "`originalTimestamp` corrected by the clock skew (`sentAt` − `originalTimestamp`) is outside "
            "the years 1–9999",
        ) from None


def _session(
    fields: Mapping[str, Any], context: Mapping[str, Any], properties: Mapping[str, Any]
) -> str | None:
    own = _identifier(fields, "sessionId", MAX_SESSION_ID)
    if own is not None:
        return own
    for holder in (context, properties):
        value = holder.get("sessionId")
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and 0 < len(value) <= MAX_SESSION_ID:
            return value
    return None


def _bounded(fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        if problem := text_issue(key):
            raise _reject(UNSTORABLE_TEXT, (), f"a field name: {problem}")
        if issue := check_value(value, (key,)):
            raise CallRejectedError(issue)
    size = json_size(fields)
    if size > MAX_EVENT_BYTES:
        raise _reject(
            TOO_LARGE, (), f"the call is {size} bytes; a call may be at most {MAX_EVENT_BYTES} bytes"
        )


def without_secrets(call: Any) -> Any:
    """The call as it may be stored or quoted: without its write key."""
    if isinstance(call, dict):
        return {key: value for key, value in call.items() if key not in SECRET_FIELDS}
    return call


def message_id_of(call: Any) -> str | None:
    """The call's messageId when it is one that could be stored (for its rejection)."""
    value = call.get("messageId") if isinstance(call, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and 0 < len(value) <= MAX_MESSAGE_ID and text_issue(value) is None:
        return value
    return None


def parse_call(
    call: Any,
    *,
    received_at: datetime,
    kind: str | None = None,
    defaults: BatchDefaults = NO_DEFAULTS,
) -> IncomingEvent:
    """One call as an IncomingEvent; `kind` is the type the route implies (`/v1/track`), which wins
    over the body's `type`. CallRejectedError when the call cannot be accepted."""
    if not isinstance(call, dict):
        raise _reject(NOT_AN_OBJECT, (), "a call must be a JSON object")
    fields: dict[str, Any] = without_secrets(call)
    _bounded(fields)

    call_type = kind if kind is not None else fields.get("type")
    if call_type not in CALL_TYPES:
        raise _reject(
            UNKNOWN_TYPE,
            ("type",),
            f"`type` must be one of {', '.join(CALL_TYPES)} (got {_shown(call_type)})",
        )
    typed = cast(EventType, call_type)
    user_id = _identifier(fields, "userId", MAX_USER_ID)
    anonymous_id = _identifier(fields, "anonymousId", MAX_ANONYMOUS_ID)
    if user_id is None and anonymous_id is None:
        raise _reject(MISSING_IDENTITY, ("userId",), "give `userId` or `anonymousId` (or both)")

    event = name = group_id = previous_id = None
    if typed == "track":
        event = _text(fields, "event", MAX_NAME)
        if event is None:
            raise _reject(MISSING_EVENT, ("event",), "a track call needs `event`")
    elif typed in ("page", "screen"):
        name = _text(fields, "name", MAX_NAME)
    elif typed == "group":
        group_id = _identifier(fields, "groupId", MAX_OTHER_ID)
        if group_id is None:
            raise _reject(MISSING_GROUP_ID, ("groupId",), "a group call needs `groupId`")
    elif typed == "alias":
        previous_id = _identifier(fields, "previousId", MAX_OTHER_ID)
        if previous_id is None:
            raise _reject(MISSING_PREVIOUS_ID, ("previousId",), "an alias call needs `previousId`")
        if user_id is None:
            raise _reject(MISSING_IDENTITY, ("userId",), "an alias call needs `userId`")

    properties = _object(fields, "properties")
    traits = _object(fields, "traits")
    context = {**defaults.context, **_object(fields, "context")}
    context_traits = context.get("traits")
    under: dict[str, Any] = context_traits if isinstance(context_traits, dict) else {}
    if typed == "group":
        properties, traits = {**properties, **traits}, dict(under)
    else:
        traits = {**under, **traits}

    used = _COMMON_FIELDS | _TYPE_FIELDS[typed]
    extra = {key: value for key, value in fields.items() if key not in used}
    if "sentAt" not in extra and defaults.sent_at is not None:
        extra["sentAt"] = defaults.sent_at
    if defaults.integrations:
        own = extra.get("integrations")
        extra["integrations"] = (
            {**defaults.integrations, **own} if isinstance(own, dict) else defaults.integrations
        )
    if defaults is not NO_DEFAULTS:  # what the batch adds is bounded too
        for key, value in (("context", context), *((k, extra.get(k)) for k in ("integrations", "sentAt"))):
            if issue := check_value(value, (key,)):
                raise CallRejectedError(issue)

    return IncomingEvent(
        type=typed,
        user_id=user_id,
        anonymous_id=anonymous_id,
        event=event,
        name=name,
        properties=properties,
        traits=traits,
        context=context,
        session_id=_session(fields, context, properties),
        message_id=_identifier(fields, "messageId", MAX_MESSAGE_ID),
        timestamp=_timestamp(fields, defaults, received_at),
        group_id=group_id,
        previous_id=previous_id,
        extra=extra,
    )
