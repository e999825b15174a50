"""The unit of work a request (or a job) runs in: one session, and work to do after commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from domain.payloads import EnrollmentInput

if TYPE_CHECKING:
    from services.temporal import EnrollmentGateway

AfterCommit = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class EnrollmentStart:
    """A workflow start an entry asks for: carried out after the commit, or written to the outbox."""

    workflow_id: str
    payload: EnrollmentInput


@dataclass
class UnitOfWork:
    session: AsyncSession
    _after_commit: list[AfterCommit] = field(default_factory=list)

    def after_commit(self, action: AfterCommit) -> None:
        """Defer work that must only happen once the data is durable (e.g. starting a workflow)."""
        self._after_commit.append(action)

    def start_enrollment(self, start: EnrollmentStart, gateway: EnrollmentGateway) -> None:
        """Start the enrollment's workflow once the entry is committed (idempotent: deterministic id)."""

        async def run() -> None:
            await gateway.start(start.workflow_id, start.payload)

        self.after_commit(run)

    async def commit(self) -> None:
        await self.session.commit()
        pending, self._after_commit = self._after_commit, []
        for action in pending:
            await action()
