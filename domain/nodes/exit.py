"""EXIT / END (two names, one meaning): the enrollment is COMPLETED. No edge leaves it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from domain.nodes.base import EmptyConfig, NodeBase, NodeKind, Run


class ExitNode(NodeBase):
    type: Literal["EXIT", "END"]
    config: EmptyConfig = Field(default_factory=EmptyConfig)


class ExitKind(NodeKind[ExitNode]):
    node_class = ExitNode
    fixed_labels = ()

    def enter(self, node: ExitNode, run: Run, now: datetime) -> str | None:
        run.close(now, status="COMPLETED")
        run.finish("COMPLETED", now)
        return None


EXIT = ExitKind()
