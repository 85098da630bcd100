"""The S3 filesystem plugin is found even when the gateway JVM started without FLINK_PLUGINS_DIR.

The JVM reads its environment once, when it starts; in one Python process (a notebook, a pytest
session) an earlier job may have started it without the variable. The archive's s3:// sinks must
still translate: the job loads the plugins from ``local.plugins_dir`` itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from flink_job.core import schema
from localdev.demo import JAR, PLUGINS, REPO

BUILD_AFTER_A_PLAIN_START = textwrap.dedent("""
    import json, os, sys
    os.environ.pop("FLINK_PLUGINS_DIR", None)
    from pyflink.java_gateway import get_gateway
    get_gateway()  # as an earlier job in this process would have started it: no plugins folder
    from flink_job.main import build
    env, _cfg, _graph = build(sys.argv[1])
    plan = env.get_execution_plan()  # translates the s3:// file sinks
    nodes = json.loads(plan)["nodes"]
    print("archive sinks:", sum(node["contents"].startswith("archive-") for node in nodes))
""")


def test_s3_archive_translates_in_a_jvm_started_without_the_plugins_variable(
    tmp_path: Path, uber_jar: Path  # noqa: ARG001 - builds the jar and the plugins folder when stale
) -> None:
    readings = tmp_path / "readings.jsonl"
    readings.write_text('{"device_id":"d-1","ts":1,"temperature":20.0}\n')
    groups = {
        "source": {"kind": "file", "file_path": str(readings)},
        "sinks": {"s3.archive_path": "s3://archive-bucket/run/", "timeseries.store": "none"},
        "local": {"jars": JAR.as_uri(), "plugins_dir": str(PLUGINS), "aws_endpoint": "http://127.0.0.1:9"},
    }
    props = tmp_path / "properties.json"
    props.write_text(json.dumps(schema.document(groups)))
    env = {k: v for k, v in os.environ.items() if k not in ("FLINK_PLUGINS_DIR", "FLINK_HOME")}
    out = subprocess.run(
        [sys.executable, "-c", BUILD_AFTER_A_PLAIN_START, str(props)], cwd=REPO, capture_output=True,
        text=True, timeout=300, env={**env, "IOT_ANOMALY_LOCAL": "true", "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "archive sinks: " in out.stdout, out.stdout[-2000:]
    assert int(out.stdout.split("archive sinks: ")[1].split()[0]) >= 4  # raw, late, dead letters, anomalies
