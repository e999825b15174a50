"""Template rendering in a sandboxed Jinja2 environment; a missing variable is an error, not a blank."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ABSENT = object()


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
        except UndefinedError as exc:
            path = self._first_unresolved(source, context)
            named = f"{path!r} is not defined for this customer and enrollment" if path else str(exc)
            raise TemplateRenderError(f"cannot render {what}: {named}") from exc
        except TemplateError as exc:
            raise TemplateRenderError(f"cannot render {what}: {exc}") from exc

    def _first_unresolved(self, source: str, context: Mapping[str, Any]) -> str | None:
        """The first dotted path the template reads from `context` and does not find there."""
        tree = self._env.parse(source)
        read = meta.find_undeclared_variables(tree)
        for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
            parts = _chain(node)
            if parts is None or parts[0] not in read:
                continue
            current: Any = context
            for index, part in enumerate(parts):
                current = current.get(part, _ABSENT) if isinstance(current, Mapping) else _ABSENT
                if current is _ABSENT:
                    return ".".join(parts[: index + 1])
        return None


def _chain(node: nodes.Node) -> list[str] | None:
    """`a.b['c']` as ['a', 'b', 'c']; None for anything but names, attributes and constant keys."""
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            parts.append(str(node.arg.value))
            node = node.node
        elif isinstance(node, nodes.Name):
            parts.append(node.name)
            return parts[::-1]
        else:
            return None
