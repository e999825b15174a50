"""Checks that the ports the dev stack wants are free, before anything is started."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable

# (port, what wants it, environment variable that moves it)
PortClaim = tuple[int, str, str | None]


class PortInUseError(Exception):
    """A port the dev stack needs is held by another process."""

    def __init__(self, host: str, port: int, purpose: str, env_var: str | None = None) -> None:
        self.host = host
        self.port = port
        self.purpose = purpose
        self.env_var = env_var
        remedy = "stop whatever holds it"
        if env_var:
            remedy += f" or set {env_var}"
        super().__init__(f"port {port} ({purpose}) is already in use on {host} — {remedy}")


def is_port_free(host: str, port: int) -> bool:
    with socket.socket(_family_of(host), socket.SOCK_STREAM) as probe:
        # Servers set SO_REUSEADDR, so a port whose old connections linger in TIME_WAIT is
        # usable by them; probing the same way avoids reporting such a port as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def ensure_ports_free(host: str, claims: Iterable[PortClaim]) -> None:
    """Raise `PortInUseError` for the first claimed port that is taken; all are checked first."""
    taken = [claim for claim in claims if not is_port_free(host, claim[0])]
    if taken:
        port, purpose, env_var = taken[0]
        raise PortInUseError(host, port, purpose, env_var)


def find_free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now (another process may still take it later)."""
    with socket.socket(_family_of(host), socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def _family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
