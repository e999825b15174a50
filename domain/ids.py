"""Deterministic identifiers for enrollments, built from business keys and free of PII.

Workflow ids are what operators read in the Temporal UI, so they stay readable; a customer id
that looks like an email address or phone number is replaced by a stable hash before it goes
anywhere near Temporal (ids, search attributes, summaries).

A keyed entry (an EVENT trigger's `entryKey`, see `domain.entry_keys`) adds its key to both ids, as a
hash in the workflow id (a key may be anything the event carries); an unkeyed entry (`entry_key` "")
has the ids it always had, so running enrollments keep theirs.
"""

from __future__ import annotations

import hashlib
import re
import uuid

_SAFE_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{7,}$")
_ENROLLMENT_NAMESPACE = uuid.UUID("7f6b4d1e-3c2a-4f5b-9a8e-1d2c3b4a5f60")
TENANT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def customer_key(customer_id: str) -> str:
    """The customer id as it may appear in Temporal: itself if harmless, else a stable hash."""
    if "@" in customer_id or _PHONE_LIKE.match(customer_id) or not _SAFE_CUSTOMER_ID.match(customer_id):
        return "h-" + hashlib.sha256(customer_id.encode()).hexdigest()[:20]
    return customer_id


def entry_key_hash(entry_key: str) -> str:
    """The key as it may appear in Temporal: never itself (a key may be an email, an order number…)."""
    return "k-" + hashlib.sha256(entry_key.encode()).hexdigest()[:16]


def enrollment_workflow_id(
    tenant_id: str, journey_id: str, customer_id: str, entry_number: int, entry_key: str = ""
) -> str:
    """`enrollment:{tenant}:{journey}:{customer}:{n}`; keyed: `…:{customer}:k-{key hash}:{n}`."""
    keyed = f"{entry_key_hash(entry_key)}:" if entry_key else ""
    return f"enrollment:{tenant_id}:{journey_id}:{customer_key(customer_id)}:{keyed}{entry_number}"


def enrollment_id(
    tenant_id: str, journey_id: str, customer_id: str, entry_number: int, entry_key: str = ""
) -> str:
    """Stable id of one entry of one customer (and key) into one journey: a retried entry finds itself."""
    key = f"{tenant_id}|{journey_id}|{customer_id}|{entry_number}"
    if entry_key:
        key += "|k-" + hashlib.sha256(entry_key.encode()).hexdigest()
    return str(uuid.uuid5(_ENROLLMENT_NAMESPACE, key))


def workflow_id_for_test(tenant_id: str, journey_id: str, customer_id: str, test_number: int) -> str:
    """`enrollment-test:{tenant}:{journey}:{customer}:{n}`: a test customer's run, never a real entry's id."""
    return f"enrollment-test:{tenant_id}:{journey_id}:{customer_key(customer_id)}:{test_number}"


def enrollment_id_for_test(tenant_id: str, journey_id: str, customer_id: str, test_number: int) -> str:
    """Stable id of a customer's `test_number`th test run of a journey (apart from every real entry's)."""
    return str(
        uuid.uuid5(_ENROLLMENT_NAMESPACE, f"test|{tenant_id}|{journey_id}|{customer_id}|{test_number}")
    )
