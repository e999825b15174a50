"""The `JourneyName` search attribute: the Temporal UI's list tells journeys apart by name.

Given at start with the others, it rides in the WorkflowExecutionStarted event: an enrollment's history
gains no event for it (the lean budget of tests/integration/test_lean_enrollment.py holds).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from bench.reference import reference_journey
from devstack import SmtpSink
from domain.definition import JourneyDefinition
from domain.payloads import EnrollmentInput
from services.temporal import JOURNEY_ID, JOURNEY_NAME, enrollment_search_attributes
from tests.conftest import ApiClientFor, RunWorker
from tests.integration.test_lean_enrollment import EVENTS_TARGET
from tests.support import enroll, eventually, handle_of, publish


async def test_an_enrollment_is_found_by_its_journey_name_at_no_event_cost(
    api_client_for: ApiClientFor,
    dev_env: WorkflowEnvironment,
    run_worker: RunWorker,
    smtp_sink: SmtpSink,
) -> None:
    client = dev_env.client
    suffix = uuid.uuid4().hex[:8]  # the dev server is shared by the session's tests
    spring, autumn = f"Spring welcome {suffix}", f"Autumn win-back {suffix}"
    async with api_client_for(client) as http, run_worker(client):
        spring_id = await publish(http, {"name": spring, **reference_journey()})
        autumn_id = await publish(http, {"name": autumn, **reference_journey()})
        await enroll(http, spring_id, "ana", plan="pro")
        await enroll(http, spring_id, "ben", plan="free")
        await enroll(http, autumn_id, "ana", plan="pro")
        reference = handle_of(client, spring_id, "ana")
        result = await reference.result()
        history = list((await reference.fetch_history()).events)
        description = await reference.describe()

        async def listed() -> set[str]:  # visibility is eventually consistent
            query = f'JourneyName = "{spring}"'
            ids = {w.id async for w in client.list_workflows(query)}
            return ids if len(ids) == 2 else set()

        found = await eventually(listed, timeout=10, interval=0.1, what="the spring enrollments listed")

    assert found == {handle_of(client, spring_id, c).id for c in ("ana", "ben")}
    assert description.typed_search_attributes.get(JOURNEY_NAME) == spring
    assert description.typed_search_attributes.get(JOURNEY_ID) == spring_id

    assert result["status"] == "COMPLETED"
    started = history[0].workflow_execution_started_event_attributes
    assert "JourneyName" in started.search_attributes.indexed_fields
    # The only upserts are the SDK's TemporalChangeVersion as a patch is first taken (the lean patch:
    # one, not one per step): nothing upserts JourneyName or any attribute of ours.
    upserted = [
        set(e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
        for e in history
        if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
    ]
    assert all(fields == {"TemporalChangeVersion"} for fields in upserted), upserted
    assert len(history) <= EVENTS_TARGET, len(history)


def test_an_unknown_journey_name_is_left_out() -> None:
    payload = EnrollmentInput(
        tenant_id="acme",
        journey_id=str(uuid.uuid4()),
        journey_name="",
        version=1,
        customer_id="ana",
        enrollment_id=str(uuid.uuid4()),
        enrolled_at=datetime.now(UTC),
        definition=JourneyDefinition.model_validate(reference_journey()),
    )
    assert enrollment_search_attributes(payload).get(JOURNEY_NAME) is None
    named = payload.model_copy(update={"journey_name": "Spring welcome"})
    assert enrollment_search_attributes(named).get(JOURNEY_NAME) == "Spring welcome"
