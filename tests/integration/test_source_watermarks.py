"""Integration: event time and watermarks generated per shard inside our Kinesis source.

One reader (parallelism 1) owns both shards of a moto stream holding a backlog: shard A and shard B
each carry readings whose ``ts`` spans the same 10 minutes. The reader fetches the shards in turns of
100 records, so the stream it emits jumps back and forth in event time. A Python ProcessFunction
downstream marks each element late when its timestamp is at or behind the operator's watermark.

- ``reading_watermarks`` passed to ``from_source``: one watermark generator per shard, the reader's
  watermark is the minimum over them, so nothing is late.
- The old way (no watermarks in the source, ``assign_timestamps_and_watermarks`` downstream) sees
  the interleaved stream as one: readings of the shard that is behind become late.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest
from collect_support import collect_until

pytestmark = pytest.mark.integration

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
PER_SHARD = 1500
STEP_MS = 400  # 1500 readings x 400 ms = 10 minutes of event time per shard
OUT_OF_ORDERNESS_MS = 1000
MAX_FUTURE_MS = 300_000


def _kinesis(endpoint: str):  # noqa: ANN202 - boto3 clients are untyped
    import boto3

    return boto3.client("kinesis", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)


def _stream_with_backlog(endpoint: str) -> str:
    """A 2-shard stream; each shard holds PER_SHARD readings spanning the same 10 minutes."""
    client = _kinesis(endpoint)
    name = f"wm-{uuid.uuid4().hex[:10]}"
    client.create_stream(StreamName=name, ShardCount=2)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    arn = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    shards = client.list_shards(StreamARN=arn)["Shards"]
    assert len(shards) == 2
    base = int(time.time() * 1000) - 3_600_000
    for shard in shards:
        # ExplicitHashKey = the shard's first hash key: every record lands in that shard.
        hash_key = shard["HashKeyRange"]["StartingHashKey"]
        readings = [
            f'{{"device_id": "{shard["ShardId"]}", "ts": {base + i * STEP_MS}, "seq": {i}}}'
            for i in range(PER_SHARD)
        ]
        for start in range(0, PER_SHARD, 500):
            response = client.put_records(
                StreamARN=arn,
                Records=[
                    {"Data": r.encode(), "PartitionKey": "k", "ExplicitHashKey": hash_key}
                    for r in readings[start : start + 500]
                ],
            )
            assert response["FailedRecordCount"] == 0
            assert {r["ShardId"] for r in response["Records"]} == {shard["ShardId"]}
    return arn


def _source(endpoint: str, stream_arn: str):  # noqa: ANN202 - a PyFlink Source
    from connectors.kinesis import KinesisStreamsSource

    return (
        KinesisStreamsSource.builder()
        .set_stream_arn(stream_arn)
        .set_endpoint(endpoint)
        .set_static_credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"])
        .set_initial_position("TRIM_HORIZON")
        .set_max_records_per_get(100)  # the shards' readings arrive interleaved in batches of 100
        .set_idle_interval_ms(100)
        .build()
    )


def _lateness(env, stream) -> Counter:  # noqa: ANN001 - PyFlink env and DataStream
    """Runs the job until every reading went through; counts (shard, late?) pairs."""
    from pyflink.common import Types
    from pyflink.datastream import ProcessFunction

    class MarkLate(ProcessFunction):
        def process_element(self, value, ctx):  # noqa: ANN001, ANN201 - PyFlink signature
            shard = value.split('"device_id": "', 1)[1].split('"', 1)[0]
            late = ctx.timestamp() <= ctx.timer_service().current_watermark()
            yield f"{shard}|{'late' if late else 'ok'}"

    marks = stream.process(MarkLate(), Types.STRING())
    results = marks.execute_and_collect("source-watermarks-test")
    received, errors = collect_until(results, 2 * PER_SHARD, 60)
    assert len(received) >= 2 * PER_SHARD, f"only {len(received)} readings within 60 s; errors: {errors}"
    return Counter(received)


def _env(flink_env):  # noqa: ANN001, ANN202
    # Frequent periodic watermarks, so the old way's watermark moves between the shards' batches.
    return flink_env({"pipeline.auto-watermark-interval": "10 ms"}, parallelism=1)


def test_per_shard_watermarks_in_the_source_mark_nothing_late(flink_env, moto_endpoint):
    from pyflink.common import Types

    from connectors.kinesis import reading_watermarks

    arn = _stream_with_backlog(moto_endpoint)
    env = _env(flink_env)
    strategy = reading_watermarks(OUT_OF_ORDERNESS_MS, 30_000, MAX_FUTURE_MS)
    stream = env.from_source(_source(moto_endpoint, arn), strategy, "kinesis", Types.STRING())
    counts = _lateness(env, stream)

    late = sum(n for key, n in counts.items() if key.endswith("|late"))
    assert sum(counts.values()) == 2 * PER_SHARD, counts
    assert len({key.split("|")[0] for key in counts}) == 2, counts
    assert late == 0, counts


def test_downstream_watermarks_on_the_same_data_mark_readings_late(flink_env, moto_endpoint):
    from pyflink.common import Types, WatermarkStrategy

    from connectors.kinesis import reading_watermarks

    arn = _stream_with_backlog(moto_endpoint)
    env = _env(flink_env)
    stream = env.from_source(
        _source(moto_endpoint, arn), WatermarkStrategy.no_watermarks(), "kinesis", Types.STRING()
    ).assign_timestamps_and_watermarks(reading_watermarks(OUT_OF_ORDERNESS_MS, 30_000, MAX_FUTURE_MS))
    counts = _lateness(env, stream)

    late = sum(n for key, n in counts.items() if key.endswith("|late"))
    assert sum(counts.values()) == 2 * PER_SHARD, counts
    assert late > 0, counts
