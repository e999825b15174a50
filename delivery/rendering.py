"""Template rendering in a sandboxed Jinja2 environment; a missing variable is an error, not a blank."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateRenderError(Exception):
    pass


class Renderer:
    def __init__(self) -> None:
        self._env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)

    def check(self, source: str, *, what: str) -> None:
        """Compile without rendering, so a syntax error is refused when a template is saved."""
        try:
            self._env.compile(source)
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(f"{what} does not compile (line {exc.lineno}): {exc.message}") from exc

    def render(self, source: str, context: Mapping[str, Any], *, what: str) -> str:
        try:
            return self._env.from_string(source).render(**context)
        except TemplateError as exc:
            raise TemplateRenderError(f"cannot render {what}: {exc}") from exc
