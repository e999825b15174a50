"""Resolving settings into concrete resources at process start."""

from __future__ import annotations

from plumbing.settings import Settings


def database_url(settings: Settings) -> str:
    """The configured URL, or the embedded server under the data dir (started if needed)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from devstack.postgres import ensure_embedded_postgres

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return ensure_embedded_postgres(settings.embedded_postgres_dir, stop_at_exit=False)


def jwt_secret(settings: Settings, *, allow_dev_file: bool = False) -> str:
    """The configured secret, or (dev mode, or asked) the one `journeys dev` keeps in the data dir."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    dev_secret = settings.data_dir / "dev-jwt-secret"
    if (settings.dev_mode or allow_dev_file) and dev_secret.exists():
        return dev_secret.read_text().strip()
    return settings.require_jwt_secret()
