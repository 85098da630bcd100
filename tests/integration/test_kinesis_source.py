"""Integration: our Java FLIP-27 Kinesis source against a moto server on loopback.

Starts a moto server on a free port (``moto_endpoint`` in tests/conftest.py, stopped by PID in
teardown), fills a 2-shard stream and reads it with PyFlink 2.2.1 on a local minicluster. Needs
``build/libs/pyflink-dependencies.jar`` (the ``uber_jar`` fixture builds it with Gradle when missing/stale).

moto rejects CBOR, which the AWS SDK v2 uses for Kinesis by default. The minicluster runs inside the
PyFlink gateway JVM, so the ``flink_env`` fixture sets the system property ``aws.cborEnabled=false``
there; a job launched locally does the same with ``JVM_ARGS=-Daws.cborEnabled=false`` or
``env.java.opts.all`` in ``$FLINK_CONF_DIR/config.yaml`` (both read by PyFlink when it starts the
gateway JVM).
"""

from __future__ import annotations

import gzip
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _kinesis(endpoint: str):
    import boto3

    return boto3.client("kinesis", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)


def _create_stream(endpoint: str, shards: int = 2) -> str:
    client = _kinesis(endpoint)
    name = f"it-{uuid.uuid4().hex[:10]}"
    client.create_stream(StreamName=name, ShardCount=shards)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    summary = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == shards
    return summary["StreamARN"]


def _put(endpoint: str, stream_arn: str, payloads: list[str]) -> None:
    client = _kinesis(endpoint)
    for start in range(0, len(payloads), 500):
        batch = payloads[start : start + 500]
        response = client.put_records(
            StreamARN=stream_arn,
            Records=[
                {"Data": p.encode(), "PartitionKey": f"device-{start + i}"} for i, p in enumerate(batch)
            ],
        )
        assert response["FailedRecordCount"] == 0


def _source(endpoint: str, stream_arn: str):
    from connectors.kinesis import KinesisStreamsSource

    return (
        KinesisStreamsSource.builder()
        .set_stream_arn(stream_arn)
        .set_region(REGION)
        .set_endpoint(endpoint)
        .set_static_credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"])
        .set_initial_position("TRIM_HORIZON")
        .set_shard_discovery_interval_ms(1000)
        .set_idle_interval_ms(100)
        .build()
    )


def test_reads_every_record_of_all_shards_exactly_once(flink_env, moto_endpoint):
    from pyflink.common import Types, WatermarkStrategy

    stream_arn = _create_stream(moto_endpoint)
    payloads = [f'{{"device": "d{i % 37}", "seq": {i}}}' for i in range(2000)]
    _put(moto_endpoint, stream_arn, payloads)

    env = flink_env()
    ds = env.from_source(
        _source(moto_endpoint, stream_arn), WatermarkStrategy.no_watermarks(), "kinesis", Types.STRING()
    )
    received: list[str] = []
    errors: list[BaseException] = []
    results = ds.execute_and_collect("kinesis-source-test")

    def drain():
        try:
            for value in results:
                received.append(value)
        except BaseException as exc:  # closing the iterator from the main thread ends the loop
            errors.append(exc)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    deadline = time.monotonic() + 45
    while len(received) < len(payloads) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)  # leave time for duplicates, if any, to show up
    results.close()
    reader.join(timeout=20)

    assert len(received) >= len(payloads), f"only {len(received)} records within 45 s; errors: {errors}"
    assert Counter(received) == Counter(payloads)


def _committed_lines(directory: Path) -> list[str]:
    lines: list[str] = []
    for part in directory.rglob("*.jsonl.gz"):
        if not part.name.startswith("."):
            with gzip.open(part, "rt", encoding="utf-8") as fh:
                lines.extend(fh.read().splitlines())
    return lines


def _run_until(env, out: Path, expected: int, savepoint_dir: Path, timeout: float = 40.0) -> str:
    """Runs the job until ``expected`` lines are committed, then stops it with a savepoint."""
    from pyflink.java_gateway import get_gateway

    client = env.execute_async("kinesis-savepoint-test")
    deadline = time.monotonic() + timeout
    while len(_committed_lines(out)) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    # PyFlink 2.2.1's JobClient.stop_with_savepoint calls a removed 2-argument Java overload.
    format_type = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
    return client._j_job_client.stopWithSavepoint(False, savepoint_dir.as_uri(), format_type).get()


def test_restore_from_savepoint_neither_loses_nor_duplicates(flink_env, moto_endpoint, tmp_path):
    from pyflink.common import Types, WatermarkStrategy

    from connectors.files import gzip_lines_file_sink

    stream_arn = _create_stream(moto_endpoint)
    first = [f"first-{i}" for i in range(2000)]
    second = [f"second-{i}" for i in range(500)]
    _put(moto_endpoint, stream_arn, first)

    def build(out: Path, extra: dict[str, str] | None = None):
        env = flink_env(extra)
        env.enable_checkpointing(1000)
        (
            env.from_source(
                _source(moto_endpoint, stream_arn),
                WatermarkStrategy.no_watermarks(),
                "kinesis",
                Types.STRING(),
            )
            .uid("kinesis-source")
            .sink_to(gzip_lines_file_sink(out.as_uri()))
            .uid("gzip-sink")
        )
        return env

    out1, out2, savepoints = tmp_path / "run1", tmp_path / "run2", tmp_path / "savepoints"
    savepoint = _run_until(build(out1), out1, len(first), savepoints)
    assert Counter(_committed_lines(out1)) == Counter(first)

    _put(moto_endpoint, stream_arn, second)
    _run_until(build(out2, {"execution.savepoint.path": savepoint}), out2, len(second), savepoints)
    assert Counter(_committed_lines(out2)) == Counter(second)
