"""The phases of one send attempt, each a small collaborator; `activities.messaging` runs them in order.

1. `Claims.claim` — one transaction: the step records riding along, the customer's advisory lock, the
   subscription group the send is judged under, the message row claimed by its idempotency key, the
   customer's consent to the group (every attempt), and the frequency caps, judged once, when the
   message is admitted. A message sent or suppressed before (a retried attempt) is settled here.
2. `Composer.compose` — one read transaction (the action target, the template, the traits, the
   suppression list for the recipient's address), then the rendering with the recipient's unsubscribe
   link: the message and the way it goes, or `Suppressed` when the address is on the suppression list.
   A business reason it cannot go out is a `SendRefusedError`.
3. `Deliverer.deliver` — no transaction: the channel (SMTP, a signed webhook, an HTTP provider). IN_APP has
   nothing to deliver here: its inbox row is written with the outcome.
4. `Outcomes` — one transaction each: `sent` (with the inbox row for IN_APP), `suppressed`, `failed`
   (and, for a webhook that is gone, its target disabled), or `retrying` (still queued, the last error
   kept).

Consent (SPEC §14). A transactional send belongs to no group and is judged by none; any other send is
judged under the group it names, else its channel's default group (created OPT_OUT on first use) — except
WEBHOOK, whose receivers are systems, not people: a WEBHOOK send is judged by a group only when it names
one. In an OPT_OUT group the customer receives unless their row says unsubscribed; in an OPT_IN group only
once their row says subscribed. A send without consent is `suppressed` with `reason` `unsubscribed` or
`not_opted_in`. The suppression list (bounces, complaints) holds every send to a listed EMAIL address, SMS
number or PUSH token, transactional ones too: the address cannot or does not want to receive mail.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.channels import Channel, DeliveryReceipt, OutboundMessage
from activities.providers import (
    ProviderChannel,
    ProviderSettings,
    ProviderTarget,
    RecipientError,
    phone_number,
    push_token,
)
from activities.webhooks import WebhookChannel, WebhookTarget
from delivery.channel_settings import WebhookSettings
from delivery.rendering import Renderer, TemplateRenderError
from delivery.unsubscribe import UnsubscribeLink, UnsubscribeLinks
from domain.consent import BOUNCED, COMPLAINED, FREQUENCY_CAP, consent_detail, consent_reason
from domain.definition import SendConfig
from domain.durations import parse_duration
from domain.payloads import SendRequest, SendResult
from store.repositories.action_targets import ActionTargetRepository
from store.repositories.customers import CustomerRepository
from store.repositories.destinations import DestinationRepository
from store.repositories.enrollments import EnrollmentRepository
from store.repositories.inbox import InboxRepository
from store.repositories.messages import MessageRepository
from store.repositories.subscriptions import CustomerSubscriptionRepository, SubscriptionGroupRepository
from store.repositories.suppressions import SuppressionRepository
from store.repositories.templates import TemplateRepository
from store.rows import ActionTargetRow, SubscriptionGroupRow

IN_APP_RECIPIENT = "inbox"
HTTP_CHANNELS = frozenset({"WEBHOOK", "SMS", "PUSH"})  # sent to the action target the node names
# Channels whose recipient is an address a bounce or complaint can put on the suppression list.
LISTED_CHANNELS = frozenset({"EMAIL", "SMS", "PUSH"})
# Channels outside subscription groups unless the send names one: their receivers are systems.
GROUPLESS_CHANNELS = frozenset({"WEBHOOK"})


def listed_reason(suppression_reason: str) -> str:
    """messages.reason for a suppression-list entry: `complained` for a complaint, else `bounced`."""
    return COMPLAINED if suppression_reason.lower().startswith("complain") else BOUNCED


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
    """A business reason this message cannot go out (no address, bad template, unknown channel).

    `recipient`: what the delivery log shows for the failed message (a webhook's URL, once known).
    """

    def __init__(self, kind: str, detail: str, *, recipient: str | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.recipient = recipient


@dataclass(frozen=True)
class WebhookWay:
    target_id: uuid.UUID
    target: WebhookTarget

    @property
    def recipient(self) -> str:
        return display_url(self.target.url)


@dataclass(frozen=True)
class ProviderWay:
    target_id: uuid.UUID
    target: ProviderTarget


# How a composed message leaves: an action target over HTTP, a configured channel (EMAIL), or None for
# the customer's inbox (written with the outcome, in one transaction).
Way = WebhookWay | ProviderWay | Channel | None


@dataclass(frozen=True)
class Claim:
    """The message row this attempt works on. `settled`: its answer when there is nothing to send —
    sent or suppressed by an earlier attempt, or suppressed now (no consent, a frequency cap is full).
    `group_id`: the subscription group the send is judged under (None: transactional, or a WEBHOOK naming
    none). `refused`: why it cannot go out at all (the group it names is gone)."""

    message_id: uuid.UUID
    settled: SendResult | None = None
    group_id: uuid.UUID | None = None
    refused: SendRefusedError | None = None


@dataclass(frozen=True)
class Suppressed:
    """A composed message that does not go out: its address is on the suppression list."""

    reason: str
    error: str
    recipient: str


@dataclass(frozen=True)
class Letter:
    """A composed message and the way it goes."""

    outbound: OutboundMessage
    way: Way

    @property
    def failure_recipient(self) -> str | None:
        """What the delivery log shows when delivering fails: a webhook's URL (others: nothing new)."""
        return self.way.recipient if isinstance(self.way, WebhookWay) else None


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as session, session.begin():
        yield session


class Claims:
    """Phase 1: admit the message once per idempotency key, under the frequency caps."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def claim(self, request: SendRequest) -> Claim:
        async with transaction(self._sessions) as session:
            if request.progress is not None:
                await EnrollmentRepository(session).apply_progress(request.progress)
            messages = MessageRepository(session)
            # Held to the end of this transaction: the cap count and the claim are one step.
            await messages.lock_customer(request.tenant_id, request.customer_id)
            refused: SendRefusedError | None = None
            try:
                group = await _subscription_group(session, request)
            except SendRefusedError as exc:
                group, refused = None, exc
            group_id = None if group is None else group.id
            message, created = await messages.claim_new(
                {
                    "tenant_id": request.tenant_id,
                    "idempotency_key": request.idempotency_key,
                    "journey_id": uuid.UUID(request.journey_id),
                    "enrollment_id": uuid.UUID(request.enrollment_id),
                    "node_id": request.node_id,
                    "customer_id": request.customer_id,
                    "channel": request.config.channel,
                    "subscription_group_id": group_id,
                    "transactional": bool(request.config.transactional),
                }
            )
            if message.status == "sent":
                return Claim(message.id, SendResult(outcome="sent", message_id=message.provider_message_id))
            if message.status == "suppressed":
                return Claim(message.id, SendResult(outcome="suppressed", error=message.error))
            if refused is not None:
                return Claim(message.id, refused=refused)
            # Consent is judged on every attempt: a customer who left since the first one is not sent to.
            if group is not None:
                consent = await CustomerSubscriptionRepository(session).get(
                    request.tenant_id, request.customer_id, group.id
                )
                why = consent_reason(group.type, None if consent is None else consent.subscribed)
                if why is not None:
                    detail = consent_detail(why, group.name, group.type)
                    await messages.mark(message.id, status="suppressed", error=detail, reason=why)
                    return Claim(message.id, SendResult(outcome="suppressed", error=detail), group_id)
            # Caps are judged once, when the message is admitted; a retried attempt keeps its slot.
            capped = await self._cap_reached(messages, request, message.id) if created else None
            if capped is not None:
                await messages.mark(message.id, status="suppressed", error=capped, reason=FREQUENCY_CAP)
                return Claim(message.id, SendResult(outcome="suppressed", error=capped), group_id)
            return Claim(message.id, group_id=group_id)

    @staticmethod
    async def _cap_reached(
        messages: MessageRepository, request: SendRequest, message_id: uuid.UUID
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


@dataclass(frozen=True)
class _Material:
    """What composing reads from the database."""

    request: SendRequest  # with the node's destination as its version stores it now
    way: WebhookWay | ProviderWay | None  # the action target of a WEBHOOK, SMS or PUSH send
    sources: tuple[str | None, str] | None  # subject and body templates; None: the template is gone
    traits: Mapping[str, Any]
    listed: str | None = None  # the suppression list's reason for the recipient's address, if listed


class Composer:
    """Phase 2: the message from its template and the customer's traits, and the way it goes."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channels: Mapping[str, Channel],
        links: UnsubscribeLinks,
    ) -> None:
        self._sessions = sessions
        self._channels = channels
        self._links = links
        self._renderer = Renderer()

    async def compose(self, request: SendRequest, claim: Claim) -> Letter | Suppressed:
        material = await self._read(request)
        request = material.request
        channel = request.config.channel
        way, traits = material.way, material.traits
        link = self._link(request, claim)
        if isinstance(way, WebhookWay):
            if material.sources is None:
                raise self._template_gone(request, recipient=way.recipient)
            body = material.sources[1]
            outbound = self._render(request, traits, None, body, way.recipient, link, shown=way.recipient)
            return Letter(outbound, way)
        if material.sources is None:
            raise self._template_gone(request)
        recipient = _recipient(channel, traits)
        if material.listed is not None:
            reason = listed_reason(material.listed)
            return Suppressed(reason, f"{reason}: {recipient} is on the suppression list", recipient)
        outbound = self._render(request, traits, *material.sources, recipient, link)
        if channel == "IN_APP" or way is not None:
            return Letter(outbound, way)
        configured = self._channels.get(channel)
        if configured is None:
            raise SendRefusedError("ChannelNotConfigured", f"channel {channel} is not configured")
        return Letter(outbound, configured)

    def _link(self, request: SendRequest, claim: Claim) -> UnsubscribeLink | None:
        """The recipient's unsubscribe link for the send's group; None outside groups (transactional)."""
        if claim.group_id is None:
            return None
        return self._links.for_recipient(request.tenant_id, request.customer_id, str(claim.group_id))

    async def _read(self, request: SendRequest) -> _Material:
        """One read transaction: the node's destination as stored now, then what it names. A target that
        cannot be sent to is refused first."""
        channel = request.config.channel
        async with transaction(self._sessions) as session:
            request = await current_destination(session, request)
            way = await self._way(session, request) if channel in HTTP_CHANNELS else None
            traits = await CustomerRepository(session).traits(request.tenant_id, request.customer_id) or {}
            sources = await self._sources(session, request)
            listed = None
            address = _listed_address(channel, traits)
            if address is not None:
                entry = await SuppressionRepository(session).find(request.tenant_id, channel, address)
                listed = None if entry is None else entry.reason
        return _Material(request, way, sources, traits, listed)

    @staticmethod
    def _template_gone(request: SendRequest, *, recipient: str | None = None) -> SendRefusedError:
        return SendRefusedError(
            "TemplateNotFound",
            f"template {request.config.template_id!r} does not exist",
            recipient=recipient,
        )

    @staticmethod
    async def _sources(session: AsyncSession, request: SendRequest) -> tuple[str | None, str] | None:
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

    async def _way(self, session: AsyncSession, request: SendRequest) -> WebhookWay | ProviderWay:
        """The enabled action target the node names, for its channel, or why there is none to send to."""
        channel = request.config.channel
        row = await _action_target(session, request)
        try:
            if channel == "WEBHOOK":
                return WebhookWay(
                    target_id=row.id, target=webhook_target(WebhookSettings.model_validate(row.settings))
                )
            return ProviderWay(
                target_id=row.id, target=ProviderSettings.model_validate(row.settings).target()
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "settings"
            named = request.config.action_target_id
            raise SendRefusedError(
                "ActionTargetInvalid",
                f"action target {named!r} has unusable settings: {where}: {first['msg']}",
            ) from exc

    def _render(
        self,
        request: SendRequest,
        traits: Mapping[str, Any],
        subject_source: str | None,
        body_source: str,
        recipient: str,
        link: UnsubscribeLink | None,
        *,
        shown: str | None = None,
    ) -> OutboundMessage:
        # The enrollment context first: `traits` and `customer` are the profile as read now. Outside
        # groups (transactional) the links render as "" and an email carries no List-Unsubscribe.
        context = {
            **request.context,
            "traits": dict(traits),
            "customer": {"id": request.customer_id, **traits},
            "unsubscribe_url": "" if link is None else link.url,
            "preferences_url": "" if link is None else link.preferences_url,
        }
        try:
            subject = (
                self._renderer.render(subject_source, context, what="subject") if subject_source else None
            )
            body = self._renderer.render(body_source, context, what="body")
        except TemplateRenderError as exc:
            raise SendRefusedError("TemplateError", str(exc), recipient=shown) from exc
        headers = link.headers if link is not None and request.config.channel == "EMAIL" else {}
        return OutboundMessage(
            idempotency_key=request.idempotency_key,
            recipient=recipient,
            subject=subject,
            body=body,
            headers=dict(headers),
        )


async def current_destination(session: AsyncSession, request: SendRequest) -> SendRequest:
    """The request with its SEND's destination (`templateId`, `actionTargetId`) as the enrollment's
    version stores it now: `PATCH …/destinations` re-points a live version in place, and an enrollment
    that entered before (waiting since) sends to the new one. The request as it came when it names no
    version (recorded before versions rode along), or version 0 (a test run of the draft: its SENDs'
    destinations are the ones in its own definition), or the stored node is gone or is not this send."""
    if not request.version:
        return request
    try:
        journey_id = uuid.UUID(request.journey_id)
    except ValueError:
        return request
    raw = await DestinationRepository(session).send_config(
        request.tenant_id, journey_id, request.version, request.node_id
    )
    if raw is None:
        return request
    try:
        stored = SendConfig.model_validate(raw)
    except ValidationError:
        return request
    config = request.config
    if stored.channel != config.channel:
        return request
    if (stored.template_id, stored.action_target_id) == (config.template_id, config.action_target_id):
        return request
    update = {"template_id": stored.template_id, "action_target_id": stored.action_target_id}
    return request.model_copy(update={"config": config.model_copy(update=update)})


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


def _listed_address(channel: str, traits: Mapping[str, Any]) -> str | None:
    """The address the suppression list is asked about (EMAIL, SMS, PUSH); None when there is none to
    ask about (no or a bad address: composing refuses it)."""
    if channel not in LISTED_CHANNELS:
        return None
    try:
        return _recipient(channel, traits)
    except SendRefusedError:
        return None


async def _subscription_group(session: AsyncSession, request: SendRequest) -> SubscriptionGroupRow | None:
    """The group a send is judged under: the one it names, else its channel's default (created on first
    use); None for a transactional send and for a WEBHOOK send naming none."""
    config = request.config
    if config.transactional:
        return None
    groups = SubscriptionGroupRepository(session)
    named = config.subscription_group_id
    if named is None:
        if config.channel in GROUPLESS_CHANNELS:
            return None
        return await groups.ensure_default(request.tenant_id, config.channel)
    try:
        group_uuid = uuid.UUID(named)
    except ValueError:
        group_uuid = None
    group = None if group_uuid is None else await groups.get(request.tenant_id, group_uuid)
    if group is None:
        raise SendRefusedError("SubscriptionGroupNotFound", f"subscription group {named!r} does not exist")
    if group.channel != config.channel:
        raise SendRefusedError(
            "SubscriptionGroupMismatch",
            f"subscription group {named!r} is a {group.channel} group, not {config.channel}",
        )
    return group


async def _action_target(session: AsyncSession, request: SendRequest) -> ActionTargetRow:
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


class Deliverer:
    """Phase 3: hand the message to its way out (no database work)."""

    def __init__(self, webhook_allow_list: Sequence[str]) -> None:
        self._allow = tuple(webhook_allow_list)

    async def deliver(self, letter: Letter) -> DeliveryReceipt | None:
        """The receipt; None for IN_APP, delivered by the outcome's transaction."""
        way = letter.way
        if way is None:
            return None
        if isinstance(way, WebhookWay | ProviderWay):
            return await self._over_http(way, letter.outbound)
        return await way.send(letter.outbound)

    async def _over_http(self, way: WebhookWay | ProviderWay, outbound: OutboundMessage) -> DeliveryReceipt:
        channel: WebhookChannel | ProviderChannel = (
            WebhookChannel(way.target, allow=self._allow)
            if isinstance(way, WebhookWay)
            else ProviderChannel(way.target, allow=self._allow)
        )
        try:
            return await channel.send(outbound)
        finally:
            await channel.aclose()


class Outcomes:
    """Phase 4: what became of the attempt, in the delivery log (one transaction each)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def sent(
        self, request: SendRequest, claim: Claim, letter: Letter, receipt: DeliveryReceipt | None
    ) -> SendResult:
        outbound = letter.outbound
        async with transaction(self._sessions) as session:
            if receipt is None:
                receipt = await _deliver_to_inbox(session, request, outbound)
            await MessageRepository(session).mark(
                claim.message_id,
                status="sent",
                sent_at=datetime.now(UTC),
                provider_message_id=receipt.provider_message_id,
                recipient=outbound.recipient,
                subject=outbound.subject,
            )
        return SendResult(outcome="sent", message_id=receipt.provider_message_id)

    async def suppressed(self, claim: Claim, suppressed: Suppressed) -> SendResult:
        """Not sent: the recipient's address is on the suppression list."""
        async with transaction(self._sessions) as session:
            await MessageRepository(session).mark(
                claim.message_id,
                status="suppressed",
                error=suppressed.error,
                reason=suppressed.reason,
                recipient=suppressed.recipient,
            )
        return SendResult(outcome="suppressed", error=suppressed.error)

    async def failed(self, claim: Claim, error: Exception, recipient: str | None) -> None:
        async with transaction(self._sessions) as session:
            await MessageRepository(session).mark(
                claim.message_id, status="failed", error=str(error), recipient=recipient
            )

    async def target_gone(
        self, request: SendRequest, claim: Claim, way: WebhookWay, error: Exception
    ) -> None:
        """Failed, and the target disabled: its receiver retired the endpoint (410)."""
        async with transaction(self._sessions) as session:
            await MessageRepository(session).mark(
                claim.message_id, status="failed", error=str(error), recipient=way.recipient
            )
            await ActionTargetRepository(session).disable(
                request.tenant_id,
                way.target_id,
                f"disabled at {datetime.now(UTC).isoformat(timespec='seconds')}: {error}",
            )

    async def retrying(self, claim: Claim, error: Exception) -> None:
        """Still queued; the log shows why the last attempt did not land."""
        async with transaction(self._sessions) as session:
            await MessageRepository(session).mark(claim.message_id, status="queued", error=str(error))


async def _deliver_to_inbox(
    session: AsyncSession, request: SendRequest, outbound: OutboundMessage
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
