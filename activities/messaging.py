"""The send activity: compose from template and traits, log, deliver once per idempotency key."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channels import Channel, OutboundMessage, PermanentDeliveryError
from activities.rendering import Renderer, TemplateRenderError
from domain.payloads import SendRequest, SendResult
from store.repositories.customers import CustomerRepository
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.messages import MessageRepository
from store.repositories.templates import TemplateRepository

SEND_MESSAGE = "send_message"


class SendRefusedError(Exception):
    """A business reason this message cannot go out (no address, bad template, unknown channel)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def _recipient(channel: str, traits: Mapping[str, Any]) -> str:
    if channel != "EMAIL":
        raise SendRefusedError("ChannelNotConfigured", f"channel {channel} has no delivery adapter yet")
    address = traits.get("email")
    if not isinstance(address, str) or not address:
        raise SendRefusedError("InvalidRecipient", "the customer has no `email` trait")
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise SendRefusedError("InvalidRecipient", f"the customer's email is not valid: {exc}") from exc


class MessagingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], channels: Mapping[str, Channel]) -> None:
        self._sessions = sessions
        self._channels = channels
        self._renderer = Renderer()

    @activity.defn(name=SEND_MESSAGE)
    async def send_message(self, request: SendRequest) -> SendResult:
        async with self._sessions() as session:
            async with session.begin():
                if request.progress is not None:
                    await EnrollmentRepository(session).apply_progress(request.progress)
                message = await MessageRepository(session).claim(
                    {
                        "tenant_id": request.tenant_id,
                        "idempotency_key": request.idempotency_key,
                        "journey_id": uuid.UUID(request.journey_id),
                        "enrollment_id": uuid.UUID(request.enrollment_id),
                        "node_id": request.node_id,
                        "customer_id": request.customer_id,
                        "channel": request.config.channel,
                    }
                )
                if message.status in ("sent", "suppressed"):
                    return SendResult(outcome=message.status, message_id=message.provider_message_id)
                traits = await CustomerRepository(session).traits(request.tenant_id, request.customer_id)
                sources = await self._sources(session, request)

            try:
                if sources is None:
                    raise SendRefusedError(
                        "TemplateNotFound", f"template {request.config.template_id!r} does not exist"
                    )
                outbound = self._compose(request, traits or {}, *sources)
                channel = self._channels.get(request.config.channel)
                if channel is None:
                    raise SendRefusedError(
                        "ChannelNotConfigured", f"channel {request.config.channel} is not configured"
                    )
                receipt = await channel.send(outbound)
            except (SendRefusedError, PermanentDeliveryError) as exc:
                kind = exc.kind if isinstance(exc, SendRefusedError) else "DeliveryRefused"
                async with session.begin():
                    await MessageRepository(session).mark(message.id, status="failed", error=str(exc))
                raise ApplicationError(str(exc), type=kind, non_retryable=True) from exc

            async with session.begin():
                await MessageRepository(session).mark(
                    message.id,
                    status="sent",
                    sent_at=datetime.now(UTC),
                    provider_message_id=receipt.provider_message_id,
                    recipient=outbound.recipient,
                    subject=outbound.subject,
                )
        return SendResult(outcome="sent", message_id=receipt.provider_message_id)

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

    def _compose(
        self,
        request: SendRequest,
        traits: Mapping[str, Any],
        subject_source: str | None,
        body_source: str,
    ) -> OutboundMessage:
        recipient = _recipient(request.config.channel, traits)
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
