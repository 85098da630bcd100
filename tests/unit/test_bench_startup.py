"""The pipeline bench's start-up arithmetic: events/s net of the job's own start-up, as the JVM
reference is net of its own (benchmarks/bench_pipeline.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_pipeline.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_pipeline", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_net_of_startup_subtracts_the_startup_runs_records_and_time(bench):
    out = bench.net_of_startup(events=605_000, seconds=14.0, startup_events=1_000, startup_seconds=4.0)
    assert out == {"startup_seconds": 4.0, "events_per_second": 60_400, "events_per_second_gross": 43_214}


def test_a_recording_no_longer_than_the_startup_is_refused_not_divided(bench):
    with pytest.raises(SystemExit, match="too short to measure net of start-up"):
        bench.net_of_startup(events=5_000, seconds=4.0, startup_events=1_000, startup_seconds=4.2)


def test_head_copies_the_first_lines_and_counts_them(bench, tmp_path):
    src = tmp_path / "recording.jsonl"
    src.write_text("".join(f'{{"n": {i}}}\n' for i in range(10)))
    out = tmp_path / "startup.jsonl"
    assert bench.head(src, out, 3) == 3
    assert out.read_text() == '{"n": 0}\n{"n": 1}\n{"n": 2}\n'
    assert bench.head(src, out, 50) == 10  # a shorter recording: all of it


def test_pairs_report_medians_and_the_median_of_each_pairs_own_ratio(bench):
    pairs = [{"ours": 60_000, "ours_gross": 42_000, "reference": 24_000},
             {"ours": 56_000, "ours_gross": 40_000, "reference": 32_000},
             {"ours": 58_000, "ours_gross": 41_000, "reference": 25_000}]
    out = bench.summarize_pairs(pairs)
    assert out["end_to_end_events_per_second"] == 58_000
    assert out["reference_events_per_second"] == 25_000
    # pair ratios 2.5, 1.75, 2.32: their median, not 58,000 / 25,000
    assert out["ratio_to_reference"] == 2.32
    assert out["end_to_end_events_per_second_gross"] == 41_000
    assert out["ratio_to_reference_gross"] == 1.64
    assert out["pairs"] == pairs


def test_pairs_without_gross_figures_report_none(bench):
    out = bench.summarize_pairs([{"ours": 50_000, "reference": 25_000}])
    assert out["ratio_to_reference"] == 2.0 and "ratio_to_reference_gross" not in out


@pytest.mark.parametrize("flag", ["--steady-factor", "--steady-pairs"])
def test_a_negative_steady_state_setting_is_refused_by_name(bench, flag):
    with pytest.raises(SystemExit, match="--steady-factor and --steady-pairs must be >= 0"):
        bench.main([flag, "-1"])
