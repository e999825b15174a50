"""Request and response examples for the OpenAPI document, in one place (api/openapi.py attaches them).

Keyed by the model a body or answer is validated with (its class name), or, for a body no model reads
(the Segment tracking routes) and answers no model writes (/health), by the endpoint's function name.
Examples follow the seeds where one applies: seed 001's onboarding canvas, seed 004's member
onboarding steps and its paging, seed 002/003's Genesys segments and assignments, seed 000's Segment
calls. Each is checked against its model when the document is built (a stale one is left out and
logged) and by tests/integration/test_openapi_document.py (where a stale one fails).
"""

from __future__ import annotations

from typing import Any, Final

JOURNEY_ID: Final = "6f1c2a52-8d1e-4c1b-9a57-3f1e2d4c5b6a"
ENROLLMENT_ID: Final = "0b9e4d3c-2a1f-4e5d-8c7b-6a5f4e3d2c1b"
SEGMENT_ID: Final = "3d6f9a12-4b7c-4e8d-9f0a-1b2c3d4e5f60"
TARGET_ID: Final = "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"
TEMPLATE_ID: Final = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
SOURCE_ID: Final = "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"
MESSAGE_ID: Final = "9c8b7a69-5847-4362-8150-4f3e2d1c0b0a"
INBOX_ID: Final = "2b3c4d5e-6f70-4182-9394-a5b6c7d8e9f0"
CREATED: Final = "2025-10-15T09:00:00Z"
UPDATED: Final = "2025-12-14T10:00:00Z"

# Seed 001 "Create Journey", in our names: a URL_MATCH trigger is an EVENT trigger on `page`; a CONTENT
# node is an IN_APP send.
ONBOARDING_NODES: Final[list[dict[str, Any]]] = [
    {
        "id": "n1",
        "type": "TRIGGER",
        "name": "Dashboard visit",
        "config": {
            "triggerType": "EVENT",
            "event": "page",
            "rules": [{"field": "properties.url", "operator": "contains", "value": "/dashboard"}],
        },
        "position": {"x": 0, "y": 0},
    },
    {
        "id": "n2",
        "type": "SEND",
        "name": "Product tour",
        "config": {"channel": "IN_APP", "contentId": "flow_abc", "contentType": "flow"},
        "position": {"x": 200, "y": 0},
    },
    {"id": "n3", "type": "EXIT", "name": "Done", "position": {"x": 400, "y": 0}},
]
ONBOARDING_EDGES: Final[list[dict[str, Any]]] = [
    {"sourceNodeId": "n1", "targetNodeId": "n2"},
    {"sourceNodeId": "n2", "targetNodeId": "n3"},
]
ONBOARDING_CREATE: Final[dict[str, Any]] = {
    "name": "New User Onboarding",
    "siteId": "site_xyz",
    "description": "Guide new users through core features",
    "settings": {"allowAnonymous": True},
    "goalConfig": {"type": "flow_completed", "config": {"flowId": "flow_abc"}, "deadline": 7},
    "nodes": ONBOARDING_NODES,
    "edges": ONBOARDING_EDGES,
}
# Seed 004 "Create Journey" with its steps.
MEMBER_CREATE: Final[dict[str, Any]] = {
    "name": "New Member Onboarding",
    "description": "Welcome sequence for new members",
    "trigger": {
        "triggerType": "EVENT",
        "event": "scl.member.created",
        "rules": [{"field": "membershipTier", "operator": "in", "value": ["Gold", "Platinum"]}],
    },
    "settings": {"allowReentry": False, "timezone": "Africa/Johannesburg"},
    "steps": [
        {
            "id": "step_1",
            "type": "SEND",
            "name": "Welcome Email",
            "config": {"channel": "EMAIL", "templateId": TEMPLATE_ID},
            "nextStepId": "step_2",
        },
        {
            "id": "step_2",
            "type": "WAIT",
            "name": "Wait 3 days",
            "config": {"duration": "3 days"},
            "nextStepId": "step_3",
        },
        {"id": "step_3", "type": "END", "name": "Done"},
    ],
}
STEP: Final[dict[str, Any]] = {
    "id": "step_2",
    "stepNumber": 2,
    "type": "WAIT",
    "name": "Wait 3 days",
    "config": {"duration": "3 days"},
    "nextStepId": "step_3",
}
ENROLLMENT: Final[dict[str, Any]] = {
    "id": ENROLLMENT_ID,
    "journeyId": JOURNEY_ID,
    "version": 1,
    "customerId": "customer_456",
    "entryNumber": 1,
    "entryKey": None,
    "status": "ACTIVE",
    "converted": False,
    "currentStepId": "n2",
    "waitingUntil": None,
    "enrolledAt": "2025-12-14T09:00:00Z",
    "completedAt": None,
    "test": False,
}
# A test customer's run of the draft (POST …/tests): version 0, flagged `test`.
TEST_ENROLLMENT: Final[dict[str, Any]] = {
    **ENROLLMENT,
    "id": "4c3b2a19-0f8e-4d7c-9b6a-5f4e3d2c1b0a",
    "version": 0,
    "customerId": "qa_anna",
    "currentStepId": "n1",
    "test": True,
}
SEGMENT_CREATE: Final[dict[str, Any]] = {
    "displayName": "Shoe shoppers",
    "description": "Viewed running shoes twice",
    "color": "#2E86C1",
    "scope": "Customer",
    "isActive": True,
    "journey": {
        "patterns": [
            {
                "eventName": "Product Viewed",
                "count": 2,
                "streamType": "Web",
                "criteria": [{"key": "category", "values": ["running-shoes"], "operator": "equal"}],
            }
        ]
    },
    "assignmentExpirationDays": 30,
}
TARGET_SETTINGS: Final[dict[str, Any]] = {
    "url": "https://hooks.example.com/journeys",
    "secret": "whsec_ZXhhbXBsZS1zZWNyZXQtZm9yLWRvY3Mh",
    "timeoutSeconds": 10,
}
TRACK_CALL: Final[dict[str, Any]] = {
    "type": "track",
    "userId": "customer_456",
    "event": "Signed Up",
    "properties": {"plan": "trial"},
    "context": {"library": {"name": "analytics-python", "version": "2.3.4"}},
    "messageId": "ajs-5f9b2b7d7c4e",
    "timestamp": "2025-12-14T09:59:58Z",
}
TRACKING_OUT: Final[dict[str, Any]] = {"success": True, "accepted": 1, "duplicates": 0, "rejected": []}
EVENT_OUT: Final[dict[str, Any]] = {
    "messageId": "ajs-5f9b2b7d7c4e",
    "customerId": "customer_456",
    "enrolled": 1,
    "signalled": 0,
    "segmentsChanged": 0,
    "duplicate": False,
}
SOURCE_OUT: Final[dict[str, Any]] = {
    "id": SOURCE_ID,
    "name": "Marketing site",
    "keyHint": "wk_3Fq9",
    "createdAt": CREATED,
    "revokedAt": None,
}
ASSIGNMENT_OUT: Final[dict[str, Any]] = {
    "segment": {"id": SEGMENT_ID, "displayName": "Shoe shoppers", "scope": "Customer"},
    "state": "Assigned",
    "expirationDate": "2026-01-13T10:00:00Z",
    "assignedAt": UPDATED,
    "customerId": "customer_456",
    "sessionId": None,
}

# Request bodies, by model. A list holds named alternatives (name, summary, value).
REQUESTS: Final[dict[str, Any]] = {
    "JourneyCreate": [
        ("seed001Canvas", "A canvas: nodes and edges (seed 001)", ONBOARDING_CREATE),
        ("seed004Steps", "A trigger and an ordered list of steps (seed 004)", MEMBER_CREATE),
    ],
    "JourneyPatch": {"name": "Updated Journey Name", "description": "Updated description"},
    "CanvasIn": {"nodes": ONBOARDING_NODES, "edges": ONBOARDING_EDGES},
    "PauseIn": {"mode": "entry"},
    "DestinationsIn": {"destinations": [{"nodeId": "n2", "actionTargetId": TARGET_ID}]},
    "StepCreate": {
        "type": "SEND",
        "name": "Follow-up Email",
        "config": {"channel": "EMAIL", "templateId": TEMPLATE_ID},
        "afterStepId": "step_2",
    },
    "StepPatch": {"name": "Wait 2 days", "config": {"duration": "2 days"}},
    "ReorderIn": {"stepIds": ["step_0", "step_1", "step_3", "step_2", "step_4"]},
    "EnrollRequest": {"customerId": "customer_123"},
    "SimulationIn": {
        "version": "draft",
        "cohort": {"segmentId": SEGMENT_ID},
        "events": [
            {"after": "2 days", "event": "Order Completed", "properties": {"total": 40}, "share": 0.3}
        ],
        "horizon": "30 days",
    },
    "CustomerTestIn": {"customerIds": ["qa_anna", "qa_ben"], "version": "draft", "speed": 60},
    "EnrollmentActionIn": [
        ("skipWait", "End the current wait now", {"action": "skipWait", "reason": "launch moved up"}),
        (
            "setWait",
            "Move the current wait's deadline",
            {"action": "setWait", "until": "2025-12-20T09:00:00Z"},
        ),
        (
            "moveTo",
            "Continue from another node",
            {"action": "moveTo", "nodeId": "n3", "reason": "bought by phone"},
        ),
        ("exit", "End the enrollment", {"action": "exit", "reason": "asked us to stop"}),
    ],
    "CustomerTraitsIn": {"traits": {"email": "john@example.com", "firstName": "John", "plan": "pro"}},
    "ActionTargetCreate": {
        "name": "CRM webhook",
        "channel": "WEBHOOK",
        "settings": TARGET_SETTINGS,
        "serviceLevel": {"percentage": 0.8, "durationMs": 20000},
        "shortAbandonThreshold": 10,
    },
    "ActionTargetPatch": {"name": "CRM webhook (EU)", "settings": {"timeoutSeconds": 5}},
    "TemplateCreate": {
        "name": "Welcome email",
        "channel": "EMAIL",
        "subject": "Welcome, {{ traits.firstName }}!",
        "body": "Hi {{ traits.firstName }}, thanks for joining.",
    },
    "TemplatePatch": {"subject": "Welcome aboard, {{ traits.firstName }}!"},
    "EventIn": {key: value for key, value in TRACK_CALL.items() if key != "context"},
    "EventBatchIn": {
        "batch": [
            {"type": "identify", "userId": "customer_456", "traits": {"email": "john@example.com"}},
            {
                "type": "track",
                "userId": "customer_456",
                "event": "Signed Up",
                "properties": {"plan": "trial"},
            },
        ]
    },
    "SourceCreate": {"name": "Marketing site"},
    "SegmentCreate": SEGMENT_CREATE,
    "SegmentPatch": {"version": 1, "isActive": False, "description": None},
    "AssignmentUpdateIn": {
        "segmentId": SEGMENT_ID,
        "state": "Assigned",
        "expirationDate": "2026-01-13T10:00:00Z",
    },
    "AggregateQueryIn": {
        "interval": "2025-12-01T00:00:00Z/2025-12-08T00:00:00Z",
        "granularity": "P1D",
        "timeZone": "Europe/Berlin",
        "groupBy": ["journeyId"],
        "filter": {
            "type": "and",
            "predicates": [{"type": "dimension", "dimension": "journeyId", "value": JOURNEY_ID}],
        },
        "metrics": ["nEnrolled", "nConverted"],
    },
    # The Segment tracking routes (seed 000's calls, as the SDKs send them).
    "post_batch": {
        "batch": [
            TRACK_CALL,
            {"type": "identify", "userId": "customer_456", "traits": {"email": "john@example.com"}},
        ],
        "sentAt": "2025-12-14T10:00:00Z",
    },
    "post_track": TRACK_CALL,
    "post_identify": {"userId": "customer_456", "traits": {"email": "john@example.com", "plan": "pro"}},
    "post_page": {
        "anonymousId": "a1b2c3",
        "name": "Pricing",
        "properties": {"url": "https://example.com/pricing"},
    },
    "post_screen": {"userId": "customer_456", "name": "Home"},
    "post_group": {"userId": "customer_456", "groupId": "acme-inc", "traits": {"plan": "team"}},
    "post_alias": {"previousId": "a1b2c3", "userId": "customer_456"},
    # The public unsubscribe routes (api/routers/unsubscribe.py): form bodies.
    "unsubscribe_one_click": {"List-Unsubscribe": "One-Click"},
    "save_preferences": {
        "group": ["6f1c2a52-8d1e-4c1b-9a57-3f1e2d4c5b6a", "0b9d6c1e-3f2a-4e8b-9c7d-5a4b3c2d1e0f"],
        "subscribed": ["6f1c2a52-8d1e-4c1b-9a57-3f1e2d4c5b6a"],
    },
}

JOURNEY_OUT: Final[dict[str, Any]] = {
    "id": JOURNEY_ID,
    "name": "New User Onboarding",
    "description": "Guide new users through core features",
    "siteId": "site_xyz",
    "status": "PUBLISHED",
    "pauseMode": None,
    "version": 1,
    "hasDraftChanges": False,
    "publishable": True,
    "problems": [],
    "triggerType": "EVENT",
    "settings": {"allowAnonymous": True},
    "goalConfig": {"type": "flow_completed", "config": {"flowId": "flow_abc"}, "deadline": 7},
    "exitCriteria": None,
    "nodes": ONBOARDING_NODES,
    "edges": ONBOARDING_EDGES,
    "totals": {
        "enrolled": 128,
        "active": 20,
        "completed": 98,
        "exited": 10,
        "converted": 61,
        "stepsCount": 3,
    },
    "_count": {"nodes": 3, "edges": 2, "enrollments": 128},
    "createdAt": "2025-01-10T09:00:00Z",
    "updatedAt": "2025-01-15T12:00:00Z",
    "publishedAt": "2025-01-15T12:00:00Z",
    "statusChangedAt": "2025-01-15T12:00:00Z",
}

# Answers, by model (PageOut[X] is built from X's). Completed with their defaults when attached.
RESPONSES: Final[dict[str, Any]] = {
    "JourneyOut": JOURNEY_OUT,
    "VersionSummaryOut": {
        "version": 1,
        "publishedAt": "2025-01-15T12:00:00Z",
        "nodesCount": 3,
        "edgesCount": 2,
    },
    "VersionOut": {
        "journeyId": JOURNEY_ID,
        "version": 1,
        "publishedAt": "2025-01-15T12:00:00Z",
        "nodes": ONBOARDING_NODES,
        "edges": ONBOARDING_EDGES,
        "settings": {"allowAnonymous": True},
        "goalConfig": {"type": "flow_completed", "config": {"flowId": "flow_abc"}, "deadline": 7},
        "exitCriteria": None,
    },
    "Step": STEP,
    "StepsOut": {
        "data": [
            {
                "id": "step_1",
                "stepNumber": 1,
                "type": "TRIGGER",
                "name": "Trigger",
                "config": {},
                "nextStepId": "step_2",
            },
            STEP,
            {"id": "step_3", "stepNumber": 3, "type": "END", "name": "Done", "config": {}},
        ]
    },
    "EnrollmentOut": ENROLLMENT,
    "CustomerTestOut": {
        "data": [
            TEST_ENROLLMENT,
            {**TEST_ENROLLMENT, "id": "7e6d5c4b-3a29-4817-8f6e-5d4c3b2a1908", "customerId": "qa_ben"},
        ]
    },
    "EnrollmentDetailOut": {
        **ENROLLMENT,
        "steps": [
            {
                "stepId": "n1",
                "stepName": "Dashboard visit",
                "stepType": "TRIGGER",
                "visit": 1,
                "status": "completed",
                "branch": "next",
                "detail": None,
                "startedAt": "2025-12-14T09:00:00Z",
                "completedAt": "2025-12-14T09:00:00Z",
            },
            {
                "stepId": "n2",
                "stepName": "Product tour",
                "stepType": "SEND",
                "visit": 1,
                "status": "active",
                "branch": None,
                "detail": None,
                "startedAt": "2025-12-14T09:00:01Z",
                "completedAt": None,
            },
        ],
        "live": {
            "currentStepId": "n2",
            "status": "ACTIVE",
            "waitingUntil": None,
            "path": ["n1", "n2"],
            "paused": False,
            "awaiting": "send",
        },
        "temporalUrl": f"http://localhost:8233/namespaces/default/workflows/enrollment-{ENROLLMENT_ID}",
    },
    "SimulationOut": {
        "id": "5d2c1b0a-9e8f-4a7b-8c6d-5e4f3a2b1c0d",
        "journeyId": JOURNEY_ID,
        "version": None,
        "status": "COMPLETED",
        "customers": 1200,
        "createdAt": "2025-12-14T09:00:00Z",
        "completedAt": "2025-12-14T09:00:01Z",
        "error": None,
        "result": {
            "customers": 1200,
            "nodes": [
                {
                    "nodeId": "n1",
                    "entered": 1200,
                    "completed": 1200,
                    "exited": 0,
                    "failed": 0,
                    "activeAtHorizon": 0,
                },
                {
                    "nodeId": "n2",
                    "entered": 1200,
                    "completed": 1180,
                    "exited": 0,
                    "failed": 0,
                    "activeAtHorizon": 20,
                },
            ],
            "branches": [
                {"nodeId": "n3", "label": "a", "count": 590},
                {"nodeId": "n3", "label": "b", "count": 590},
            ],
            "sends": [{"channel": "EMAIL", "count": 1610, "suppressed": 12}],
            "conversion": {"converted": 360, "rate": 0.3, "timeToGoal": {"p50": 172800.0, "p90": 172800.0}},
            "statuses": {"ACTIVE": 20, "COMPLETED": 1180},
            "samples": [
                {
                    "customerId": "customer_123",
                    "status": "COMPLETED",
                    "path": ["n1", "n2", "n3"],
                    "convertedAt": None,
                    "reason": None,
                }
            ],
        },
    },
    "EnrollmentStateOut": {
        "enrollmentId": ENROLLMENT_ID,
        "journeyId": JOURNEY_ID,
        "version": 1,
        "status": "ACTIVE",
        "currentStepId": "n3",
        "waitingUntil": "2025-12-20T09:00:00Z",
        "awaiting": "time",
        "paused": False,
        "converted": False,
        "path": ["n1", "n2", "n3"],
        "exitReason": None,
    },
    "JourneyGraphOut": {
        "journeyId": JOURNEY_ID,
        "name": "Onboarding",
        "status": "PUBLISHED",
        "version": 2,
        "versions": [1, 2],
        "width": 592,
        "height": 140,
        "nodes": [
            {
                "id": "n1",
                "type": "TRIGGER",
                "name": "Dashboard visit",
                "layer": 0,
                "x": 24,
                "y": 24,
                "width": 184,
                "height": 92,
                "counts": {
                    "active": 0,
                    "entered": 128,
                    "completed": 128,
                    "exited": 0,
                    "failed": 0,
                    "sent": 0,
                    "suppressed": 0,
                },
            },
            {
                "id": "n2",
                "type": "WAIT",
                "name": "Three days",
                "layer": 1,
                "x": 292,
                "y": 24,
                "width": 184,
                "height": 92,
                "counts": {
                    "active": 41,
                    "entered": 128,
                    "completed": 87,
                    "exited": 0,
                    "failed": 0,
                    "sent": 0,
                    "suppressed": 0,
                },
            },
        ],
        "edges": [
            {
                "source": "n1",
                "target": "n2",
                "label": "next",
                "count": 128,
                "share": 1.0,
                "loop": False,
                "points": [[208, 70], [250, 70], [250, 70], [292, 70]],
            }
        ],
    },
    "TimelineOut": {
        "data": [
            {
                "kind": "step",
                "at": "2025-12-14T09:00:00Z",
                "nodeId": "is-pro",
                "name": "Pro?",
                "type": "CONDITION",
                "visit": 1,
                "status": "COMPLETED",
                "branch": "yes",
                "detail": None,
                "completedAt": "2025-12-14T09:00:00Z",
                "decision": {
                    "branch": "yes",
                    "combinator": "AND",
                    "rules": [
                        {
                            "field": "email",
                            "operator": "contains",
                            "expected": "@example.com",
                            "valueFrom": None,
                            "actual": "l***@example.com",
                            "missing": False,
                            "result": True,
                        }
                    ],
                    "truncated": False,
                },
            },
            {
                "kind": "message",
                "at": "2025-12-14T09:00:01Z",
                "id": "0b9f6c3e-5d2a-4f1e-9a7b-2c8d4e6f1a3b",
                "nodeId": "pro-mail",
                "channel": "EMAIL",
                "status": "sent",
                "reason": None,
                "error": None,
                "providerMessageId": "<0b9f6c3e@journeys>",
                "sentAt": "2025-12-14T09:00:01Z",
            },
            {
                "kind": "wait",
                "at": "2025-12-14T09:00:01Z",
                "nodeId": "order",
                "awaiting": "event",
                "waitingUntil": "2025-12-15T09:00:01Z",
                "zone": None,
                "endedAt": "2025-12-14T10:12:00Z",
            },
            {
                "kind": "event",
                "at": "2025-12-14T10:12:00Z",
                "id": "msg-123",
                "name": "Order Completed",
                "type": "track",
                "entry": False,
            },
        ]
    },
    "CustomerOut": {
        "id": "customer_456",
        "traits": {"email": "john@example.com", "firstName": "John", "plan": "pro"},
        "identifiers": {"userId": ["customer_456"], "email": ["john@example.com"]},
        "createdAt": CREATED,
        "updatedAt": UPDATED,
    },
    "InboxMessageOut": {
        "id": INBOX_ID,
        "customerId": "customer_456",
        "journeyId": JOURNEY_ID,
        "enrollmentId": ENROLLMENT_ID,
        "nodeId": "n2",
        "contentId": "flow_abc",
        "contentType": "flow",
        "subject": None,
        "body": None,
        "createdAt": UPDATED,
        "readAt": None,
    },
    "MessageOut": {
        "id": MESSAGE_ID,
        "idempotencyKey": f"{ENROLLMENT_ID}:step_1:1",
        "journeyId": JOURNEY_ID,
        "enrollmentId": ENROLLMENT_ID,
        "nodeId": "step_1",
        "customerId": "customer_456",
        "channel": "EMAIL",
        "recipient": "john@example.com",
        "subject": "Welcome, John!",
        "status": "sent",
        "error": None,
        "reason": None,
        "subscriptionGroupId": "5b0c2f1e-8d7a-4c3b-9e21-6f4a1d2c3b40",
        "transactional": False,
        "providerMessageId": "<20251214100000.1@journeys>",
        "createdAt": UPDATED,
        "sentAt": UPDATED,
    },
    "ActionTargetOut": {
        "id": TARGET_ID,
        "name": "CRM webhook",
        "channel": "WEBHOOK",
        "settings": {**TARGET_SETTINGS, "secret": "whsec_****"},
        "serviceLevel": {"percentage": 0.8, "durationMs": 20000},
        "shortAbandonThreshold": 10,
        "enabled": True,
        "disabledReason": None,
        "createdAt": CREATED,
        "updatedAt": UPDATED,
    },
    "TemplateOut": {
        "id": TEMPLATE_ID,
        "name": "Welcome email",
        "channel": "EMAIL",
        "subject": "Welcome, {{ traits.firstName }}!",
        "body": "Hi {{ traits.firstName }}, thanks for joining.",
        "createdAt": CREATED,
        "updatedAt": UPDATED,
    },
    "EventOut": EVENT_OUT,
    "EventBatchOut": {
        "results": [
            {**EVENT_OUT, "messageId": "api-1", "enrolled": 0},
            {**EVENT_OUT, "messageId": "api-2"},
        ],
        "accepted": 2,
        "duplicates": 0,
    },
    "TrackingOut": TRACKING_OUT,
    "SourceOut": SOURCE_OUT,
    "SourceCreated": {**SOURCE_OUT, "writeKey": "wk_3Fq9mZt1hV8xKc2LpQ7sR4dN6bW0yJ5e"},
    "RejectionOut": {
        "id": 41,
        "index": 3,
        "messageId": "ajs-77c1",
        "code": "missing_event",
        "reason": "event: a track call needs `event`",
        "excerpt": '{"type": "track", "userId": "customer_456", "messageId": "ajs-77c1"}',
        "receivedAt": UPDATED,
    },
    "SegmentOut": {
        **SEGMENT_CREATE,
        "id": SEGMENT_ID,
        "version": 1,
        "shouldDisplayToAgent": False,
        "context": {"patterns": []},
        "createdAt": CREATED,
        "updatedAt": UPDATED,
        "selfUri": f"/v1/segments/{SEGMENT_ID}",
    },
    "AssignmentPageOut": {"data": [ASSIGNMENT_OUT], "meta": {"limit": 20, "after": None, "next": None}},
    "AssignmentListOut": {"data": [ASSIGNMENT_OUT]},
    "AuditEntryOut": {
        "id": 1207,
        "subject": "user_123",
        "method": "POST",
        "path": f"/v1/journeys/{JOURNEY_ID}/publish",
        "statusCode": 200,
        "requestId": "4f1d2c3b5a69",
        "at": UPDATED,
    },
    "JourneyAnalyticsOut": {
        "journeyId": JOURNEY_ID,
        "version": 1,
        "from": "2025-12-01T00:00:00Z",
        "to": "2025-12-15T00:00:00Z",
        "nodes": [
            {
                "nodeId": "n2",
                "type": "SEND",
                "entered": 128,
                "completed": 120,
                "inProgress": 3,
                "exited": 5,
                "failed": 0,
                "sent": 118,
                "suppressed": 2,
                "messagesFailed": 0,
            }
        ],
        "branches": [{"nodeId": "n1", "label": "next", "count": 128}],
        "conversion": {
            "enrolled": 128,
            "converted": 61,
            "rate": 0.4766,
            "timeToGoal": {
                "count": 61,
                "p50Seconds": 86400.0,
                "p90Seconds": 432000.0,
                "maxSeconds": 601200.0,
            },
            "branches": [
                {
                    "nodeId": "ab",
                    "nodeName": "Subject line test",
                    "nodeType": "SPLIT",
                    "branch": branch,
                    "enrolled": enrolled,
                    "converted": converted,
                    "rate": rate,
                }
                for branch, enrolled, converted, rate in (
                    ("a", 58, 31, 0.5345),
                    ("b", 57, 25, 0.4386),
                    ("holdout", 13, 5, 0.3846),
                )
            ],
        },
    },
    "AggregatesOut": {
        "results": [
            {
                "group": {"journeyId": JOURNEY_ID},
                "data": [
                    {
                        "interval": "2025-12-01T00:00:00+01:00/2025-12-02T00:00:00+01:00",
                        "metrics": [
                            {"metric": "nEnrolled", "stats": {"count": 42}},
                            {"metric": "nConverted", "stats": {"count": 17}},
                        ],
                    }
                ],
            }
        ]
    },
    # Answers no model writes, by endpoint.
    "health": {
        "status": "ok",
        "checks": {
            "database": {"ok": True},
            "temporal": {"ok": True},
            "dispatch": {"ok": True, "pending": 0, "lagSeconds": 0.0, "failed": 0},
        },
    },
}
