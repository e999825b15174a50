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


def abandoned_cart_journey(name: str = "Abandoned cart") -> dict[str, Any]:
    """One enrollment per cart: wait an hour for the order of the same cart, else remind (docs and README)."""
    same_cart = {"field": "properties.cartId", "operator": "eq", "valueFrom": "entry.properties.cartId"}
    return {
        "name": name,
        "nodes": [
            {
                "id": "cart",
                "type": "TRIGGER",
                "name": "Cart abandoned",
                "config": {
                    "triggerType": "EVENT",
                    "event": "Cart Abandoned",
                    "entryKey": "properties.cartId",
                },
            },
            {
                "id": "order",
                "type": "WAIT_FOR_EVENT",
                "name": "Ordered within the hour?",
                "config": {"event": "Order Completed", "rules": [same_cart], "timeout": "1 hour"},
            },
            {
                "id": "remind",
                "type": "SEND",
                "name": "Reminder",
                "config": {
                    "channel": "EMAIL",
                    "subject": "You left {{ entry.properties.productName }} in your cart",
                    "body": "Hi {{ traits.firstName }}, your {{ entry.properties.productName }} is waiting.",
                },
            },
            {"id": "done", "type": "EXIT"},
        ],
        "edges": [
            {"sourceNodeId": "cart", "targetNodeId": "order"},
            {"sourceNodeId": "order", "targetNodeId": "done", "label": "matched"},
            {"sourceNodeId": "order", "targetNodeId": "remind", "label": "timeout"},
            {"sourceNodeId": "remind", "targetNodeId": "done"},
        ],
    }


def tiers_journey(name: str = "Tiers") -> dict[str, Any]:
    """A three-tier multi-branch CONDITION: gold, silver, else bronze — one mail per tier."""

    def mail(node_id: str, tier: str) -> dict[str, Any]:
        subject = f"{tier} offer for {{{{ traits.firstName }}}}"
        return {
            "id": node_id,
            "type": "SEND",
            "config": {"channel": "EMAIL", "subject": subject, "body": tier},
        }

    return {
        "name": name,
        "nodes": [
            {"id": "start", "type": "TRIGGER", "config": {"triggerType": "MANUAL"}},
            {
                "id": "tier",
                "type": "CONDITION",
                "name": "Tier",
                "config": {
                    "branches": [
                        {"key": "gold", "rules": [{"field": "spend", "operator": "gte", "value": 1000}]},
                        {"key": "silver", "rules": [{"field": "spend", "operator": "gte", "value": 100}]},
                    ]
                },
            },
            mail("gold-mail", "Gold"),
            mail("silver-mail", "Silver"),
            mail("bronze-mail", "Bronze"),
            {"id": "done", "type": "EXIT"},
        ],
        "edges": [
            {"sourceNodeId": "start", "targetNodeId": "tier"},
            {"sourceNodeId": "tier", "targetNodeId": "gold-mail", "label": "gold"},
            {"sourceNodeId": "tier", "targetNodeId": "silver-mail", "label": "silver"},
            {"sourceNodeId": "tier", "targetNodeId": "bronze-mail", "label": "else"},
            {"sourceNodeId": "gold-mail", "targetNodeId": "done"},
            {"sourceNodeId": "silver-mail", "targetNodeId": "done"},
            {"sourceNodeId": "bronze-mail", "targetNodeId": "done"},
        ],
    }


def followup_journey(name: str = "Order follow-up") -> dict[str, Any]:
    """A transactional receipt, then tips in the EMAIL default group (README's consent example)."""
    return {
        "name": name,
        "nodes": [
            {"id": "start", "type": "TRIGGER", "name": "Manual entry", "config": {"triggerType": "MANUAL"}},
            {
                "id": "receipt",
                "type": "SEND",
                "name": "Receipt",
                "config": {
                    "channel": "EMAIL",
                    "transactional": True,
                    "subject": "Your receipt",
                    "body": "Thanks for your order, {{ traits.firstName }}.",
                },
            },
            {
                "id": "tips",
                "type": "SEND",
                "name": "Tips",
                "config": {
                    "channel": "EMAIL",
                    "subject": "Three tips",
                    "body": "Hi {{ traits.firstName }}! To stop these: {{ unsubscribe_url }}",
                },
            },
            {"id": "done", "type": "EXIT"},
        ],
        "edges": [
            {"sourceNodeId": "start", "targetNodeId": "receipt"},
            {"sourceNodeId": "receipt", "targetNodeId": "tips"},
            {"sourceNodeId": "tips", "targetNodeId": "done"},
        ],
    }
