"""Test customer run request and answer bodies (`POST /v1/journeys/{id}/tests`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from api.schemas.common import ApiModel
from api.schemas.enrollments import EnrollmentOut
from domain.speed import MAX_SPEED, MIN_SPEED
from services.customer_tests import MAX_TEST_CUSTOMERS, CustomerTestSpec

CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class CustomerTestIn(ApiModel):
    customer_ids: list[CustomerId] = Field(
        min_length=1,
        max_length=MAX_TEST_CUSTOMERS,
        description=f"The test customers (1 to {MAX_TEST_CUSTOMERS}); unknown ids become customers",
    )
    version: int | Literal["draft"] = Field(
        default="draft", description="'draft' (it must be publishable) or a published version"
    )
    speed: int = Field(
        default=1,
        ge=MIN_SPEED,
        le=MAX_SPEED,
        description="Divides every WAIT duration and WAIT_FOR_EVENT timeout (not below 1 second); "
        "waits until a local time or a date trait are unchanged",
    )

    def spec(self) -> CustomerTestSpec:
        return CustomerTestSpec(customer_ids=list(self.customer_ids), version=self.version, speed=self.speed)


class CustomerTestOut(ApiModel):
    data: list[EnrollmentOut] = Field(description="One test enrollment per customer, in the order asked")
