"""``timeseries.store = influxdb``: the job writes line protocol to an InfluxDB 2.x HTTP API.

The InfluxDB is the loopback stand-in (``influx_support``): the job signs in with the
username/password of a new Timestream for InfluxDB instance's secret and writes with
org, bucket, precision=ms. The job runs for real (minicluster, moto's Secrets Manager for the
auth secret).
"""

from __future__ import annotations

import json

import pytest
from influx_support import InfluxStandIn

from localdev.demo import PLUGINS

pytestmark = pytest.mark.integration
USER, PASSWORD = "iotadmin", "s3cret-pass"


def test_aggregates_and_anomalies_reach_influxdb(tmp_path, uber_jar, local_aws, record_simulation, run_job):
    sim = record_simulation(
        tmp_path / "recording.jsonl", devices=4, seed=5, anomalies=2, kinds=("spike",), malformed_share=0.0
    )
    with InfluxStandIn(USER, PASSWORD) as influx:
        aws = local_aws
        arn = aws.client("secretsmanager").create_secret(
            Name="influx-auth", SecretString=json.dumps({"username": USER, "password": PASSWORD})
        )["ARN"]
        run_job(
            {
                "source": {"kind": "file", "file_path": str(tmp_path / "recording.jsonl")},
                "sinks": {
                    "timeseries.store": "influxdb",
                    "influxdb.endpoint": influx.url,
                    "influxdb.organization": "iot-anomaly",
                    "influxdb.bucket": "readings",
                    "influxdb.auth_secret_arn": arn,
                    "aws.region": aws.region,
                },
                "pipeline": {"aggregate_window_s": "60"},
                "local": {
                    "aws_endpoint": aws.endpoint,
                    "jars": uber_jar.as_uri(),
                    "plugins_dir": str(PLUGINS),
                },
            },
            tmp_path,
        )

    assert all(
        q == {"org": ["iot-anomaly"], "bucket": ["readings"], "precision": ["ms"]} for q in influx.queries
    )
    stats = [p for p in influx.points if p.startswith("window_stats,")]
    anomalies = [p for p in influx.points if p.startswith("anomaly,")]
    # 4 devices x 3 sensors, every reading counted once across the 1-minute windows
    counted = sum(int(p.split("count=")[1].split("i")[0]) for p in stats)
    assert counted == sim.valid * 3
    for spike in sim.anomalies:
        assert any(
            f"device_id={spike.device_id}" in p and f"sensor={spike.sensor}" in p and "alert=true" in p
            for p in anomalies
        ), spike
