"""The send activity: check caps, compose from template and traits, log, deliver once per idempotency key.

EMAIL goes to the customer's `email` trait through the configured channel. WEBHOOK goes to the URL of
the action target the node names (`config.actionTargetId`), signed with the target's secret. SMS (to the
`phone` trait) and PUSH (to the `pushToken` trait) go to the provider of the SMS/PUSH action target the
node names, through the HTTP provider adapter (`activities.providers`). IN_APP writes one row into the
customer's inbox, in the same transaction that marks the message sent.

Frequency caps (the journey's `settings.frequencyCaps`, sent along on the request) are checked once, when
the message is claimed: the claim transaction holds an advisory lock on (tenant, customer), counts the
customer's messages of the tenant — all journeys — that hold a slot in each cap's period, and records the
message `suppressed` when one is full. Quiet hours are the workflow's business: it holds the send until
the window ends before this activity is scheduled.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.exceptions import ApplicationError

from activities.channels import (
    Channel,
    DeliveryReceipt,
    OutboundMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
    temporal_retry_delay,
)
from activities.providers import (
    ProviderChannel,
    ProviderSettings,
    ProviderTarget,
    RecipientError,
    phone_number,
    push_token,
)
from activities.webhooks import TargetGoneError, WebhookChannel, WebhookTarget
from delivery.channel_settings import MAX_WEBHOOK_TIMEOUT_SECONDS as MAX_WEBHOOK_TIMEOUT_SECONDS
from delivery.channel_settings import WebhookSettings
from delivery.netguard import AllowList
from delivery.rendering import Renderer, TemplateRenderError
from domain.durations import parse_duration
from domain.metrics import SEND_DURATION, SENDS
from domain.payloads import SendRequest, SendResult
from store.repositories.action_targets import ActionTargetRepository
from store.repositories.customers import CustomerRepository
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.inbox import InboxRepository
from store.repositories.messages import MessageRepository
from store.repositories.templates import TemplateRepository
from store.rows import ActionTargetRow

SEND_MESSAGE = "send_message"


def webhook_target(settings: WebhookSettings) -> WebhookTarget:
    return WebhookTarget(
        url=settings.url,
        secret=settings.secret,
        headers=settings.headers,
        timeout_seconds=settings.timeout_seconds,
    )


def display_url(url: str) -> str:
    """The URL without query or fragment (they may carry tokens): what the delivery log shows."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class SendRefusedError(Exception):
    """A business reason this message cannot go out (no address, bad template, unknown channel)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


IN_APP_RECIPIENT = "inbox"


@dataclass(frozen=True)
class _Webhook:
    target_id: uuid.UUID
    target: WebhookTarget

    @property
    def recipient(self) -> str:
        return display_url(self.target.url)


@dataclass(frozen=True)
class _Provider:
    target_id: uuid.UUID
    target: ProviderTarget


def _recipient(channel: str, traits: Mapping[str, Any]) -> str:
    """The address a message on `channel` goes to, from the customer's traits (not for WEBHOOK)."""
    if channel == "IN_APP":
        return IN_APP_RECIPIENT
    if channel in ("SMS", "PUSH"):
        try:
            return (
                phone_number(traits.get("phone")) if channel == "SMS" else push_token(traits.get("pushToken"))
            )
        except RecipientError as exc:
            raise SendRefusedError("InvalidRecipient", str(exc)) from exc
    if channel != "EMAIL":
        raise SendRefusedError("ChannelNotConfigured", f"channel {channel} has no delivery adapter")
    address = traits.get("email")
    if not isinstance(address, str) or not address:
        raise SendRefusedError("InvalidRecipient", "the customer has no `email` trait")
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise SendRefusedError("InvalidRecipient", f"the customer's email is not valid: {exc}") from exc


class MessagingActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channels: Mapping[str, Channel],
        *,
        webhook_allow_list: Sequence[str] = (),
    ) -> None:
        """`channels` holds the EMAIL channel (SMTP). WEBHOOK, SMS and PUSH go over HTTP to the node's
        action target, SSRF-guarded with `webhook_allow_list`; IN_APP writes to the database."""
        AllowList.parse(webhook_allow_list)  # a malformed entry fails at startup, not on every send
        self._sessions = sessions
        self._channels = channels
        self._webhook_allow_list = tuple(webhook_allow_list)
        self._renderer = Renderer()

    @activity.defn(name=SEND_MESSAGE)
    async def send_message(self, request: SendRequest) -> SendResult:
        """One delivery attempt; its outcome and duration are counted by channel (a retried attempt
        counts again, as `retry` while it is transient)."""
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await self._send(request)
            outcome = result.outcome
            return result
        except ApplicationError as exc:
            outcome = "failed" if exc.non_retryable else "retry"
            raise
        finally:
            # Outside a worker (tests calling the method directly) there is nothing to record to.
            meter = activity.metric_meter() if activity.in_activity() else MetricMeter.noop
            attributes = {"channel": request.config.channel, "status": outcome}
            meter.create_counter(SENDS, "Send attempts by channel and outcome").add(1, attributes)
            meter.create_histogram_float(SEND_DURATION, "Duration of a send attempt", "s").record(
                time.perf_counter() - started, {"channel": request.config.channel}
            )

    async def _send(self, request: SendRequest) -> SendResult:
        channel_name = request.config.channel
        target: _Webhook | _Provider | None = None
        refusal: SendRefusedError | None = None
        async with self._sessions() as session:
            async with session.begin():
                if request.progress is not None:
                    await EnrollmentRepository(session).apply_progress(request.progress)
                messages = MessageRepository(session)
                # Held to the end of this transaction: the cap count and the claim are one step.
                await messages.lock_customer(request.tenant_id, request.customer_id)
                message, created = await messages.claim_new(
                    {
                        "tenant_id": request.tenant_id,
                        "idempotency_key": request.idempotency_key,
                        "journey_id": uuid.UUID(request.journey_id),
                        "enrollment_id": uuid.UUID(request.enrollment_id),
                        "node_id": request.node_id,
                        "customer_id": request.customer_id,
                        "channel": channel_name,
                    }
                )
                if message.status == "sent":
                    return SendResult(outcome="sent", message_id=message.provider_message_id)
                if message.status == "suppressed":
                    return SendResult(outcome="suppressed", error=message.error)
                # Caps are judged once, when the message is admitted; a retried attempt keeps its slot.
                reason = await self._cap_reached(messages, request, message.id) if created else None
                if reason is not None:
                    await messages.mark(message.id, status="suppressed", error=reason)
                    return SendResult(outcome="suppressed", error=reason)
                traits = await CustomerRepository(session).traits(request.tenant_id, request.customer_id)
                sources = await self._sources(session, request)
                if channel_name in ("WEBHOOK", "SMS", "PUSH"):
                    try:
                        target = await self._target(session, request)
                    except SendRefusedError as exc:
                        refusal = exc

            webhook = target if isinstance(target, _Webhook) else None
            try:
                if refusal is not None:
                    raise refusal
                if sources is None:
                    raise SendRefusedError(
                        "TemplateNotFound", f"template {request.config.template_id!r} does not exist"
                    )
                if webhook is not None:
                    outbound = self._compose(request, traits or {}, None, sources[1], webhook.recipient)
                    receipt = await self._deliver_http(webhook, outbound)
                else:
                    recipient = _recipient(channel_name, traits or {})
                    outbound = self._compose(request, traits or {}, *sources, recipient)
                    if channel_name == "IN_APP":
                        receipt = None  # written below, with the mark, in one transaction
                    elif target is not None:
                        receipt = await self._deliver_http(target, outbound)
                    else:
                        channel = self._channels.get(channel_name)
                        if channel is None:
                            raise SendRefusedError(
                                "ChannelNotConfigured", f"channel {channel_name} is not configured"
                            )
                        receipt = await channel.send(outbound)
            except TargetGoneError as exc:
                assert webhook is not None
                async with session.begin():
                    await MessageRepository(session).mark(
                        message.id, status="failed", error=str(exc), recipient=webhook.recipient
                    )
                    await ActionTargetRepository(session).disable(
                        request.tenant_id,
                        webhook.target_id,
                        f"disabled at {datetime.now(UTC).isoformat(timespec='seconds')}: {exc}",
                    )
                raise ApplicationError(str(exc), type="TargetGone", non_retryable=True) from exc
            except (SendRefusedError, PermanentDeliveryError) as exc:
                kind = exc.kind if isinstance(exc, SendRefusedError) else "DeliveryRefused"
                activity.logger.warning("send failed: %s (%s, node %s)", kind, channel_name, request.node_id)
                async with session.begin():
                    await MessageRepository(session).mark(
                        message.id,
                        status="failed",
                        error=str(exc),
                        recipient=webhook.recipient if webhook is not None else None,
                    )
                raise ApplicationError(str(exc), type=kind, non_retryable=True) from exc
            except TransientDeliveryError as exc:
                # Still queued; the log shows why the last attempt did not land. 429 Retry-After is honoured.
                async with session.begin():
                    await MessageRepository(session).mark(message.id, status="queued", error=str(exc))
                raise ApplicationError(
                    str(exc), type="TransientDelivery", next_retry_delay=temporal_retry_delay(exc)
                ) from exc

            async with session.begin():
                if receipt is None:
                    receipt = await self._deliver_to_inbox(session, request, outbound)
                await MessageRepository(session).mark(
                    message.id,
                    status="sent",
                    sent_at=datetime.now(UTC),
                    provider_message_id=receipt.provider_message_id,
                    recipient=outbound.recipient,
                    subject=outbound.subject,
                )
        return SendResult(outcome="sent", message_id=receipt.provider_message_id)

    async def _cap_reached(
        self, messages: MessageRepository, request: SendRequest, message_id: uuid.UUID
    ) -> str | None:
        """Why this message may not go out under the journey's frequency caps, or None when it may.

        A cap counts the customer's messages across every journey of the tenant (the message itself
        excluded): what a customer receives is what a cap protects, whichever journey sends it.
        """
        now = datetime.now(UTC)
        for cap in request.frequency_caps:
            if cap.channel is not None and cap.channel != request.config.channel:
                continue
            count = await messages.count_recent(
                request.tenant_id,
                request.customer_id,
                since=now - parse_duration(cap.period),
                channel=cap.channel,
                excluding=message_id,
            )
            if count >= cap.limit:
                scope = f"{cap.channel} messages" if cap.channel else "messages"
                return f"frequency cap reached: {count} {scope} in the last {cap.period} (limit {cap.limit})"
        return None

    async def _sources(self, session: AsyncSession, request: SendRequest) -> tuple[str | None, str] | None:
        """Subject and body templates; None when the referenced template does not exist."""
        config = request.config
        if config.template_id is None:
            return config.subject, config.body or ""
        try:
            template_uuid = uuid.UUID(config.template_id)
        except ValueError:
            return None
        template = await TemplateRepository(session).get(request.tenant_id, template_uuid)
        return None if template is None else (template.subject, template.body)

    async def _target(self, session: AsyncSession, request: SendRequest) -> _Webhook | _Provider:
        """The enabled action target the node names, for its channel, or why there is none to send to."""
        channel = request.config.channel
        row = await self._action_target(session, request)
        try:
            if channel == "WEBHOOK":
                return _Webhook(
                    target_id=row.id, target=webhook_target(WebhookSettings.model_validate(row.settings))
                )
            return _Provider(target_id=row.id, target=ProviderSettings.model_validate(row.settings).target())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "settings"
            named = request.config.action_target_id
            raise SendRefusedError(
                "ActionTargetInvalid",
                f"action target {named!r} has unusable settings: {where}: {first['msg']}",
            ) from exc

    async def _action_target(self, session: AsyncSession, request: SendRequest) -> ActionTargetRow:
        channel = request.config.channel
        target_id = request.config.action_target_id
        if not target_id:
            raise SendRefusedError("ActionTargetMissing", f"a {channel} send needs `actionTargetId`")
        try:
            target_uuid = uuid.UUID(target_id)
        except ValueError:
            target_uuid = None
        row = (
            None
            if target_uuid is None
            else await ActionTargetRepository(session).get(request.tenant_id, target_uuid)
        )
        if row is None:
            raise SendRefusedError("ActionTargetNotFound", f"action target {target_id!r} does not exist")
        if row.channel != channel:
            raise SendRefusedError(
                "ActionTargetMismatch",
                f"action target {target_id!r} is a {row.channel} target, not {channel}",
            )
        if not row.enabled:
            why = f" ({row.disabled_reason})" if row.disabled_reason else ""
            raise SendRefusedError("ActionTargetDisabled", f"action target {target_id!r} is disabled{why}")
        return row

    async def _deliver_http(self, target: _Webhook | _Provider, outbound: OutboundMessage) -> DeliveryReceipt:
        allow = self._webhook_allow_list
        channel: WebhookChannel | ProviderChannel = (
            WebhookChannel(target.target, allow=allow)
            if isinstance(target, _Webhook)
            else ProviderChannel(target.target, allow=allow)
        )
        try:
            return await channel.send(outbound)
        finally:
            await channel.aclose()

    async def _deliver_to_inbox(
        self, session: AsyncSession, request: SendRequest, outbound: OutboundMessage
    ) -> DeliveryReceipt:
        """One row in the customer's inbox (kept once per key); its id is the provider message id."""
        row = await InboxRepository(session).deliver(
            {
                "tenant_id": request.tenant_id,
                "customer_id": request.customer_id,
                "journey_id": uuid.UUID(request.journey_id),
                "enrollment_id": uuid.UUID(request.enrollment_id),
                "node_id": request.node_id,
                "idempotency_key": request.idempotency_key,
                "content_id": request.config.content_id,
                "content_type": request.config.content_type,
                "subject": outbound.subject,
                "body": outbound.body or None,
            }
        )
        return DeliveryReceipt(provider_message_id=str(row.id))

    def _compose(
        self,
        request: SendRequest,
        traits: Mapping[str, Any],
        subject_source: str | None,
        body_source: str,
        recipient: str,
    ) -> OutboundMessage:
        context = {"traits": dict(traits), "customer": {"id": request.customer_id, **traits}}
        try:
            subject = (
                self._renderer.render(subject_source, context, what="subject") if subject_source else None
            )
            body = self._renderer.render(body_source, context, what="body")
        except TemplateRenderError as exc:
            raise SendRefusedError("TemplateError", str(exc)) from exc
        return OutboundMessage(
            idempotency_key=request.idempotency_key, recipient=recipient, subject=subject, body=body
        )
