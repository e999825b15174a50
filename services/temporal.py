"""The Temporal side of the services: one lazily connected client and the enrollment gateway."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest, SignalWorkflowExecutionRequest
from temporalio.client import (
    Client,
    Interceptor,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import (
    Priority,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import ConflictError, DependencyUnavailableError
from domain.ids import customer_key
from domain.payloads import (
    ENROLLMENT_WORKFLOW,
    JOURNEY_CONTROL_WORKFLOW,
    ControlInstruction,
    EnrollmentInput,
    EnrollmentStateView,
    JourneyControlInput,
)

JOURNEY_ID = SearchAttributeKey.for_keyword("JourneyId")
JOURNEY_VERSION = SearchAttributeKey.for_int("JourneyVersion")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
JOURNEY_NAME = SearchAttributeKey.for_keyword("JourneyName")

logger = logging.getLogger(__name__)


def enrollment_priority(payload: EnrollmentInput) -> Priority:
    """How the task queue orders this enrollment's tasks when they back up: by the journey's
    `settings.priority` (1 first), and within a priority fairly between tenants (the tenant id is the
    fairness key: one tenant's large send cannot starve another's, on a server with fairness enabled).
    Activities of the workflow inherit it."""
    return Priority(
        priority_key=payload.definition.settings.priority,
        fairness_key=payload.tenant_id,
    )


def enrollment_search_attributes(payload: EnrollmentInput) -> TypedSearchAttributes:
    """What the Temporal UI's list filters an enrollment by. Given at start, they ride in the
    WorkflowExecutionStarted event (no event of their own) and carry over on continue-as-new.
    `JourneyName` is the journey's name when the enrollment entered (a rename later does not follow:
    changing it would cost an UpsertWorkflowSearchAttributes event); omitted when unknown."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(TENANT_ID, payload.tenant_id),
        SearchAttributePair(JOURNEY_ID, payload.journey_id),
        SearchAttributePair(JOURNEY_VERSION, payload.version),
        SearchAttributePair(CUSTOMER_ID, customer_key(payload.customer_id)),
    ]
    if payload.journey_name:
        pairs.append(SearchAttributePair(JOURNEY_NAME, payload.journey_name))
    return TypedSearchAttributes(pairs)


async def connect_client(
    address: str,
    namespace: str,
    data_converter: DataConverter = pydantic_data_converter,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """`data_converter` comes from `plumbing.codec.data_converter(settings)` (encrypting when keyed);
    `runtime` carries the process's metrics endpoint (plumbing.telemetry), `interceptors` its tracing
    (a worker built on this client inherits them)."""
    return await Client.connect(
        address,
        namespace=namespace,
        data_converter=data_converter,
        runtime=runtime,
        interceptors=interceptors,
    )


class TemporalConnection:
    """Connects on first use, so the API can start (and report) while Temporal is still down."""

    def __init__(
        self,
        address: str,
        namespace: str,
        client: Client | None = None,
        *,
        data_converter: DataConverter = pydantic_data_converter,
        runtime: Runtime | None = None,
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        self.address = address
        self.namespace = namespace
        self.data_converter = data_converter
        self.runtime = runtime
        self.interceptors = interceptors
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(
                        connect_client(
                            self.address,
                            self.namespace,
                            self.data_converter,
                            runtime=self.runtime,
                            interceptors=self.interceptors,
                        ),
                        timeout=5,
                    )
                except (RuntimeError, OSError, TimeoutError) as exc:
                    raise DependencyUnavailableError(
                        "temporal", f"Temporal at {self.address} is unreachable: {exc}"
                    ) from exc
        return self._client

    async def ping(self) -> None:
        client = await self.client()
        try:
            await client.workflow_service.get_system_info(
                GetSystemInfoRequest(), timeout=timedelta(seconds=3)
            )
        except RPCError as exc:
            raise DependencyUnavailableError("temporal", f"Temporal did not answer: {exc}") from exc


class EnrollmentGateway:
    """Starts and inspects enrollment workflows; the only place services touch Temporal."""

    def __init__(self, connection: TemporalConnection, task_queue: str, ui_url: str) -> None:
        self._connection = connection
        self._task_queue = task_queue
        self._ui_url = ui_url.rstrip("/")

    @property
    def connection(self) -> TemporalConnection:
        return self._connection

    @property
    def task_queue(self) -> str:
        return self._task_queue

    async def start(self, workflow_id: str, payload: EnrollmentInput) -> None:
        """Idempotent: starting an enrollment that already started (or ended) is a no-op."""
        client = await self._connection.client()
        try:
            await client.start_workflow(
                ENROLLMENT_WORKFLOW,
                payload,
                id=workflow_id,
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                priority=enrollment_priority(payload),
                search_attributes=enrollment_search_attributes(payload),
                static_summary=(
                    ("test run · " if payload.test else "")
                    + f"journey {payload.journey_name} v{payload.version} · "
                    + f"customer {customer_key(payload.customer_id)}"
                ),
            )
        except WorkflowAlreadyStartedError:
            return
        except RPCError as exc:
            raise DependencyUnavailableError("temporal", f"could not start the enrollment: {exc}") from exc
        logger.info(
            "enrollment workflow %s started, or already running (journey version %d)",
            workflow_id,
            payload.version,
            extra={
                "tenant_id": payload.tenant_id,
                "journey_id": payload.journey_id,
                "enrollment_id": payload.enrollment_id,
            },
        )

    async def live_state(self, workflow_id: str) -> EnrollmentStateView | None:
        """The running workflow's own view, or None when it is closed or unreachable."""
        try:
            client = await self._connection.client()
            handle = client.get_workflow_handle(workflow_id)
            description = await handle.describe()
            if description.status != WorkflowExecutionStatus.RUNNING:
                return None
            view: EnrollmentStateView = await handle.query("state", result_type=EnrollmentStateView)
            return view
        except (DependencyUnavailableError, RPCError):
            return None

    async def signal(self, workflow_id: str, name: str, payload: object) -> bool:
        """Signal one enrollment; False when it has already finished."""
        client = await self._connection.client()
        try:
            await client.get_workflow_handle(workflow_id).signal(name, payload)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise DependencyUnavailableError("temporal", f"could not signal the enrollment: {exc}") from exc
        return True

    async def signal_once(self, workflow_id: str, name: str, payload: object, request_id: str) -> bool:
        """Signal with a request id of the caller's: Temporal drops a second signal with the same id
        to the same run, so a redelivery (a dispatcher that died before recording) is not seen twice.
        False when the workflow does not exist or has finished."""
        client = await self._connection.client()
        request = SignalWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            signal_name=name,
            input=Payloads(payloads=await client.data_converter.encode([payload])),
            identity=client.identity,
            request_id=request_id,
        )
        try:
            await client.workflow_service.signal_workflow_execution(
                request, retry=True, timeout=timedelta(seconds=10)
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            if exc.status in (RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.FAILED_PRECONDITION):
                raise ValueError(f"Temporal refused the signal: {exc}") from exc
            raise DependencyUnavailableError("temporal", f"could not signal the enrollment: {exc}") from exc
        return True

    async def update(
        self, workflow_id: str, name: str, payload: object, *, update_id: str | None = None
    ) -> EnrollmentStateView:
        """Run an Update on one enrollment (an operator's action, a migration's move) and return the
        enrollment's state after it. The workflow's refusal (its validator, or the enrollment moved on) and
        an enrollment that has ended are a ConflictError with the reason. `update_id`: Temporal answers a
        repeated id on the same run with the first outcome, so a retry does not act twice."""
        client = await self._connection.client()
        handle = client.get_workflow_handle(workflow_id)
        try:
            handle_update = await handle.start_update(
                name,
                payload,
                id=update_id,
                wait_for_stage=WorkflowUpdateStage.COMPLETED,
                result_type=EnrollmentStateView,
                rpc_timeout=timedelta(seconds=30),
            )
            view: EnrollmentStateView = await handle_update.result(rpc_timeout=timedelta(seconds=30))
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
            raise ConflictError(reason) from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise ConflictError("the enrollment has ended") from exc
            raise DependencyUnavailableError("temporal", f"could not reach the enrollment: {exc}") from exc
        return view

    async def exists(self, workflow_id: str) -> bool:
        """Whether Temporal knows the workflow (running or closed, within retention)."""
        client = await self._connection.client()
        try:
            await client.get_workflow_handle(workflow_id).describe(rpc_timeout=timedelta(seconds=10))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise DependencyUnavailableError("temporal", f"could not describe the enrollment: {exc}") from exc
        return True

    async def apply(self, tenant_id: str, journey_id: uuid.UUID, instruction: ControlInstruction) -> None:
        """Hand a lifecycle instruction to a JourneyControlWorkflow, which reaches every enrollment.

        One control run per journey at a time: a newer instruction terminates the older run, so the
        latest change wins and enrollments never see a stale pause after a resume.
        """
        client = await self._connection.client()
        try:
            await client.start_workflow(
                JOURNEY_CONTROL_WORKFLOW,
                JourneyControlInput(tenant_id=tenant_id, journey_id=str(journey_id), instruction=instruction),
                id=f"journey-control:{tenant_id}:{journey_id}",
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                static_summary=f"{instruction} every running enrollment of journey {journey_id}",
            )
        except RPCError as exc:
            raise DependencyUnavailableError("temporal", f"could not reach the enrollments: {exc}") from exc

    def workflow_url(self, workflow_id: str) -> str:
        namespace = quote(self._connection.namespace, safe="")
        return f"{self._ui_url}/namespaces/{namespace}/workflows/{quote(workflow_id, safe='')}"
