"""A test run's `speed`: the same journey with every fixed wait shortened by a factor.

`hastened(definition, speed)` returns a copy whose WAIT `duration`s and WAIT_FOR_EVENT `timeout`s are
divided by `speed`, never below one second. Waits that depend on the calendar — a WAIT `until` a local
time, or `untilTrait` (a date trait ± offset) — are left as they are: a clock time cannot be hastened.
"""

from __future__ import annotations

from domain.definition import JourneyDefinition
from domain.durations import parse_duration
from domain.nodes.wait import WaitNode
from domain.nodes.wait_for_event import WaitForEventNode

MIN_SPEED = 1
MAX_SPEED = 3600
_SHORTEST_SECONDS = 1.0


def hastened_duration(duration: str, speed: int) -> str:
    """`duration` divided by `speed`, at least one second, in seconds (milliseconds kept)."""
    seconds = max(_SHORTEST_SECONDS, parse_duration(duration).total_seconds() / speed)
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + " seconds"


def hastened(definition: JourneyDefinition, speed: int) -> JourneyDefinition:
    """A copy of `definition` with every WAIT duration and WAIT_FOR_EVENT timeout divided by `speed`."""
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"speed is {MIN_SPEED} to {MAX_SPEED}, not {speed}")
    copy = definition.model_copy(deep=True)
    if speed == 1:
        return copy
    for node in copy.nodes:
        if isinstance(node, WaitNode) and node.config.duration is not None:
            node.config.duration = hastened_duration(node.config.duration, speed)
        elif isinstance(node, WaitForEventNode):
            node.config.timeout = hastened_duration(node.config.timeout, speed)
    return copy
