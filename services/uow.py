"""The unit of work a request (or a job) runs in: one session, and work to do after commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

AfterCommit = Callable[[], Awaitable[None]]


@dataclass
class UnitOfWork:
    session: AsyncSession
    _after_commit: list[AfterCommit] = field(default_factory=list)

    def after_commit(self, action: AfterCommit) -> None:
        """Defer work that must only happen once the data is durable (e.g. starting a workflow)."""
        self._after_commit.append(action)

    async def commit(self) -> None:
        await self.session.commit()
        pending, self._after_commit = self._after_commit, []
        for action in pending:
            await action()
