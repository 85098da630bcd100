"""Flink adapters for the sinks: the S3 archive (JVM file sink) and batching Python writers.

Timestream, InfluxDB, SNS and CloudWatch have no Flink 2.x sink, so a keyed Python function
buffers items in keyed state (checkpointed), flushes when a batch is full, after
``flush_interval_ms`` of processing time, and at the end of the stream, and sends whatever the
service refuses for good (validation, rejected record, too large) to a side output for the dead
letters. Transient failures (throttling, 5xx, connection errors, timeouts) are retried by the
writers with backoff (``connectors.aws``); when a batch's budget runs out the writer raises, the
task fails, and the job restarts from its last checkpoint: nothing is dropped.

Why no item is lost across that restart (and why it does not matter that ``_flush`` reads the
buffer before writing and clears it after): PyFlink sends a bundle's state changes to the state
backend when the bundle finishes, and a checkpoint barrier is only processed after the bundle
finished. So a completed checkpoint holds the buffer exactly as it was after the elements before
the barrier; a flush that raised never reaches one. On restart the buffer comes back from that
checkpoint, the timers with it, and the source replays every element after the barrier, so each
item is buffered (and written) again. Writing before clearing also keeps the buffer intact in the
(unused) case where a caller would catch the writer's exception and carry on.

Delivery per sink, since a batch can be written again (a retried call whose answer was lost, or a
replay after a restart):
- Timestream: at least once, deduplicated by the service: an identical record (same dimensions,
  time, measure name and values) is accepted again as a no-op.
- InfluxDB: at least once, deduplicated by the service: a point with the same series (measurement
  + tags) and time overwrites the earlier one.
- SNS: once per ``alert_id`` when the job has an archive: the alert ledger beside it
  (``connectors.alert_ledger``) skips ids already published, so a replay after a restore does not
  alert twice. Two windows are left, both duplicates and never losses: a crash between publishing
  and recording the id, and an SNS answer lost on the network (the retry publishes again). Without
  an archive: at least once. FIFO topics (ARN ending in ``.fifo``) also get
  MessageDeduplicationId = ``alert_id``, so SNS drops such repeats for 5 minutes.
- CloudWatch anomaly counts: at least once: a replayed batch is counted again.
- S3 archive (raw, late, dead letters, anomalies): exactly once (files commit on checkpoint).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import DataStream, KeyedProcessFunction, KeyedStream, OutputTag, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from connectors import aws
from connectors.alert_ledger import deduplicated, ledger_for
from connectors.cloudwatch import MAX_ITEMS_PER_CALL, AnomalyMetrics
from connectors.influxdb import MAX_POINTS_PER_WRITE, InfluxWriter
from connectors.influxdb import line as influx_line
from connectors.sns import MAX_BATCH, SnsPublisher
from connectors.timestream import MAX_RECORDS_PER_WRITE, TimestreamWriter, multi_measure
from flink_job.core.events import alert_message
from flink_job.core.outputs import Anomaly, ScoredReading, WindowStats
from flink_job.pipeline.detect import END_OF_TIME
from flink_job.pipeline.outputs import bucket_of, side_output, typed

REJECTED = OutputTag("sink-rejected", Types.STRING())

# A writer takes a batch of items and returns the refused ones with a reason.
Writer = Callable[[Sequence[Any]], list[tuple[Any, str]]]
# What a sink makes of one output row (read by name, ``flink_job.pipeline.outputs.typed``).
Convert = Callable[[Row], Any]


class BatchingSink(KeyedProcessFunction):
    """Buffers converted items per key and hands full batches to a writer built in ``open``;
    with ``flush_interval_ms`` 0 it writes each item as it arrives (alerts: latency over batching)."""

    def __init__(
        self,
        name: str,
        make_writer: Callable[[], Writer],
        convert: Callable[[Row], Any],
        batch_size: int,
        flush_interval_ms: int,
    ) -> None:
        self._name = name
        self._make_writer = make_writer
        self._convert = convert
        self._batch_size = batch_size
        self._flush_interval_ms = flush_interval_ms
        self._writer: Writer | None = None

    def open(self, runtime_context: RuntimeContext) -> None:
        self._writer = self._make_writer()
        self._buffer = runtime_context.get_list_state(
            ListStateDescriptor("buffer", Types.PICKLED_BYTE_ARRAY())
        )
        self._count = runtime_context.get_state(ValueStateDescriptor("count", Types.INT()))

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context):
        if self._flush_interval_ms == 0:
            # a failing write raises: the task restarts and the source replays this item (docstring)
            yield from self._rejects(self._writer([self._convert(value)]))  # type: ignore[misc]
            return
        self._buffer.add(self._convert(value))
        n = (self._count.value() or 0) + 1
        if n == 1:
            timers = ctx.timer_service()
            timers.register_processing_time_timer(timers.current_processing_time() + self._flush_interval_ms)
            # Processing-time timers do not fire when a drained job ends; this one does.
            timers.register_event_time_timer(END_OF_TIME - 1)
        if n >= self._batch_size:
            yield from self._flush()
        else:
            self._count.update(n)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        yield from self._flush()

    def _flush(self):
        items = list(self._buffer.get() or ())
        # the writer raises when retries run out: then the buffer stays as it is (module docstring)
        refused = self._writer(items) if items else []
        self._buffer.clear()
        self._count.clear()
        yield from self._rejects(refused)

    def _rejects(self, refused: list[tuple[Any, str]]):
        for item, reason in refused:
            yield REJECTED, json.dumps({"sink": self._name, "reason": reason, "item": item}, default=str)


def timestream_anomaly_record(row: Row) -> dict:
    ev = typed(Anomaly, row).event()
    return multi_measure(
        {"device_id": ev["device_id"], "sensor": ev["sensor"], "severity": ev["severity"]},
        "anomaly",
        ev["ts"],
        {
            "value": ev["value"],
            "score": float(ev["score"]),
            "anomalous": ev["anomalous"],
            "alert": ev["alert"],
            "detectors": ",".join(ev["detectors"]) or "none",
            "reason": ev["reason"] or "none",
        },
    )


def timestream_reading_record(row: Row) -> dict:
    r = typed(ScoredReading, row)
    return multi_measure(
        {"device_id": r.device_id, "sensor": r.sensor},
        "reading",
        r.ts_ms,
        {"value": r.value, "score": float(r.score), "severity": r.severity, "anomalous": r.anomalous,
         "alert": r.alert},
    )


def timestream_aggregate_record(row: Row) -> dict:
    w = typed(WindowStats, row)
    return multi_measure(
        {"device_id": w.device_id, "sensor": w.sensor},
        "window_stats",
        w.start_ms,
        {"count": int(w.n), "mean": w.mean, "min": w.min_value, "max": w.max_value, "stddev": w.stddev},
    )


def influx_aggregate_line(row: Row) -> str:
    w = typed(WindowStats, row)
    fields = {"count": int(w.n), "mean": w.mean, "min": w.min_value, "max": w.max_value, "stddev": w.stddev}
    return influx_line("window_stats", {"device_id": w.device_id, "sensor": w.sensor}, fields, w.start_ms)


def influx_anomaly_line(row: Row) -> str:
    ev = typed(Anomaly, row).event()
    tags = {"device_id": ev["device_id"], "sensor": ev["sensor"], "severity": ev["severity"]}
    fields = {
        "value": ev["value"],
        "score": float(ev["score"]),
        "anomalous": ev["anomalous"],
        "alert": ev["alert"],
        "detectors": ",".join(ev["detectors"]),
        "reason": ev["reason"],
    }
    return influx_line("anomaly", tags, fields, ev["ts"])


def sns_alert(row: Row) -> tuple[str, str, dict[str, str]]:
    return alert_message(typed(Anomaly, row).event())


def severity_and_time(row: Row) -> tuple[str, int]:
    a = typed(Anomaly, row)
    return a.severity, a.ts_ms


def anomaly_json(row: Row) -> str:
    return json.dumps(typed(Anomaly, row).event(), separators=(",", ":"))


# ------------------------------------------------------------------ writers
def _timestream(region: str, endpoint: str, database: str, table: str, retention_hours: int) -> Writer:
    client = aws.client("timestream-write", region, endpoint)
    return TimestreamWriter(client, database, table, retention_hours).write


def _influxdb(endpoint: str, organization: str, bucket: str, secret_arn: str, region: str,
              aws_endpoint: str) -> Writer:
    from flink_job.secrets import read_secret

    def credentials() -> dict:  # read again on a 401: the token may have been rotated
        secret = read_secret(
            secret_arn, group="sinks", key="influxdb.auth_secret_arn", endpoint=aws_endpoint, region=region
        )
        return secret.value if isinstance(secret.value, dict) else {"token": str(secret.value)}

    return InfluxWriter(endpoint, organization, bucket, credentials(), reload=credentials).write


def _cloudwatch(region: str, endpoint: str, namespace: str) -> Writer:
    return AnomalyMetrics(aws.client("cloudwatch", region, endpoint), namespace).publish


def _sns(region: str, endpoint: str, topic_arn: str, archive_path: str = "") -> Writer:
    """With an archive, alert ids already published (a replay after a restore) are skipped through
    the alert ledger beside it (``connectors.alert_ledger``)."""
    publish = SnsPublisher(aws.client("sns", region, endpoint), topic_arn).publish
    ledger = ledger_for(archive_path, lambda: aws.client("s3", region, endpoint))
    return deduplicated(publish, ledger) if ledger else publish


_BUILDERS: dict[str, Callable[..., Writer]] = {
    "timestream": _timestream, "influxdb": _influxdb, "cloudwatch": _cloudwatch, "sns": _sns,
}  # fmt: skip
# Items per write call, as each connector states its service's limit.
BATCH_LIMITS = {
    "timestream": MAX_RECORDS_PER_WRITE,
    "influxdb": MAX_POINTS_PER_WRITE,
    "cloudwatch": MAX_ITEMS_PER_CALL,
    "sns": MAX_BATCH,
}


class WriterFactory:
    """Which service to write to and its settings. Picklable: the writer (clients, secrets) is built
    on the worker, in ``BatchingSink.open``; the batch size is the connector's limit."""

    def __init__(self, service: str, **settings: Any) -> None:
        if service not in _BUILDERS:
            raise ValueError(f"unknown sink service {service!r} (known: {', '.join(_BUILDERS)})")
        self.service = service
        self.settings = settings

    @property
    def batch_size(self) -> int:
        return BATCH_LIMITS[self.service]

    def __call__(self) -> Writer:
        return _BUILDERS[self.service](**self.settings)


def batching_sink(
    stream: DataStream,
    name: str,
    factory: WriterFactory,
    convert: Convert,
    flush_interval_ms: int,
) -> DataStream:
    """Key ``stream`` (rows with a device_id) into SINK_KEYS buckets, unless it comes keyed so, and
    attach a BatchingSink that writes batches of the connector's size. Returns the side output of
    refused items (JSON strings)."""
    keyed = stream if isinstance(stream, KeyedStream) else stream.key_by(
        lambda r: bucket_of(r.device_id), key_type=Types.INT())
    out = (
        keyed
        .process(BatchingSink(name, factory, convert, factory.batch_size, flush_interval_ms), Types.STRING())
        .name(f"{name}-writer")
        .uid(f"{name}-writer")
    )
    return side_output(out, REJECTED)
