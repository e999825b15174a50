"""What one API process holds for its lifetime: engine, sessions, Temporal, token verifier."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.auth import TokenVerifier
from journeys.settings import Settings
from services.engine_control import EnrollmentControl
from services.temporal import EnrollmentGateway, TemporalConnection
from store.db import create_engine, create_session_factory


@dataclass
class AppResources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    temporal: TemporalConnection
    gateway: EnrollmentGateway
    verifier: TokenVerifier
    control: EnrollmentControl

    @classmethod
    def from_settings(cls, settings: Settings, *, database_url: str, jwt_secret: str) -> AppResources:
        engine = create_engine(database_url, pool_size=settings.database_pool_size)
        temporal = TemporalConnection(settings.temporal_address, settings.temporal_namespace)
        gateway = EnrollmentGateway(temporal, settings.temporal_task_queue, settings.temporal_ui_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_session_factory(engine),
            temporal=temporal,
            gateway=gateway,
            control=gateway,
            verifier=TokenVerifier(jwt_secret, settings.jwt_audience, settings.jwt_issuer),
        )

    async def close(self) -> None:
        await self.engine.dispose()
