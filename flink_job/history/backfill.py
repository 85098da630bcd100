"""Backfill: replay archived readings through the job with other settings, beside the live results.

``iot-anomaly backfill --from DATE --to DATE [--set GROUP.KEY=VALUE ...]`` reads the archive's
``raw/`` readings whose ``ts`` lies in the range, in event-time order, and runs the same job graph
over them on a local minicluster (the file source: bounded, so the job ends by itself). Everything it
writes goes to ``<archive>/backfill/<run-id>/`` (raw, anomalies, dead letters): never to the live
folders, the time-series store or SNS. The run ends with a summary that sets its alerts beside what
the live run raised over the same period.

This is how an operator tries new thresholds on last month's data before deploying them. The
archive is a local folder (``make demo`` leaves one; for S3, ``aws s3 sync`` the ``raw/`` and
``anomalies/`` prefixes of the period first).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flink_job.core import schema
from flink_job.history.engine import PART_GLOB

REPO = Path(__file__).resolve().parents[2]
JAR = REPO / "build" / "libs" / "pyflink-dependencies.jar"
CHANGEABLE = ("detection", "thresholds", "baseline", "pipeline")  # groups --set may touch


def live_settings(path: Path | None) -> dict[str, dict[str, str]]:
    """The detection, thresholds, baseline and pipeline groups of the live run's runtime properties
    (MSF's JSON): the base a backfill changes, so that it differs from the live run only by --set."""
    if path is None:
        return {}
    from flink_job.config import read_property_groups

    groups = read_property_groups(path)
    return {g: dict(v) for g, v in groups.items() if g in CHANGEABLE}


def parse_overrides(
    items: list[str], base: Mapping[str, Mapping[str, str]] | None = None
) -> dict[str, dict[str, str]]:
    """``GROUP.KEY=VALUE`` items on top of ``base`` as property groups, every key checked against the
    schema."""
    groups: dict[str, dict[str, str]] = {g: dict(v) for g, v in (base or {}).items()}
    for item in items:
        lhs, sep, value = item.partition("=")
        group, dot, key = lhs.partition(".")
        if not sep or not dot or not key:
            raise ValueError(f"--set {item!r}: expected GROUP.KEY=VALUE, e.g. detection.zscore_z50=5")
        if group not in CHANGEABLE:
            raise ValueError(f"--set {item!r}: a backfill may change {', '.join(CHANGEABLE)}")
        groups.setdefault(group, {})[key] = value
    schema.property_groups(groups)  # unknown keys name the nearest known one; bad levels are named
    return groups


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def select_readings(
    archive: Path, start_ms: int, end_ms: int, out: Path, progress: Callable[[str], None] = print
) -> int:
    """Write the archived readings with ``start_ms <= ts <= end_ms`` to ``out``, sorted by ts.

    The ``dt=`` folders read span the range with a day either side (they are the day the job wrote
    the files, which trails event time). Returns the number of readings."""
    first, last = _day(start_ms - 86_400_000), _day(end_ms + 86_400_000)
    files = sorted(
        f for f in (archive / "raw").glob(PART_GLOB)
        if first <= f.parent.parent.name.removeprefix("dt=") <= last
    )
    rows: list[tuple[int, str]] = []
    for i, path in enumerate(files, 1):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                ts = json.loads(line).get("ts")
                if isinstance(ts, int) and start_ms <= ts <= end_ms:
                    rows.append((ts, line.rstrip("\n")))
        if i == len(files) or i % 10 == 0:
            progress(f"read {i}/{len(files)} archive files, {len(rows):,} readings in range")
    rows.sort(key=lambda r: r[0])
    out.write_text("".join(line + "\n" for _, line in rows))
    return len(rows)


def backfill_properties(
    readings: Path, output: Path, overrides: Mapping[str, Mapping[str, str]], work: Path, rest_port: int
) -> list[dict]:
    """The job's runtime properties for a backfill: the file source, the archive sink only."""
    groups: dict[str, dict[str, str]] = {
        "source": {"kind": "file", "file_path": str(readings)},
        "sinks": {"timeseries.store": "none", "s3.archive_path": output.resolve().as_uri() + "/"},
        "local": {
            "jars": JAR.as_uri(),
            "checkpoint_interval_ms": "2000",
            "checkpoint_dir": (work / "checkpoints").resolve().as_uri(),
            "rest_port": str(rest_port),
        },
    }
    for group, values in overrides.items():
        groups.setdefault(group, {}).update(values)
    return schema.document(groups)


def _watch(output: Path, total: int, done: threading.Event, progress: Callable[[str], None]) -> None:
    """Prints how many readings the job has archived under ``output/raw`` (files commit on each
    checkpoint) every few seconds: records done out of the total."""
    counted: dict[Path, int] = {}
    last = -1
    while True:
        finished = done.wait(3.0)  # one more count once the job has ended
        for path in (output / "raw").glob(PART_GLOB):
            if path not in counted:
                try:
                    with gzip.open(path, "rt", encoding="utf-8") as f:
                        counted[path] = sum(1 for _ in f)
                except (OSError, EOFError):
                    continue  # being committed: next round
        archived = sum(counted.values())
        if archived != last:
            progress(f"{archived:,}/{total:,} readings through the job and archived")
            last = archived
        if finished:
            return


def run_job(props: Path, output: Path, total: int, progress: Callable[[str], None]) -> None:
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(output, total, done, progress), daemon=True)
    watcher.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "flink_job.main", "--properties", str(props)],
            cwd=REPO, env=dict(os.environ, IOT_ANOMALY_LOCAL="true"), capture_output=True, text=True,
        )  # fmt: skip
    finally:
        done.set()
        watcher.join(timeout=30)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-15:])
        raise RuntimeError(f"the backfill job failed (exit {proc.returncode}):\n{tail}")


def _anomalies(folder: Path, start_ms: int, end_ms: int) -> list[dict]:
    out = []
    for path in folder.glob(PART_GLOB):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            out += [a for a in map(json.loads, f) if start_ms <= a["ts"] <= end_ms]
    return out


def summarize(archive: Path, output: Path, start_ms: int, end_ms: int, readings: int) -> dict[str, Any]:
    """Counts of the backfill, and its alerts beside the live run's over the same event time."""
    mine = _anomalies(output / "anomalies", start_ms, end_ms)
    live = _anomalies(archive / "anomalies", start_ms, end_ms)

    def alerts(rows: list[dict]) -> dict[tuple, str]:
        """(device, sensor, reading time) -> severity, of every alert."""
        return {(a["device_id"], a["sensor"], a["ts"]): a["severity"] for a in rows if a["alert"]}

    new, old = alerts(mine), alerts(live)
    both = new.keys() & old.keys()
    dead = 0
    for path in (output / "dead-letters").glob(PART_GLOB):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            dead += sum(1 for _ in f)
    return {
        "readings_replayed": readings,
        "dead_letters": dead,
        "anomaly_rows": len(mine),
        "alerts": len(new),
        "alerts_by_severity": dict(Counter(new.values())),
        "alerting_devices": len({a[0] for a in new}),
        "live": {"anomaly_rows": len(live), "alerts": len(old), "alerting_devices": len({a[0] for a in old})}
        if (archive / "anomalies").is_dir() else None,
        "alerts_in_both": len(both),
        "severity_changed": sorted([*k, old[k], new[k]] for k in both if old[k] != new[k])[:20],
        "alerts_only_in_backfill": sorted([*k, new[k]] for k in new.keys() - old.keys())[:20],
        "alerts_only_live": sorted([*k, old[k]] for k in old.keys() - new.keys())[:20],
        "only_in_backfill": len(new.keys() - old.keys()),
        "only_live": len(old.keys() - new.keys()),
    }


def backfill(
    archive: Path, start_ms: int, end_ms: int, overrides: Mapping[str, Mapping[str, str]], run_id: str,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Replay ``archive``'s readings in [start_ms, end_ms] with ``overrides``; returns the summary."""
    if not (archive / "raw").is_dir():
        raise FileNotFoundError(f"no raw/ readings under {archive}")
    if not JAR.exists():
        raise FileNotFoundError(f"{JAR} is missing: run `make jars` first")
    output = archive / "backfill" / run_id
    if output.exists():
        raise FileExistsError(f"{output} exists: choose another --run-id")
    work = archive / "backfill" / f".{run_id}-work"
    work.mkdir(parents=True)
    readings = work / "readings.jsonl"
    total = select_readings(archive, start_ms, end_ms, readings, progress)
    if total == 0:
        raise ValueError(f"no archived readings between {start_ms} and {end_ms} under {archive}/raw")
    from localdev.emulator import free_port

    port = free_port()
    props = work / "application_properties.json"
    props.write_text(json.dumps(backfill_properties(readings, output, overrides, work, port), indent=2))
    progress(f"replaying {total:,} readings through the job (web UI http://127.0.0.1:{port}/) -> {output}")
    started = time.monotonic()
    run_job(props, output, total, progress)
    summary = summarize(archive, output, start_ms, end_ms, total)
    summary.update(run_id=run_id, output=str(output), settings={k: dict(v) for k, v in overrides.items()},
                   seconds=round(time.monotonic() - started, 1))
    from flink_job.history.report import write_report

    summary["report"] = str(write_report(output, output / "report.html", f"Backfill {run_id}", summary))
    (output / "summary.json").write_text(json.dumps(summary, indent=2))
    shutil.rmtree(work, ignore_errors=True)  # the sorted input and the run's checkpoints
    return summary
