"""``timestream.mode = readings``: every reading reaches Timestream with its anomalous flag.

A recorded simulation (file source, so the run ends by itself) goes through the whole job
against the moto server; the check reads moto's Timestream backend.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from flink_job.core.records import parse_reading
from localdev.demo import PLUGINS, timestream_records

pytestmark = pytest.mark.integration


def test_every_reading_is_stored_with_its_verdict(tmp_path, uber_jar, local_aws, record_simulation, run_job):
    now = int(time.time() * 1000)
    recording = tmp_path / "recording.jsonl"
    sim = record_simulation(recording, devices=6, seed=3, anomalies=3, kinds=("spike",), malformed_share=0.0)
    aws = local_aws
    run_job(
        {
            "source": {"kind": "file", "file_path": str(recording)},
            "sinks": {
                "timeseries.store": "timestream",
                "timestream.mode": "readings",
                "timestream.database": aws.timestream_database,
                "aws.region": aws.region,
            },
            "local": {
                "aws_endpoint": aws.endpoint,
                "jars": uber_jar.as_uri(),
                "plugins_dir": str(PLUGINS),
            },
        },
        tmp_path,
    )
    tables = timestream_records(aws)

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
