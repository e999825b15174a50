"""Shared wire conventions: camelCase, unknown fields refused, page envelopes."""

from __future__ import annotations

import math
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_camel

from store.repositories.pagination import PageRequest

T = TypeVar("T")


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


class PageMeta(ApiModel):
    total: int
    page: int
    limit: int
    total_pages: int

    @classmethod
    def of(cls, total: int, request: PageRequest) -> PageMeta:
        return cls(
            total=total,
            page=request.page,
            limit=request.limit,
            total_pages=math.ceil(total / request.limit) if total else 0,
        )


class PageOut(ApiModel, Generic[T]):
    data: list[T]
    meta: PageMeta
