"""What one API process holds for its lifetime: engine, sessions, Temporal, token verifier."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.auth import TokenVerifier
from api.limits import TenantRateLimiter
from api.metrics import ApiMetrics
from plumbing.codec import data_converter
from plumbing.settings import Settings
from plumbing.telemetry import build_runtime, metric_meter
from plumbing.tracing import API_SERVICE, temporal_interceptors
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
    limiter: TenantRateLimiter
    metrics: ApiMetrics = field(default_factory=ApiMetrics.noop)

    @classmethod
    def from_settings(cls, settings: Settings, *, database_url: str, jwt_secret: str | None) -> AppResources:
        engine = create_engine(database_url, pool_size=settings.database_pool_size)
        runtime = build_runtime(settings, "api")
        temporal = TemporalConnection(
            settings.temporal_address,
            settings.temporal_namespace,
            data_converter=data_converter(settings),
            runtime=runtime,
            interceptors=temporal_interceptors(settings, API_SERVICE),
        )
        gateway = EnrollmentGateway(temporal, settings.temporal_task_queue, settings.temporal_ui_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_session_factory(engine),
            temporal=temporal,
            gateway=gateway,
            control=gateway,
            limiter=TenantRateLimiter.from_settings(settings),
            metrics=ApiMetrics(metric_meter(runtime)),
            verifier=TokenVerifier(
                jwt_secret,
                settings.jwt_audience,
                settings.jwt_issuer,
                algorithm=settings.jwt_algorithm,
                jwks_url=settings.jwt_jwks_url,
                jwks_file=settings.jwt_jwks_file,
                leeway_seconds=settings.jwt_leeway_seconds,
            ),
        )

    async def close(self) -> None:
        await self.engine.dispose()
