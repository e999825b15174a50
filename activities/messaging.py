"""The send activity: check caps, compose from template and traits, log, deliver once per idempotency key.

EMAIL goes to the customer's `email` trait through the configured channel. WEBHOOK goes to the URL of
the action target the node names (`config.actionTargetId`), signed with the target's secret. SMS (to the
`phone` trait) and PUSH (to the `pushToken` trait) go to the provider of the SMS/PUSH action target the
node names, through the HTTP provider adapter (`activities.providers`). IN_APP writes one row into the
customer's inbox, in the same transaction that marks the message sent.

Frequency caps (the journey's `settings.frequencyCaps`, sent along on the request) are checked once, when
the message is claimed: the claim transaction holds an advisory lock on (tenant, customer), counts the
customer's messages of the tenant — all journeys — that hold a slot in each cap's period, and records the
message `suppressed` when one is full (`reason: frequency_cap`). Consent is judged in the same transaction:
the send's subscription group (named, or its channel's default; none for a transactional send) and the
customer's state in it; without consent the message is `suppressed` (`unsubscribed`, `not_opted_in`) and
no provider is called. An address on the suppression list is `suppressed` (`bounced`, `complained`) once
the message is composed. A send in a group renders `unsubscribe_url` (and `preferences_url`) and, for
EMAIL, carries `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 8058). Quiet hours are the
workflow's business: it holds the send until the window ends before this activity is scheduled.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.exceptions import ApplicationError

from activities.channels import Channel, PermanentDeliveryError, TransientDeliveryError, temporal_retry_delay
from activities.rate_limits import RATE_LIMITED, RateGate
from activities.sending import (
    Claims,
    Composer,
    Deliverer,
    Outcomes,
    SendRefusedError,
    Suppressed,
    WebhookWay,
)
from activities.webhooks import TargetGoneError
from delivery.channel_settings import MAX_WEBHOOK_TIMEOUT_SECONDS as MAX_WEBHOOK_TIMEOUT_SECONDS
from delivery.netguard import AllowList
from delivery.unsubscribe import UnsubscribeLinks
from domain.metrics import SEND_DURATION, SENDS
from domain.payloads import SendRequest, SendResult

SEND_MESSAGE = "send_message"


class MessagingActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channels: Mapping[str, Channel],
        *,
        unsubscribe: UnsubscribeLinks,
        webhook_allow_list: Sequence[str] = (),
        rate_gate: RateGate | None = None,
    ) -> None:
        """`channels` holds the EMAIL channel (SMTP). WEBHOOK, SMS and PUSH go over HTTP to the node's
        action target, SSRF-guarded with `webhook_allow_list`; IN_APP writes to the database.
        `unsubscribe` makes each recipient's unsubscribe link and headers."""
        AllowList.parse(webhook_allow_list)  # a malformed entry fails at startup, not on every send
        self._claims = Claims(sessions)
        self._composer = Composer(sessions, channels, unsubscribe)
        self._deliverer = Deliverer(webhook_allow_list)
        self._outcomes = Outcomes(sessions)
        # The journey's settings.rateLimit, judged before the claim (activities.rate_limits).
        self._rate_gate = rate_gate or RateGate(sessions)

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
            if exc.type == RATE_LIMITED:
                outcome = "rate_limited"  # waits for a slot: not a delivery failure
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
        """Claim, compose, deliver, record (`activities.sending`): each phase at most one transaction.

        A refusal (no address, bad template, unusable target) or a permanent delivery error fails the
        message for good (non-retryable, the node's `onFailure` decides); a transient one keeps it
        queued and retries, honouring the receiver's Retry-After.
        """
        async with self._rate_gate.admission(request):  # over the journey's rateLimit: waits, retried
            claim = await self._claims.claim(request)
        if claim.settled is not None:
            return claim.settled
        try:
            if claim.refused is not None:
                raise claim.refused
            letter = await self._composer.compose(request, claim)
        except SendRefusedError as exc:
            await self._outcomes.failed(claim, exc, exc.recipient)
            raise self._failure(request, exc.kind, exc) from exc
        if isinstance(letter, Suppressed):
            return await self._outcomes.suppressed(claim, letter)
        try:
            receipt = await self._deliverer.deliver(letter)
        except TargetGoneError as exc:
            assert isinstance(letter.way, WebhookWay)
            await self._outcomes.target_gone(request, claim, letter.way, exc)
            raise ApplicationError(str(exc), type="TargetGone", non_retryable=True) from exc
        except PermanentDeliveryError as exc:
            await self._outcomes.failed(claim, exc, letter.failure_recipient)
            raise self._failure(request, "DeliveryRefused", exc) from exc
        except TransientDeliveryError as exc:
            await self._outcomes.retrying(claim, exc)
            raise ApplicationError(
                str(exc), type="TransientDelivery", next_retry_delay=temporal_retry_delay(exc)
            ) from exc
        return await self._outcomes.sent(request, claim, letter, receipt)

    @staticmethod
    def _failure(request: SendRequest, kind: str, error: Exception) -> ApplicationError:
        activity.logger.warning(
            "send failed: %s (%s, node %s)", kind, request.config.channel, request.node_id
        )
        return ApplicationError(str(error), type=kind, non_retryable=True)
