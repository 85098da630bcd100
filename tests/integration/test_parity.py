"""Parity: the job and `score-csv` raise the same alerts on the same input.

The pure core is the reference implementation; the job must not change what it decides.  One recording
(a simulated fleet with every anomaly kind, four NAB files replayed as single-sensor devices, one of
them under a name of its own, and a Tennessee Eastman run as one device reporting 52 named
measurements, normal then faulty) runs
through the whole job from a file, archiving to a local folder.  Then every device's valid readings are
written as a CSV, in the order they arrived, and scored by `score-csv` (device mode, the same
properties).  The alerts, as (device, reading time), must be the same set.  Silence alerts are the
job's alone (no reading is behind them) and are left out.  Some fleet readings arrive after their
device's next one (within the watermark delay): both sides set exactly those aside, and the job lists
them under late/.
"""

from __future__ import annotations

import csv
import gzip
import json
import time
from pathlib import Path

import pandas as pd
import pytest

from flink_job.core.records import parse_reading
from flink_job.evaluation import nab_run, tep_run
from flink_job.evaluation.csv_scoring import score_csv

pytestmark = pytest.mark.integration

NAB = nab_run.default_data_dir()
TEP = tep_run.default_data_dir()
NAB_FILES = (
    "artificialWithAnomaly/art_daily_jumpsdown.csv",  # a daily pattern broken: the time-of-day baseline
    "realKnownCause/ambient_temperature_system_failure.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv",
    "realTweets/Twitter_volume_AAPL.csv",  # bursty: many alerts, the novelty gates at work
)
# NAB readings are 5 min (or 1 h) apart: a day-long silence timeout keeps the job's silence rows out
DETECTION = {"silence_timeout_ms": "86400000"}


def nab_lines() -> list[tuple[int, str]]:
    """The NAB files as devices `nab-<n>` reporting `temperature` (nab-2: `cpu_utilization`, a named
    measurement), as (ts_ms, JSON line)."""
    out = []
    for n, name in enumerate(NAB_FILES):
        df = pd.read_csv(NAB / "data" / name)
        ts = (pd.to_datetime(df["timestamp"]).astype("int64") // 1_000_000).tolist()
        for t, v in zip(ts, df["value"], strict=True):
            values = {"measurements": {"cpu_utilization": float(v)}} if n == 2 else {"temperature": float(v)}
            out.append((t, json.dumps({"device_id": f"nab-{n}", "ts": t, **values})))
    return out


def tep_lines() -> list[tuple[int, str]]:
    """TEP's normal run then fault 1 (from row 160) as device `tep-1`: 52 named measurements per
    reading, 3 minutes apart, in 2001 (before every other device's readings)."""
    rows = list(tep_run.load(TEP, "d00.dat")) + list(tep_run.load(TEP, "d01_te.dat"))
    start = 978_307_200_000  # 2001-01-01
    return [(start + i * tep_run.SAMPLE_MS,
             json.dumps({"device_id": "tep-1", "ts": start + i * tep_run.SAMPLE_MS,
                         "measurements": dict(zip(tep_run.CHANNELS, map(float, row), strict=True))}))
            for i, row in enumerate(rows)]


def swap_some(lines: list[str], every: int = 40) -> tuple[list[str], set[tuple[str, int]]]:
    """Every ``every``-th valid reading of each device arrives just after its device's next reading;
    returns the lines and the (device, ts) of the readings that now arrive out of order."""
    now = int(time.time() * 1000)
    positions: dict[str, list[int]] = {}
    stamps: list[int | None] = []
    for i, line in enumerate(lines):
        r = parse_reading(line, now).reading
        stamps.append(None if r is None else r.ts_ms)
        if r is not None:
            positions.setdefault(r.device_id, []).append(i)
    out, swapped = list(lines), set()
    for device, pos in positions.items():
        for k in range(every, len(pos) - 1, every):
            a, b = pos[k], pos[k + 1]
            if stamps[a] < stamps[b]:  # type: ignore[operator]
                out[a], out[b] = out[b], out[a]
                swapped.add((device, stamps[a]))
    return out, swapped


def late_lines(archive: Path) -> list[dict]:
    return [json.loads(line) for f in sorted((archive / "late").rglob("*.jsonl.gz"))
            for line in gzip.decompress(f.read_bytes()).decode().splitlines()]


def job_alerts(archive: Path) -> set[tuple[str, int]]:
    rows = [json.loads(line) for f in sorted((archive / "anomalies").rglob("*.jsonl.gz"))
            for line in gzip.decompress(f.read_bytes()).decode().splitlines()]
    assert rows, f"no anomaly archived under {archive}"
    return {(r["device_id"], r["ts"]) for r in rows if r["alert"] and "silence" not in r["detectors"]}


def csv_alerts(lines: list[str], work: Path, config: Path) -> set[tuple[str, int]]:
    now = int(time.time() * 1000)
    by_device: dict[str, list] = {}
    for line in lines:
        r = parse_reading(line, now).reading
        if r is not None:
            by_device.setdefault(r.device_id, []).append(r)
    alerts = set()
    for device, readings in by_device.items():
        sensors = list(dict.fromkeys(s for r in readings for s in r.values()))
        src, out = work / f"{device}.csv", work / f"{device}.scored.csv"
        with src.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["timestamp", *sensors])
            for r in readings:
                values = [r.values().get(s) for s in sensors]
                w.writerow([r.ts_ms, *("" if v is None else repr(v) for v in values)])
        score_csv(src, out, "timestamp", config, device)
        with out.open() as f:
            alerts |= {(device, int(row["timestamp"])) for row in csv.DictReader(f) if row["alert"] == "1"}
    return alerts


@pytest.mark.skipif(not (NAB / "data").exists(), reason=f"no NAB corpus at {NAB}")
@pytest.mark.skipif(not (TEP / "d01_te.dat").exists(), reason=f"no TEP data at {TEP}")
def test_the_job_and_score_csv_raise_the_same_alerts(tmp_path, uber_jar, record_simulation, run_job):
    fleet = tmp_path / "fleet.jsonl"
    record_simulation(fleet, devices=12, seed=5, anomalies=10, duration_s=600, malformed_share=0.01)
    fleet_lines, swapped = swap_some(fleet.read_text().splitlines())
    assert len(swapped) >= 50
    # NAB's years lie before the simulated fleet: one file in time order, so no reading is late
    recording = tmp_path / "recording.jsonl"
    lines = [line for _, line in sorted(nab_lines() + tep_lines(), key=lambda x: x[0])] + fleet_lines
    recording.write_text("".join(line + "\n" for line in lines))
    archive = tmp_path / "archive"
    run_job(
        {
            "source": {"kind": "file", "file_path": str(recording)},
            "sinks": {"timeseries.store": "none", "s3.archive_path": archive.as_uri() + "/"},
            "detection": DETECTION,
            "local": {"jars": uber_jar.as_uri(), "parallelism": "2"},
        },
        tmp_path,
        timeout_s=600,
    )
    config = tmp_path / "detection.json"
    config.write_text(json.dumps({"detection": DETECTION}))
    work = tmp_path / "csv"
    work.mkdir()
    expected = csv_alerts(lines, work, config)
    got = job_alerts(archive)
    assert len(expected) >= 30  # the fleet's anomalies and the NAB files' alerts are in the comparison
    assert {d for d, _ in expected} >= {"nab-0", "nab-1", "nab-2", "nab-3", "tep-1"}
    assert got == expected, (sorted(got - expected)[:10], sorted(expected - got)[:10])
    aside = [r for r in late_lines(archive) if r["reason"].startswith("out of order: ")]
    assert {(rec["device_id"], rec["ts"]) for rec in map(json.loads, (r["record"] for r in aside))} == swapped
    assert len(aside) == len(swapped)  # each once
