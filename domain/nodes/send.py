"""SEND: one message on one channel; then `next`.

Outcomes `sent` and `suppressed` continue; `failed` follows `onFailure`: `fail` (the default) fails the
enrollment, `skip` records the step SKIPPED and continues.

Templates render with `traits`, `customer`, and the enrollment context: `entry`, `event`, `journey`
(`domain.context`). A variable that does not resolve fails the send with the path named, and `onFailure`
decides (a message never goes out with a blank where the product name should be).

Quiet hours (`settings.quietHours`, read in the journey's `timezone`): a SEND entered inside the window
does not send; its step waits (`quiet_hours`) until the window ends, then sends. The wait is an ordinary
deadline, so the goal deadline coming first abandons the enrollment as it would in any wait, and exits,
exit-criteria events and goal events act at once. The customer's `timezone` trait is not consulted:
it would cost every send a profile read.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from domain.nodes.base import Loc, NodeBase, NodeKind, Run, StepStatus, idempotency_key
from domain.schedule import quiet_hours_end, resolve_zone
from domain.wire import WireModel

if TYPE_CHECKING:
    from domain.interpreter import JourneyState, SendFinished

Channel = Literal["EMAIL", "SMS", "PUSH", "WEBHOOK", "IN_APP"]


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
    transactional: bool = False

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
    """When the journey's quiet hours end, if `now` is inside them and this run holds sends for them."""
    settings = run.definition.settings
    quiet = settings.quiet_hours
    if quiet is None or not run.holds_quiet_hours:
        return None
    return quiet_hours_end(now, quiet.start, quiet.end, resolve_zone(None, settings.timezone))


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
        return issues

    def enter(self, node: SendNode, run: Run, now: datetime) -> str | None:
        until = quiet_until(run, now)
        if until is None:
            run.block("send")
        else:
            run.block("quiet_hours", until)
        return None

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
        return "quiet hours" if until is None else f"quiet hours until {until.isoformat()}"

    def on_time_reached(self, node: SendNode, run: Run, now: datetime) -> str | None:
        # The quiet hours are over: send (or hold again, should the clock still show them).
        until = quiet_until(run, now)
        if until is None:
            run.wait_on("send")
        else:
            run.wait_on("quiet_hours", until)
        return None

    def on_send_finished(self, node: SendNode, run: Run, outcome: SendFinished) -> str | None:
        if outcome.outcome == "failed" and node.config.on_failure == "fail":
            run.close(outcome.now, status="FAILED", detail=outcome.error)
            run.finish("FAILED", outcome.now, reason=outcome.error)
            return None
        status: StepStatus = "SKIPPED" if outcome.outcome == "failed" else "COMPLETED"
        run.close(outcome.now, status=status, detail=outcome.error or outcome.outcome)
        return "next"


SEND = SendKind()
