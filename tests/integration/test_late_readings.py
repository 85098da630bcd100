"""Readings behind the watermark are listed under late/ with their lag, never dropped silently."""

from __future__ import annotations

import gzip
import json

import pytest

pytestmark = pytest.mark.integration


def _lines(folder) -> list[str]:
    return [
        x
        for f in sorted(folder.rglob("part-*.jsonl.gz"))
        for x in gzip.decompress(f.read_bytes()).decode().splitlines()
    ]


def test_late_readings_are_archived_and_listed_with_their_lag(tmp_path, uber_jar, record_simulation, run_job):
    recording = tmp_path / "recording.jsonl"
    record_simulation(recording, devices=5, seed=11, anomalies=0, malformed_share=0.0, duration_s=90)
    lines = recording.read_text().splitlines()
    # three readings re-sent 60 s after they were taken: far beyond the 5 s out-of-orderness
    late = []
    for i in (10, 20, 30):
        obj = json.loads(lines[i * 5])
        obj["seq"] = -i  # distinct from the on-time copy
        late.append(json.dumps(obj, separators=(",", ":")))
    recording.write_text("\n".join(lines + late) + "\n")
    archive = tmp_path / "archive"
    run_job(
        {
            "source": {"kind": "file", "file_path": str(recording)},
            "sinks": {"timeseries.store": "none", "s3.archive_path": archive.as_uri() + "/"},
            "local": {"jars": uber_jar.as_uri()},
        },
        tmp_path,
    )
    listed = [json.loads(x) for x in _lines(archive / "late")]
    assert sorted(x["record"] for x in listed) == sorted(late)
    assert all(x["reason"].startswith("late: ") and "behind the watermark" in x["reason"] for x in listed)
    assert sorted(_lines(archive / "raw")) == sorted(lines + late)  # still archived as valid records
