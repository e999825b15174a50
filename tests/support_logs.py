"""Capturing what reaches the root logger as the JSON lines `plumbing.logs.JsonFormatter` writes."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from plumbing.logs import JsonFormatter


class JsonLines:
    """Every record reaching the root logger, formatted as it is emitted (in its own context)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.handler = logging.StreamHandler(self.buffer)
        self.handler.setFormatter(JsonFormatter())

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.buffer.getvalue().splitlines()]

    def where(self, **fields: Any) -> list[dict[str, Any]]:
        return [line for line in self.all() if all(line.get(k) == v for k, v in fields.items())]


@contextmanager
def json_lines_at_info() -> Iterator[JsonLines]:
    root = logging.getLogger()
    captured, level = JsonLines(), root.level
    root.addHandler(captured.handler)
    root.setLevel(logging.INFO)
    try:
        yield captured
    finally:
        root.removeHandler(captured.handler)
        root.setLevel(level)
