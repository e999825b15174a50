"""The README's journeys are the tested ones: the abandoned cart (tests/e2e/test_journey_context.py) and the
consent example's follow-up (tests/e2e/test_consent.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from domain.definition import JourneyDefinition
from domain.validation import validate_for_publish
from tests.journey_examples import abandoned_cart_journey, followup_journey

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_abandoned_cart_is_the_tested_one_and_publishable() -> None:
    found = re.search(r"<<'JSON'\n(.*?)\nJSON\n", README.read_text(), re.DOTALL)
    assert found is not None, "the README's abandoned-cart block"
    shown = json.loads(found.group(1))
    assert shown == abandoned_cart_journey()
    definition = JourneyDefinition.model_validate({k: shown[k] for k in ("nodes", "edges")})
    assert validate_for_publish(definition) == []


def test_the_readme_consent_follow_up_is_the_tested_one_and_publishable() -> None:
    found = re.search(r"<<'BODY'\n(.*?)\nBODY\n", README.read_text(), re.DOTALL)
    assert found is not None, "the README's consent example block"
    shown = json.loads(found.group(1))
    assert shown == followup_journey()
    definition = JourneyDefinition.model_validate({k: shown[k] for k in ("nodes", "edges")})
    assert validate_for_publish(definition) == []
