"""SEND: one message on one channel; then `next`.

Outcomes `sent` and `suppressed` continue; `failed` follows `onFailure`: `fail` (the default) fails the
enrollment, `skip` records the step SKIPPED and continues.

Templates render with `traits`, `customer`, and the enrollment context: `entry`, `event`, `journey`
(`domain.context`). A variable that does not resolve fails the send with the path named, and `onFailure`
decides (a message never goes out with a blank where the product name should be).

The customer's clock. Quiet hours (`settings.quietHours`) and the SEND's own time `window`
(`{days, from, to}`, Customer.io's Time Window) are read in the customer's `timezone` trait when it names
an IANA zone, else in the journey's `timezone` (an unusable trait is ignored, and the step's detail says
so). A SEND that needs a zone reads the profile first, once per enrollment: the trait is kept in the
state (`CustomerClock`), and events carrying a `timezone` trait refresh it. A SEND reached inside the
quiet hours (`quiet_hours`) or outside its window (`window`) does not send: its step waits until the
first instant outside the quiet hours and inside the window, then sends. The wait is an ordinary
deadline, so the goal deadline coming first abandons the enrollment as it would in any wait, and exits,
exit-criteria events and goal events act at once; a new `timezone` trait during the hold recomputes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from domain.nodes.base import Awaiting, Loc, NodeBase, NodeKind, Run, StepStatus, idempotency_key
from domain.schedule import (
    is_wall_time,
    quiet_hours_end,
    resolve_zone,
    send_hold_end,
    weekday_number,
)
from domain.wire import WireModel

if TYPE_CHECKING:
    from domain.interpreter import JourneyState, ProfileRead, SendFinished

Channel = Literal["EMAIL", "SMS", "PUSH", "WEBHOOK", "IN_APP"]


class SendWindow(WireModel):
    """When a SEND may go, in the customer's clock: on `days` (ISO weekday numbers 1-7 or English names,
    normalized to numbers; empty: every day) from `from` to `to` (local `HH:MM`; `from` after `to` runs
    across midnight, the stretch after midnight belonging to the day it opened; both absent: the whole
    day). Checked at publish (`SendKind.issues`), so a draft may hold a half-written one."""

    days: list[int | str] = Field(default_factory=list, description="ISO weekdays 1=Mon..7=Sun, or names")
    from_: str | None = Field(default=None, alias="from", description="local HH:MM the window opens")
    to: str | None = Field(default=None, description="local HH:MM the window closes")

    @field_validator("days", mode="after")
    @classmethod
    def _normalize_days(cls, days: list[int | str]) -> list[int | str]:
        """Names and digit strings become ISO numbers, in order, once each; anything else stays as it
        came, for publish to name."""
        normalized: list[int | str] = []
        for day in days:
            number = weekday_number(day)
            value: int | str = day if number is None else number
            if value not in normalized:
                normalized.append(value)
        return sorted(normalized, key=lambda d: (isinstance(d, str), d if isinstance(d, int) else 0))

    def hold_terms(self) -> tuple[list[int], str | None, str | None]:
        """(days, from, to) as `domain.schedule` reads them (a published window is valid)."""
        return [d for d in self.days if isinstance(d, int)], self.from_, self.to


def window_issues(window: SendWindow) -> list[tuple[Loc, str]]:
    """A window's publish rules: known days, `HH:MM` times, both ends or neither, and a length."""
    issues: list[tuple[Loc, str]] = []
    for i, day in enumerate(window.days):
        if weekday_number(day) is None:
            issues.append(
                (("days", i), f"unknown day {day!r}: an ISO weekday 1 (Monday) to 7 (Sunday) or its name")
            )
    for field, value in (("from", window.from_), ("to", window.to)):
        if value is not None and not is_wall_time(value):
            issues.append(((field,), f"{value!r} is not a local time 'HH:MM' (00:00 to 23:59)"))
    if (window.from_ is None) != (window.to is None):
        missing = "to" if window.to is None else "from"
        issues.append(((missing,), "a window needs both `from` and `to` (or neither, for whole days)"))
    elif window.from_ is not None and window.from_ == window.to:
        issues.append(
            (("to",), "`from` equals `to`: an empty window; leave both out for the whole of each day")
        )
    return issues


class SendConfig(WireModel):
    channel: Channel
    template_id: str | None = None
    subject: str | None = None
    body: str | None = None
    action_target_id: str | None = None
    content_id: str | None = None
    content_type: str | None = None
    on_failure: Literal["skip", "fail"] = "fail"
    # Consent (SPEC §14): the subscription group the send is judged under (else its channel's default);
    # a transactional send (a receipt, a password reset) bypasses groups and carries no unsubscribe link.
    subscription_group_id: str | None = None
    # None reads as false; absent from a saved definition unless set (the steps view shows what was set).
    transactional: bool | None = None
    # When the send may go, in the customer's clock (see the module's docstring).
    window: SendWindow | None = None

    @model_validator(mode="after")
    def _content_present(self) -> SendConfig:
        if self.template_id is None and self.body is None and self.content_id is None:
            raise ValueError("a SEND needs `templateId`, or inline `body` (and `subject` for EMAIL)")
        if self.channel == "EMAIL" and self.template_id is None and not self.subject:
            raise ValueError("an inline EMAIL needs `subject`")
        return self


class SendNode(NodeBase):
    type: Literal["SEND"]
    config: SendConfig


class SendMessage(WireModel):
    """Command: send the node's message, once per idempotency key."""

    kind: Literal["send_message"] = "send_message"
    node_id: str
    node_name: str
    visit: int
    idempotency_key: str
    config: SendConfig
    # The enrollment context templates render with besides the customer (`entry`, `event`, `journey`).
    context: dict[str, Any] = Field(default_factory=dict)


def quiet_until(run: Run, now: datetime) -> datetime | None:
    """When the journey's quiet hours end, if `now` is inside them and this run holds sends for them (read
    in the journey's zone: the hold as it was before the customer's clock)."""
    settings = run.definition.settings
    quiet = settings.quiet_hours
    if quiet is None or not run.holds_quiet_hours:
        return None
    return quiet_hours_end(now, quiet.start, quiet.end, resolve_zone(None, settings.timezone))


def needs_zone(node: SendNode, run: Run) -> bool:
    """Whether this send's hold depends on a clock: the journey's quiet hours (held here) or its window."""
    return node.config.window is not None or (
        run.definition.settings.quiet_hours is not None and run.holds_quiet_hours
    )


def send_zone(run: Run) -> tuple[ZoneInfo, str | None]:
    """The zone a send's hold is read in, and why the customer's trait was not used (when it was unusable)."""
    journey_zone = run.definition.settings.timezone
    clock = run.state.customer_clock
    if not run.customer_clock or clock is None:
        return resolve_zone(None, journey_zone), None
    return clock.zone(journey_zone)


def hold(node: SendNode, run: Run, now: datetime) -> tuple[Awaiting, datetime] | None:
    """What holds the send at `now` and until when, or None to send now."""
    if not run.customer_clock:
        until = quiet_until(run, now)
        return None if until is None else ("quiet_hours", until)
    if not needs_zone(node, run):
        return None
    zone, _ = send_zone(run)
    settings = run.definition.settings
    quiet = settings.quiet_hours if run.holds_quiet_hours else None
    quiet_terms = None if quiet is None else (quiet.start, quiet.end)
    window = node.config.window
    until = send_hold_end(
        now, zone, quiet=quiet_terms, window=None if window is None else window.hold_terms()
    )
    if until is None:
        return None
    quiet_now = quiet_terms is not None and quiet_hours_end(now, *quiet_terms, zone) is not None
    return ("quiet_hours" if quiet_now else "window"), until


def template_roots(source: str) -> set[str] | None:
    """The variables an inline template reads from its context; None when it does not parse."""
    from jinja2 import Environment, TemplateSyntaxError, meta

    try:
        return set(meta.find_undeclared_variables(Environment().parse(source)))
    except TemplateSyntaxError:
        return None


def unknown_root(source: str) -> str | None:
    """Why a template that parses reads a variable outside the context's roots, or None when it does not
    (saved templates at save, inline ones at publish)."""
    from domain.context import CONTEXT_ROOTS

    unknown = sorted((template_roots(source) or set()) - set(CONTEXT_ROOTS))
    if not unknown:
        return None
    return f"unknown variable {unknown[0]!r}; templates read {', '.join(CONTEXT_ROOTS)}"


class SendKind(NodeKind[SendNode]):
    node_class = SendNode

    def issues(self, node: SendNode) -> list[tuple[Loc, str]]:
        """An inline subject or body may read only the context's roots (`domain.context`)."""
        issues: list[tuple[Loc, str]] = []
        for field, source in (("subject", node.config.subject), ("body", node.config.body)):
            if not source:
                continue
            if template_roots(source) is None:
                issues.append((("config", field), f"the {field} template does not parse"))
                continue
            unknown = unknown_root(source)
            if unknown is not None:
                issues.append((("config", field), unknown))
        if node.config.window is not None:
            issues.extend((("config", "window", *loc), msg) for loc, msg in window_issues(node.config.window))
        return issues

    def enter(self, node: SendNode, run: Run, now: datetime) -> str | None:
        if run.customer_clock and needs_zone(node, run) and run.state.customer_clock is None:
            run.block("profile")  # the customer's zone, once per enrollment (`on_profile_read`)
            return None
        held = hold(node, run, now)
        if held is None:
            run.block("send")
        else:
            run.block(*held)
        return None

    def on_profile_read(self, node: SendNode, run: Run, read: ProfileRead) -> str | None:
        # The interpreter kept the trait in the state (`CustomerClock`); a profile without one answers
        # too (the journey's zone), so the next send does not read again.
        self._hold_or_send(node, run, read.now)
        return None

    def on_clock_changed(self, node: SendNode, run: Run, now: datetime) -> str | None:
        self._hold_or_send(node, run, now)
        return None

    @staticmethod
    def _hold_or_send(node: SendNode, run: Run, now: datetime) -> None:
        held = hold(node, run, now)
        if held is None:
            run.wait_on("send")
        else:
            run.wait_on(*held)

    def effect(self, node: SendNode, state: JourneyState) -> SendMessage:
        assert state.open_step is not None
        visit = state.open_step.visit
        return SendMessage(
            node_id=node.id,
            node_name=node.name or node.type,
            visit=visit,
            idempotency_key=idempotency_key(state.enrollment_id, node.id, visit),
            config=node.config,
            context=state.context(),
        )

    def wait_label(self, node: SendNode, state: JourneyState) -> str:
        until = state.step_deadline
        what = "time window" if state.awaiting == "window" else "quiet hours"
        return what if until is None else f"{what} until {until.isoformat()}"

    def on_time_reached(self, node: SendNode, run: Run, now: datetime) -> str | None:
        # The hold is over: send (or hold again, should the clock still hold it).
        self._hold_or_send(node, run, now)
        return None

    def on_skip(self, node: SendNode, run: Run, now: datetime) -> str | None:
        # An operator ends the hold: the send goes now, quiet hours or window notwithstanding.
        run.wait_on("send")
        return None

    def on_send_finished(self, node: SendNode, run: Run, outcome: SendFinished) -> str | None:
        # Why the customer's clock was not used, when it was needed and unusable.
        _, why = send_zone(run) if run.customer_clock and needs_zone(node, run) else (None, None)
        if outcome.outcome == "failed" and node.config.on_failure == "fail":
            run.close(outcome.now, status="FAILED", detail=_joined(outcome.error, why))
            run.finish("FAILED", outcome.now, reason=outcome.error)
            return None
        status: StepStatus = "SKIPPED" if outcome.outcome == "failed" else "COMPLETED"
        run.close(outcome.now, status=status, detail=_joined(outcome.error or outcome.outcome, why))
        return "next"


def _joined(detail: str | None, why: str | None) -> str | None:
    if why is None:
        return detail
    return why if detail is None else f"{detail}; {why}"


SEND = SendKind()
