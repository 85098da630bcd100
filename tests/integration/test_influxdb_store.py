"""``timeseries.store = influxdb``: the job writes line protocol to an InfluxDB 2.x HTTP API.

No InfluxDB 2.x can be installed on this machine (Debian ships 1.6, without the v2 API), so a
small loopback server stands in for the two endpoints the writer uses: /api/v2/signin (basic
auth -> session cookie, as for the username/password in a new Timestream for InfluxDB
instance's secret) and /api/v2/write (org, bucket, precision=ms). It parses what it receives;
the job runs for real (minicluster, moto's Secrets Manager for the auth secret).
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from localdev.demo import PLUGINS

pytestmark = pytest.mark.integration
USER, PASSWORD = "iotadmin", "s3cret-pass"


class _InfluxV2(BaseHTTPRequestHandler):
    points: list[str] = []
    queries: list[dict] = []

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        url = urlparse(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if url.path == "/api/v2/signin":
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.end_headers()
                return
            self.send_response(204)
            self.send_header("Set-Cookie", "influxdb-oss-session=abc123; Path=/; HttpOnly")
            self.end_headers()
        elif url.path == "/api/v2/write":
            if self.headers.get("Cookie") != "influxdb-oss-session=abc123":
                self.send_response(401)
                self.end_headers()
                return
            type(self).queries.append(parse_qs(url.query))
            type(self).points.extend(body.decode().splitlines())
            self.send_response(204)
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()


def test_aggregates_and_anomalies_reach_influxdb(tmp_path, uber_jar, local_aws, record_simulation, run_job):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _InfluxV2)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sim = record_simulation(
        tmp_path / "recording.jsonl", devices=4, seed=5, anomalies=2, kinds=("spike",), malformed_share=0.0
    )
    try:
        aws = local_aws
        arn = aws.client("secretsmanager").create_secret(
            Name="influx-auth", SecretString=json.dumps({"username": USER, "password": PASSWORD})
        )["ARN"]
        run_job(
            {
                "source": {"kind": "file", "file_path": str(tmp_path / "recording.jsonl")},
                "sinks": {
                    "timeseries.store": "influxdb",
                    "influxdb.endpoint": f"http://127.0.0.1:{server.server_port}",
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
    finally:
        server.shutdown()

    assert all(
        q == {"org": ["iot-anomaly"], "bucket": ["readings"], "precision": ["ms"]} for q in _InfluxV2.queries
    )
    stats = [p for p in _InfluxV2.points if p.startswith("window_stats,")]
    anomalies = [p for p in _InfluxV2.points if p.startswith("anomaly,")]
    # 4 devices x 3 sensors, every reading counted once across the 1-minute windows
    counted = sum(int(p.split("count=")[1].split("i")[0]) for p in stats)
    assert counted == sim.valid * 3
    for spike in sim.anomalies:
        assert any(
            f"device_id={spike.device_id}" in p and f"sensor={spike.sensor}" in p and "alert=true" in p
            for p in anomalies
        ), spike
