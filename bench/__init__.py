"""Benchmarks behind `journeys bench …`: commands that print figures, never timed test assertions."""
