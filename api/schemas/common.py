"""Shared wire conventions: camelCase, unknown fields refused, page envelopes."""

from __future__ import annotations

import math
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict
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
