"""Shared wire conventions: camelCase, unknown fields refused, explicit nulls, page envelopes.

Nulls (docs/api.md, "Null"): generated clients send `null` for every optional field they were not
given. So in a request body, `null` for an optional field whose type has no null (a list, a flag, a
nested object with defaults…) means *absent*: the default applies — at every depth, in the API's own
models and in the domain models nested in them. A field whose type admits null takes null as a value;
in a create body that is its default anyway. PATCH bodies (`PatchModel`) read null as "clear": allowed
for the fields a response can show as null, a 422 naming the field for the others (`NOT_NULL`).
"""

from __future__ import annotations

import math
import types
from functools import cache
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from store.repositories.pagination import PageRequest

T = TypeVar("T")
_SEQUENCES = (list, tuple, set, frozenset)


def admits_none(annotation: Any) -> bool:
    """Whether a field of this type takes null as a value (`X | None`, `Any`, `Literal[None, …]`)."""
    if annotation is Any or annotation is None or annotation is type(None):
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return admits_none(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return any(admits_none(arg) for arg in get_args(annotation))
    if origin is Literal:
        return None in get_args(annotation)
    return False


@cache
def _fields_by_key(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A model's fields under every key a body may use for them: the alias and the Python name."""
    keys: dict[str, FieldInfo] = {}
    for name, field in model.model_fields.items():
        keys[name] = field
        if field.alias:
            keys[field.alias] = field
        if field.validation_alias and isinstance(field.validation_alias, str):
            keys[field.validation_alias] = field
    return keys


def _unwrapped(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _model_for(annotation: Any, data: dict[str, Any]) -> type[BaseModel] | None:
    """The model a JSON object stands for under this annotation: the model itself, the one model of an
    optional, or the member of a union of models whose `Literal` fields (the discriminator) match."""
    annotation = _unwrapped(annotation)
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        candidates = [
            arg
            for arg in map(_unwrapped, get_args(annotation))
            if isinstance(arg, type) and issubclass(arg, BaseModel)
        ]
        for candidate in candidates:
            if all(
                key not in data or data[key] in get_args(field.annotation)
                for key, field in _fields_by_key(candidate).items()
                if get_origin(field.annotation) is Literal
            ):
                return candidate
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def drop_absent_nulls(annotation: Any, value: Any) -> Any:
    """`value` (JSON as parsed) with each null removed where the model `annotation` names reads it as
    absent: an optional field whose type has no null. Recurses through nested models, lists and unions
    of models; free-form objects (`dict[str, Any]`) are left as they are. Models of the API
    (`ApiModel`) nested inside are left to their own validator."""
    if isinstance(value, dict):
        model = _model_for(annotation, value)
        if model is None or issubclass(model, ApiModel):
            return value
        return _drop_in_model(model, value)
    if isinstance(value, list):
        inner = _unwrapped(annotation)
        if get_origin(inner) in _SEQUENCES and get_args(inner):
            item = get_args(inner)[0]
            return [drop_absent_nulls(item, element) for element in value]
        if get_origin(inner) is Union or get_origin(inner) is types.UnionType:
            for arg in get_args(inner):
                if get_origin(_unwrapped(arg)) in _SEQUENCES:
                    return drop_absent_nulls(arg, value)
    return value


def _mentions_model(annotation: Any) -> bool:
    """Whether a value of this type can hold a model (directly, in a list, in a union) other than the
    API's own (`ApiModel`s read their nulls themselves)."""
    annotation = _unwrapped(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return not issubclass(annotation, ApiModel)
    return any(_mentions_model(arg) for arg in get_args(annotation) if arg is not Ellipsis)


@cache
def _plan(model: type[BaseModel]) -> dict[str, tuple[bool, Any]]:
    """Per body key: whether null there means absent, and the type to look into (None: nothing to)."""
    return {
        key: (
            not field.is_required() and not admits_none(field.annotation),
            field.annotation if _mentions_model(field.annotation) else None,
        )
        for key, field in _fields_by_key(model).items()
    }


def _drop_in_model(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    plan = _plan(model)
    kept: dict[str, Any] = {}
    for key, item in data.items():
        entry = plan.get(key)
        if entry is None:  # unknown: left for validation to refuse, naming it
            kept[key] = item
        elif item is None:
            if not entry[0]:
                kept[key] = None
        elif entry[1] is not None and isinstance(item, dict | list):
            kept[key] = drop_absent_nulls(entry[1], item)
        else:
            kept[key] = item
    return kept


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_unstorable_text(cls, data: Any) -> Any:
        # PostgreSQL text and JSONB cannot hold NUL, and lone surrogates are not UTF-8: refuse them
        # here (422) rather than at the database (500). Found by tests/integration/test_fuzz_api.py.
        _check_text(data)
        return data

    @model_validator(mode="before")
    @classmethod
    def _null_means_absent(cls, data: Any) -> Any:
        return _drop_in_model(cls, data) if isinstance(data, dict) else data


class PatchModel(ApiModel):
    """A PATCH body: a field left out keeps its value; `null` clears a field a response can show as
    null; `null` for a field in `NOT_NULL` (required on the resource) is a 422 naming the field. Fields
    are typed `X | None` so that absence can be told apart (`model_fields_set`); the OpenAPI schema shows
    the `NOT_NULL` ones without null."""

    NOT_NULL: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.NOT_NULL:
            raise PydanticCustomError(
                "not_nullable",
                "{field} cannot be null; leave it out to keep it",
                {"field": to_camel(info.field_name)},
            )
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        properties = target.get("properties", {})
        for name in cls.NOT_NULL:
            field = cls.model_fields[name]
            prop = properties.get(field.alias or name)
            if prop is None or "anyOf" not in prop:
                continue
            branches = [b for b in prop["anyOf"] if b != {"type": "null"}]
            if len(branches) == 1:
                del prop["anyOf"]
                prop.update(branches[0])
            else:
                prop["anyOf"] = branches
            if prop.get("default", 0) is None:
                del prop["default"]
        return schema

    def sent(self) -> dict[str, Any]:
        """Python field name → value, for the fields the body named (null included)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


def _check_text(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_text(item)


def _absent(value: Any) -> bool:
    return value is None


class PageMeta(ApiModel):
    total: int
    page: int = Field(description="The page this is, from 1 (with `skip`: the page `skip` falls in)")
    limit: int
    total_pages: int
    skip: int | None = Field(
        default=None, exclude_if=_absent, description="Only when asked with `skip`/`take` (seed 004)"
    )
    take: int | None = Field(
        default=None, exclude_if=_absent, description="Only when asked with `skip`/`take` (seed 004)"
    )

    @classmethod
    def of(cls, total: int, request: PageRequest) -> PageMeta:
        skip: int | None = getattr(request, "skip", None)  # api.deps.OffsetPageRequest
        return cls(
            total=total,
            page=request.page,
            limit=request.limit,
            total_pages=math.ceil(total / request.limit) if total else 0,
            skip=skip,
            take=request.limit if skip is not None else None,
        )


class PageOut(ApiModel, Generic[T]):
    data: list[T]
    meta: PageMeta
