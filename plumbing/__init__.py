"""Process plumbing every entry point shares: settings, logs, telemetry, tracing, the payload codec."""
