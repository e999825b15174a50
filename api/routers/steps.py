"""/v1/journeys/{journeyId}/steps: the graph as an ordered list of steps (a view of the same draft)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status
from pydantic import Field, TypeAdapter, ValidationError

from api.auth import Principal
from api.deps import Uow, parse_id, require
from api.schemas.common import ApiModel, PatchModel, drop_absent_nulls
from domain.definition import MAX_NAME_LENGTH, MAX_NODES, Node
from domain.errors import FieldIssue, InvalidInputError, NotFoundError
from domain.steps import Step, add_step, delete_step, reorder_steps, to_steps, update_step
from services.journeys import JourneyService, definition_of

router = APIRouter(prefix="/v1/journeys/{journeyId}/steps", tags=["steps"])
View = Annotated[Principal, Depends(require("journey:journey:view"))]
Edit = Annotated[Principal, Depends(require("journey:journey:edit"))]
_node = TypeAdapter(Node)


class StepsOut(ApiModel):
    data: list[Step]


class StepCreate(ApiModel):
    id: str | None = Field(default=None, max_length=64, description="Optional; generated when absent")
    type: str
    name: str = Field(default="", max_length=MAX_NAME_LENGTH)
    config: dict[str, Any] = Field(default_factory=dict)
    after_step_id: str | None = Field(
        default=None, description="Insert after this step (default: before the end)"
    )
    branch: str | None = Field(
        default=None, description="Which outgoing branch of afterStepId to splice into"
    )


class StepPatch(PatchModel):
    """Only the fields given change. A `next…Id` pointer set to null removes the edge it stands for."""

    NOT_NULL = frozenset({"name", "config"})

    name: str | None = Field(default=None, max_length=MAX_NAME_LENGTH)
    config: dict[str, Any] | None = Field(
        default=None, description="Replaces the whole config, checked against the step's type"
    )
    next_step_id: str | None = None
    next_step_yes_id: str | None = None
    next_step_no_id: str | None = None


class ReorderIn(ApiModel):
    step_ids: list[str] = Field(min_length=1, max_length=MAX_NODES)


def _step(steps: list[Step], step_id: str) -> Step:
    for step in steps:
        if step.id == step_id:
            return step
    raise NotFoundError("step", step_id)


def _with_body_prefix(error: InvalidInputError) -> InvalidInputError:
    return InvalidInputError([FieldIssue(("body", *issue.loc), issue.msg) for issue in error.issues])


@router.get("", response_model=StepsOut)
async def list_steps(journeyId: str, uow: Uow, principal: View) -> StepsOut:  # noqa: N803
    """The draft graph as an ordered list of steps (seed 004), each pointing at its successors."""
    row = await JourneyService(uow).get(principal.tenant_id, parse_id(journeyId, "journey"))
    return StepsOut(data=to_steps(definition_of(row)))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Step)
async def add_journey_step(journeyId: str, body: StepCreate, uow: Uow, principal: Edit) -> Step:  # noqa: N803
    """Insert a step after `afterStepId` (default: before the end), spliced into `branch` of it; its
    `config` is checked against its `type`."""
    step_id = body.id or f"step_{secrets.token_hex(4)}"
    try:
        node = _node.validate_python(
            drop_absent_nulls(
                Node, {"id": step_id, "type": body.type, "name": body.name, "config": body.config}
            )
        )
    except ValidationError as error:
        raise InvalidInputError(
            [FieldIssue(("body", *e["loc"]), e["msg"]) for e in error.errors(include_url=False)]
        ) from None

    def edit(draft: Any) -> Any:
        try:
            return add_step(draft, node, after_step_id=body.after_step_id, branch=body.branch)
        except InvalidInputError as error:
            raise _with_body_prefix(error) from None

    journey = await JourneyService(uow).edit_draft(principal.tenant_id, parse_id(journeyId, "journey"), edit)
    return _step(to_steps(journey.draft), step_id)


@router.patch("/{stepId}", response_model=Step)
async def update_journey_step(
    journeyId: str,  # noqa: N803
    stepId: str,  # noqa: N803
    body: StepPatch,
    uow: Uow,
    principal: Edit,
) -> Step:
    """Rename, re-configure or re-point one step; only the fields given change."""
    changes = body.sent()

    def edit(draft: Any) -> Any:
        config = changes.get("config")
        if isinstance(config, dict):  # nulls in it read as the step's own config model reads them
            node = next((n for n in draft.nodes if n.id == stepId), None)
            if node is not None:
                changes["config"] = drop_absent_nulls(type(node).model_fields["config"].annotation, config)
        try:
            return update_step(draft, stepId, **changes)
        except InvalidInputError as error:
            raise _with_body_prefix(error) from None

    journey = await JourneyService(uow).edit_draft(principal.tenant_id, parse_id(journeyId, "journey"), edit)
    return _step(to_steps(journey.draft), stepId)


@router.delete("/{stepId}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_journey_step(journeyId: str, stepId: str, uow: Uow, principal: Edit) -> Response:  # noqa: N803
    """Remove a step from the draft; what led to it now leads to what followed it."""
    await JourneyService(uow).edit_draft(
        principal.tenant_id, parse_id(journeyId, "journey"), lambda draft: delete_step(draft, stepId)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/reorder", response_model=StepsOut)
async def reorder_journey_steps(journeyId: str, body: ReorderIn, uow: Uow, principal: Edit) -> StepsOut:  # noqa: N803
    """Put a linear journey's steps in the order of `stepIds` (every step once, the TRIGGER first)."""

    def edit(draft: Any) -> Any:
        try:
            return reorder_steps(draft, body.step_ids)
        except InvalidInputError as error:
            raise _with_body_prefix(error) from None

    journey = await JourneyService(uow).edit_draft(principal.tenant_id, parse_id(journeyId, "journey"), edit)
    return StepsOut(data=to_steps(journey.draft))
