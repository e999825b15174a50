"""Journey bodies the tests (and the README walkthrough) share."""

from __future__ import annotations

from typing import Any


def welcome_journey(name: str = "Welcome") -> dict[str, Any]:
    """TRIGGER(MANUAL) → SEND(EMAIL, inline) → EXIT: the walking skeleton."""
    return {
        "name": name,
        "description": "Say hello to new customers",
        "siteId": "site-1",
        "nodes": [
            {"id": "start", "type": "TRIGGER", "name": "Manual entry", "config": {"triggerType": "MANUAL"}},
            {
                "id": "welcome",
                "type": "SEND",
                "name": "Welcome email",
                "config": {
                    "channel": "EMAIL",
                    "subject": "Welcome, {{ traits.firstName }}!",
                    "body": "Hi {{ traits.firstName }}, thanks for joining.",
                },
            },
            {"id": "done", "type": "EXIT", "name": "Done"},
        ],
        "edges": [
            {"sourceNodeId": "start", "targetNodeId": "welcome"},
            {"sourceNodeId": "welcome", "targetNodeId": "done"},
        ],
    }
