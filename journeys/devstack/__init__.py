"""The embedded stack behind `journeys dev` and the integration tests.

PostgreSQL, the Temporal dev server and an SMTP sink, all local and started on demand, so
neither developers nor CI need anything running beforehand.
"""

from journeys.devstack.ports import (
    PortInUseError,
    ensure_ports_free,
    find_free_port,
    is_port_free,
)
from journeys.devstack.postgres import (
    EmbeddedPostgresError,
    ensure_embedded_postgres,
    stop_embedded_postgres,
)
from journeys.devstack.smtp_sink import ReceivedMessage, SmtpSink, read_maildir
from journeys.devstack.stack import run_dev_stack
from journeys.devstack.temporal import (
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
    "run_dev_stack",
    "stop_embedded_postgres",
    "temporal_cli_path",
    "temporal_test_server_path",
]
