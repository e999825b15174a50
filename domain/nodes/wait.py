"""WAIT: for a `duration`, `until` a local time, or `untilTrait` (a date trait ± offset); then `next`.

`until` is read in the customer's `timezone` trait, else the journey's (an unusable trait is ignored and
the step's detail says so), and `untilTrait` needs the trait: both read the profile first. A missing or
unusable date trait, or a time already passed, continues at once. A loop may run through a WAIT.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from domain.durations import parse_duration
from domain.nodes.base import CustomerClock, NodeBase, NodeKind, Run, check_duration
from domain.schedule import next_local_time, resolve_zone, until_trait
from domain.wire import WireModel

if TYPE_CHECKING:
    from domain.interpreter import ProfileRead


class WaitUntilTime(WireModel):
    time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local HH:MM")
    weekdays: list[int] = Field(default_factory=list, description="ISO weekdays 1=Mon..7=Sun")


class WaitUntilTrait(WireModel):
    field: str
    offset: str | None = Field(default=None, description="e.g. '-1 day', 'P2D'")


class WaitConfig(WireModel):
    duration: str | None = None
    until: WaitUntilTime | None = None
    until_trait: WaitUntilTrait | None = None

    _duration = field_validator("duration")(check_duration)

    @model_validator(mode="after")
    def _exactly_one(self) -> WaitConfig:
        chosen = [k for k in ("duration", "until", "until_trait") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("a WAIT needs exactly one of `duration`, `until`, `untilTrait`")
        return self


class WaitNode(NodeBase):
    type: Literal["WAIT"]
    config: WaitConfig


class WaitKind(NodeKind[WaitNode]):
    node_class = WaitNode
    waits_for_time = True

    def enter(self, node: WaitNode, run: Run, now: datetime) -> str | None:
        if node.config.duration is not None:
            run.block("time", now + parse_duration(node.config.duration))
        else:
            run.block("profile")
        return None

    def on_profile_read(self, node: WaitNode, run: Run, read: ProfileRead) -> str | None:
        now, traits = read.now, read.traits
        timezone = traits.get("timezone")
        journey_zone = run.definition.settings.timezone
        why: str | None = None
        if run.customer_clock:
            # An unusable zone is ignored, and the step says so (kept on the open step until it closes).
            zone, why = CustomerClock.of(timezone).zone(journey_zone)
            assert run.state.open_step is not None
            run.state.open_step.detail = why
        else:
            zone = resolve_zone(timezone if isinstance(timezone, str) else None, journey_zone)
        config = node.config
        until: datetime | None
        if config.until is not None:
            until = next_local_time(now, config.until.time, config.until.weekdays, zone)
        else:
            assert config.until_trait is not None
            until = until_trait(now, traits.get(config.until_trait.field), config.until_trait.offset, zone)
        if until is None or until <= now:
            detail = "date trait missing or unusable" if until is None else "time already passed"
            run.close(now, status="COMPLETED", detail=detail if why is None else f"{detail}; {why}")
            return "next"
        run.wait_on("time", until)
        return None

    def on_time_reached(self, node: WaitNode, run: Run, now: datetime) -> str | None:
        open_step = run.state.open_step
        run.close(now, status="COMPLETED", detail=None if open_step is None else open_step.detail)
        return "next"


WAIT = WaitKind()
