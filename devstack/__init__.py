"""The embedded servers behind `journeys dev` and the integration tests.

PostgreSQL, the Temporal dev server and an SMTP sink, all local and started on demand, so
neither developers nor CI need anything running beforehand. Orchestrating them into the dev stack
(with the API and the worker) is `journeys.stack`, on the top floor.
"""

from devstack.ports import (
    PortInUseError,
    ensure_ports_free,
    find_free_port,
    is_port_free,
)
from devstack.postgres import (
    EmbeddedPostgresError,
    ensure_embedded_postgres,
    stop_embedded_postgres,
)
from devstack.smtp_sink import ReceivedMessage, SmtpSink, read_maildir
from devstack.temporal import (
    TemporalDevServer,
    TemporalDevServerError,
    temporal_cli_path,
    temporal_test_server_path,
)

__all__ = [
    "EmbeddedPostgresError",
    "PortInUseError",
    "ReceivedMessage",
    "SmtpSink",
    "TemporalDevServer",
    "TemporalDevServerError",
    "ensure_embedded_postgres",
    "ensure_ports_free",
    "find_free_port",
    "is_port_free",
    "read_maildir",
    "stop_embedded_postgres",
    "temporal_cli_path",
    "temporal_test_server_path",
]
