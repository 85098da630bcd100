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
from collect_support import collect_until

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
    results = ds.execute_and_collect("kinesis-source-test")
    received, errors = collect_until(results, len(payloads), 45, linger_s=2.0)

    assert len(received) >= len(payloads), f"only {len(received)} records within 45 s; errors: {errors}"
    assert Counter(received) == Counter(payloads)


def _committed_lines(directory: Path) -> list[str]:
    lines: list[str] = []
    for part in directory.rglob("*.jsonl.gz"):
        if not part.name.startswith("."):
            with gzip.open(part, "rt", encoding="utf-8") as fh:
                lines.extend(fh.read().splitlines())
    return lines


def _run_until(env, out: Path, expected: int, savepoint_dir: Path, timeout: float = 40.0, done=None) -> str:
    """Runs the job until ``expected`` lines are committed (or ``done(lines)`` holds), then stops it
    with a savepoint."""
    from pyflink.java_gateway import get_gateway

    def finished() -> bool:
        lines = _committed_lines(out)
        return done(lines) if done is not None else len(lines) >= expected

    client = env.execute_async("kinesis-savepoint-test")
    deadline = time.monotonic() + timeout
    while not finished() and time.monotonic() < deadline:
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


def _put_to_shard(endpoint: str, stream_arn: str, shard: dict, payloads: list[str]) -> None:
    """Puts ``payloads`` into exactly this shard (ExplicitHashKey = its first hash key)."""
    response = _kinesis(endpoint).put_records(
        StreamARN=stream_arn,
        Records=[
            {
                "Data": p.encode(),
                "PartitionKey": "k",
                "ExplicitHashKey": shard["HashKeyRange"]["StartingHashKey"],
            }
            for p in payloads
        ],
    )
    assert response["FailedRecordCount"] == 0
    assert {r["ShardId"] for r in response["Records"]} == {shard["ShardId"]}


def test_latest_is_pinned_so_a_restore_skips_nothing_written_while_down(flink_env, moto_endpoint, tmp_path):
    """LATEST starts at the first start's time, also for a shard that delivered nothing before the
    savepoint: records written while the job was down are read after the restore, in both shards."""
    from pyflink.common import Types, WatermarkStrategy

    from connectors.files import gzip_lines_file_sink
    from connectors.kinesis import KinesisStreamsSource

    stream_arn = _create_stream(moto_endpoint)
    busy, quiet = _kinesis(moto_endpoint).list_shards(StreamARN=stream_arn)["Shards"]
    _put_to_shard(moto_endpoint, stream_arn, busy, [f"before-start-{i}" for i in range(50)])
    _put_to_shard(moto_endpoint, stream_arn, quiet, [f"before-start-q{i}" for i in range(50)])
    time.sleep(1.0)  # the pinned start time is strictly after these records

    def build(out: Path, extra: dict[str, str] | None = None):
        env = flink_env(extra)
        env.enable_checkpointing(1000)
        source = (
            KinesisStreamsSource.builder()
            .set_stream_arn(stream_arn)
            .set_endpoint(moto_endpoint)
            .set_static_credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"])
            .set_initial_position("LATEST")
            .set_shard_discovery_interval_ms(1000)
            .set_idle_interval_ms(100)
            .build()
        )
        (
            env.from_source(source, WatermarkStrategy.no_watermarks(), "kinesis", Types.STRING())
            .uid("kinesis-source")
            .sink_to(gzip_lines_file_sink(out.as_uri()))
            .uid("gzip-sink")
        )
        return env

    out1, out2, savepoints = tmp_path / "run1", tmp_path / "run2", tmp_path / "savepoints"
    # Only the busy shard gets records while the first run is up (a probe every second until one
    # arrives: records put before the job's start time are rightly not read); the quiet one none.
    stop = threading.Event()

    def probe() -> None:
        n = 0
        while not stop.wait(1.0) and n < 60:
            _put_to_shard(moto_endpoint, stream_arn, busy, [f"probe-{n}"])
            n += 1

    feeder = threading.Thread(target=probe, daemon=True)
    feeder.start()
    try:
        savepoint = _run_until(build(out1), out1, 1, savepoints)
    finally:
        stop.set()
        feeder.join(timeout=10)
    run1 = _committed_lines(out1)
    assert run1 and all(line.startswith("probe-") for line in run1), run1

    while_down = [f"while-down-busy-{i}" for i in range(20)]
    while_down_quiet = [f"while-down-quiet-{i}" for i in range(20)]
    _put_to_shard(moto_endpoint, stream_arn, busy, while_down)
    _put_to_shard(moto_endpoint, stream_arn, quiet, while_down_quiet)
    expected = Counter(while_down + while_down_quiet)

    def both_runs() -> list[str]:
        # A sink subtask that had an open bucket in the savepoint keeps writing it under run 1's
        # directory after the restore, so the output of the two runs is read together.
        return _committed_lines(out1) + _committed_lines(out2)

    def all_while_down(_lines: list[str]) -> bool:
        return Counter(line for line in both_runs() if line.startswith("while-down")) == expected

    _run_until(
        build(out2, {"execution.savepoint.path": savepoint}), out2, 0, savepoints, 60.0, all_while_down
    )
    lines = both_runs()
    # Every record written while the job was down, in the quiet shard too, exactly once; besides them
    # only probes (some put while run 1 was stopping, after its savepoint), none read twice.
    got = Counter(line for line in lines if line.startswith("while-down"))
    assert got == expected, f"missing {sorted(expected - got)}, extra {sorted(got - expected)}"
    probes = [line for line in lines if not line.startswith("while-down")]
    assert all(p.startswith("probe-") for p in probes), probes
    assert len(probes) == len(set(probes)), probes
