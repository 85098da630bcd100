"""``timestream.mode = readings``: every reading reaches Timestream with its anomalous flag.

A recorded simulation (file source, so the run ends by itself) goes through the whole job
against the moto server; the check reads moto's Timestream backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from flink_job.core.records import parse_reading
from localdev import emulator
from localdev.demo import PLUGINS, timestream_records
from localdev.simulator import Simulation, SimulationConfig, generate

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_every_reading_is_stored_with_its_verdict(tmp_path, uber_jar):
    now = int(time.time() * 1000)
    cfg = SimulationConfig(devices=6, interval_ms=1000, duration_s=120, start_ms=now - 130_000, seed=3,
                           anomalies=3, kinds=("spike",), malformed_share=0.0)  # fmt: skip
    sim = Simulation(cfg)
    recording = tmp_path / "recording.jsonl"
    recording.write_text("".join(line + "\n" for _ts, _k, line in generate(cfg, sim)))
    aws = emulator.up(tmp_path / "aws")
    try:
        groups = {
            "source": {"kind": "file", "file_path": str(recording)},
            "sinks": {
                "timeseries.store": "timestream",
                "timestream.mode": "readings",
                "timestream.database": aws.timestream_database,
                "aws.region": aws.region,
            },
            "local": {"aws_endpoint": aws.endpoint, "jars": uber_jar.as_uri(), "plugins_dir": str(PLUGINS)},
        }
        props = tmp_path / "props.json"
        props.write_text(json.dumps([{"PropertyGroupId": k, "PropertyMap": v} for k, v in groups.items()]))
        env = dict(os.environ, IOT_ANOMALY_LOCAL="true")
        run = subprocess.run(
            [sys.executable, "-m", "flink_job.main", "--properties", str(props)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        tables = timestream_records(aws)
    finally:
        emulator.down(tmp_path / "aws")

    readings = tables["readings"]
    lines = recording.read_text().splitlines()
    expected = sum(len(parse_reading(line, now).reading.values()) for line in lines)
    assert len(readings) == expected
    measures = [{mv["Name"]: mv["Value"] for mv in r["MeasureValues"]} for r in readings]
    assert all({"value", "score", "anomalous", "alert", "severity"} <= m.keys() for m in measures)
    flagged = Counter(
        (dims["device_id"], dims["sensor"])
        for r, m in zip(readings, measures, strict=True)
        if m["alert"] == "true"
        for dims in [{d["Name"]: d["Value"] for d in r["Dimensions"]}]
    )
    for spike in sim.anomalies:
        assert flagged[(spike.device_id, spike.sensor)] >= 1, spike
