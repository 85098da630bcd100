"""What an operator sees when the job cannot run: one console line naming the cause, within 60 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from flink_job.core import schema
from localdev.emulator import ACCOUNT, REGION
from tests.conftest import job_env

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_job(tmp_path, endpoint: str, stream_arn: str, jar) -> tuple[subprocess.CompletedProcess, float]:  # noqa: ANN001
    groups = {
        "source": {"stream.arn": stream_arn, "aws.region": REGION},
        "sinks": {"timeseries.store": "none"},
        # restarts allowed: the source must fail the job anyway (no restart can fix a missing stream)
        "local": {"aws_endpoint": endpoint, "jars": jar.as_uri(), "restart_attempts": "100"},
    }
    props = tmp_path / "application_properties.json"
    props.write_text(json.dumps(schema.document(groups)))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "flink_job.main", "--properties", str(props)],
        cwd=REPO, env=job_env(), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    return done, time.monotonic() - started


def test_a_missing_stream_fails_the_job_with_one_line_naming_it(tmp_path, moto_endpoint, uber_jar):
    arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/no-such-stream"
    done, elapsed = run_job(tmp_path, moto_endpoint, arn, uber_jar)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    lines = [x for x in done.stdout.splitlines() if x.startswith("iot-anomaly: job failed: ")]
    print(f"failed after {elapsed:.1f} s (process start included): {lines}")
    assert len(lines) == 1, done.stdout[-3000:]
    assert f"Kinesis source: stream {arn} does not exist" in lines[0]
    assert elapsed < 60 + 15  # 60 s from the spec, plus the process and gateway start-up
