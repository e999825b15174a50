"""`journeys bench ingest` prints its figures on lines machines read: their starts must not drift."""

from __future__ import annotations

import io
import json

from rich.console import Console

from bench.ingest import IngestFigures, PhaseCpu, batch_bodies, cpu_table, print_ingest, segment_track

LINE_STARTS = (
    "accepted (no journey matched): ",
    "entered: ",
    "signalled: ",
    "copy: ",
    "temporal starts: ",
    "temporal signals: ",
    "ratio ingest/copy = ",
    "ratio enter/temporal = ",
    "ratio signal/temporal = ",
    "latency p50 = ",
    "api peak RSS = ",
)


def figures() -> IngestFigures:
    return IngestFigures(
        n=3000,
        batch=100,
        clients=4,
        concurrency=64,
        route="/v1/batch",
        accepted_per_second=3210.4,
        entered_per_second=88.0,
        signalled_per_second=150.0,
        copy_per_second=40000.0,
        temporal_starts_per_second=100.0,
        temporal_signals_per_second=160.0,
        rate=200,
        latency_rows=2000,
        latency_p50_ms=45.2,
        latency_p99_ms=410.9,
        api_peak_rss_mib=140.3,
        cpu={"accepted": PhaseCpu(3000, {"api": 1.2, "postgres": 0.4, "bench": 0.3})},
    )


def test_every_figure_is_printed_on_a_plain_line_with_its_exact_start() -> None:
    out = io.StringIO()
    # Narrow on purpose: the table may wrap, the figure lines must not.
    print_ingest(figures(), Console(file=out, width=60, force_terminal=False))
    lines = out.getvalue().splitlines()
    for start in LINE_STARTS:
        assert sum(1 for line in lines if line.startswith(start)) == 1, start
    assert "ratio enter/temporal = 0.88" in lines
    assert "ratio ingest/copy = 0.08" in lines
    assert "latency p50 = 45 ms, p99 = 411 ms" in lines
    assert "api peak RSS = 140 MiB" in lines


def test_the_cpu_table_shows_milliseconds_per_event_by_process() -> None:
    out = io.StringIO()
    Console(file=out, width=200).print(cpu_table(figures().cpu))
    [row] = [line for line in out.getvalue().splitlines() if "accepted (3000)" in line]
    assert [cell.strip() for cell in row.split("│")[2:-1]] == [
        "0.40",
        "0.00",
        "0.00",
        "0.00",
        "0.13",
        "0.10",
        "0.63",
    ]


def test_segment_batches_carry_what_the_sdks_send_and_the_bearer_route_what_it_accepts() -> None:
    events = [
        segment_track(f"u{i}", "page_scrolled", f"m{i}", "2025-01-01T00:00:00+00:00") for i in range(250)
    ]
    segment = [json.loads(body) for body in batch_bodies(events, 100, segment=True)]
    assert [len(body["batch"]) for body in segment] == [100, 100, 50]
    assert "sentAt" in segment[0] and segment[0]["batch"][0]["integrations"] == {}
    plain = [json.loads(body) for body in batch_bodies(events, 100, segment=False)]
    assert set(plain[0]) == {"batch"} and "integrations" not in plain[0]["batch"][0]
