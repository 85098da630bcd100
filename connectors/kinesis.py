"""PyFlink wrapper of our Java ``com.iotanomaly.connectors.kinesis.KinesisStreamsSource``.

A FLIP-27 Kinesis Data Streams source (polling GetRecords) for Flink 2.x that emits one ``str`` per
record. It lives in ``build/libs/pyflink-dependencies.jar`` (``gradle uberJar``), which must be on the
job's classpath (``pipeline.jars`` locally, ``jarfile`` on MSF).

Record framing (Java ``RecordText``; no record can fail the reader): if the record's bytes are valid
UTF-8 and the decoded text does not start with U+0000, the string is the decoded text; otherwise it
is ``"\\x00base64:"`` (``RecordText.BINARY_PREFIX``) followed by the standard base64 (with padding)
of the raw bytes; ``flink_job.core.records`` decodes it. Empty data is ``""``.

Event time: :func:`reading_watermarks` builds a strategy to pass to ``env.from_source``; timestamps
(the JSON ``ts``) and watermarks are then generated per shard inside the source, and a reader's
watermark is the minimum over its shards, so catching up on several shards' backlog marks nothing late.

Failures: a missing stream, denied access or an invalid ARN fails the job at once and without
restarts (the Java exception text holds one line starting with ``"Kinesis source: "``); an endpoint
that cannot be reached is retried for ``set_max_unreachable_ms`` (30 s) first; throttling and 5xx are
retried indefinitely. An ARN of the wrong form is rejected by ``build()``.

Start position: ``LATEST`` is pinned to the job's first start (the initial shards are read
``AT_TIMESTAMP`` of that moment), so a restore before a quiet shard delivered anything does not skip
records written while the job was down.

This module holds no logic: every setter forwards to the Java builder, which validates.

Local emulator (moto): the JVM must run with ``-Daws.cborEnabled=false`` (``env.java.opts.all``
or environment ``CBOR_ENABLED=false``), because moto rejects the SDK's default CBOR wire format.

Example::

    source = (KinesisStreamsSource.builder()
              .set_stream_arn("arn:aws:kinesis:eu-west-1:123456789012:stream/telemetry")
              .set_initial_position("TRIM_HORIZON")
              .build())
    ds = env.from_source(source, reading_watermarks(5_000, 60_000, 300_000), "kinesis", Types.STRING())
"""

from __future__ import annotations

from pyflink.common import WatermarkStrategy
from pyflink.datastream.connectors import Source
from pyflink.java_gateway import get_gateway

__all__ = ["KinesisStreamsSource", "KinesisStreamsSourceBuilder", "reading_watermarks"]

_JAVA_CLASS = "com.iotanomaly.connectors.kinesis.KinesisStreamsSource"


def reading_watermarks(
    max_out_of_orderness_ms: int, idle_timeout_ms: int, max_future_ms: int
) -> WatermarkStrategy:
    """Per-shard event time for JSON readings, to pass to ``env.from_source``.

    Bounded out-of-orderness of ``max_out_of_orderness_ms`` over the top-level ``ts`` (epoch ms, or
    ISO-8601 with zone); records without a valid ``ts``, before 2000 or more than ``max_future_ms``
    ahead of the wall clock get timestamp 0, which never advances the watermark. A shard that is
    quiet for ``idle_timeout_ms`` is marked idle (0 disables idleness).
    """
    j_strategy = get_gateway().jvm.com.iotanomaly.connectors.kinesis.ReadingWatermarks.strategy(
        int(max_out_of_orderness_ms), int(idle_timeout_ms), int(max_future_ms)
    )
    return WatermarkStrategy(j_strategy)


class KinesisStreamsSource(Source):
    """Unbounded source of the records' data (framed strings, see the module doc) of one stream."""

    def __init__(self, j_source):
        super().__init__(j_source)

    @staticmethod
    def builder() -> KinesisStreamsSourceBuilder:
        return KinesisStreamsSourceBuilder()


class KinesisStreamsSourceBuilder:
    """Mirrors the Java ``KinesisStreamsSource.Builder``."""

    def __init__(self):
        jvm = get_gateway().jvm
        self._j_builder = jvm.com.iotanomaly.connectors.kinesis.KinesisStreamsSource.builder()

    def set_stream_arn(self, stream_arn: str) -> KinesisStreamsSourceBuilder:
        """Required: ``arn:aws[-cn|-us-gov]:kinesis:<region>:<12-digit account>:stream/<name>``."""
        self._j_builder.setStreamArn(stream_arn)
        return self

    def set_region(self, region: str) -> KinesisStreamsSourceBuilder:
        """AWS region; defaults to the one inside the stream ARN."""
        self._j_builder.setRegion(region)
        return self

    def set_endpoint(self, endpoint: str) -> KinesisStreamsSourceBuilder:
        """Endpoint override, e.g. ``http://127.0.0.1:5000`` for moto."""
        self._j_builder.setEndpoint(endpoint)
        return self

    def set_static_credentials(
        self, access_key_id: str, secret_access_key: str
    ) -> KinesisStreamsSourceBuilder:
        """Static credentials; without them the SDK's default credentials chain is used."""
        self._j_builder.setStaticCredentials(access_key_id, secret_access_key)
        return self

    def set_initial_position(self, position: str) -> KinesisStreamsSourceBuilder:
        """``TRIM_HORIZON`` or ``LATEST`` (default, pinned to the first start); for ``AT_TIMESTAMP``
        use set_initial_timestamp_ms."""
        self._j_builder.setInitialPosition(str(position))
        return self

    def set_initial_timestamp_ms(self, epoch_millis: int) -> KinesisStreamsSourceBuilder:
        """Start ``AT_TIMESTAMP`` at this epoch-millisecond time."""
        self._j_builder.setInitialTimestamp(int(epoch_millis))
        return self

    def set_shard_discovery_interval_ms(self, interval_ms: int) -> KinesisStreamsSourceBuilder:
        """How often new shards are looked for (default 10,000 ms)."""
        self._j_builder.setShardDiscoveryIntervalMs(int(interval_ms))
        return self

    def set_max_records_per_get(self, max_records: int) -> KinesisStreamsSourceBuilder:
        """GetRecords limit (1..10,000; default 10,000)."""
        self._j_builder.setMaxRecordsPerGet(int(max_records))
        return self

    def set_idle_interval_ms(self, idle_interval_ms: int) -> KinesisStreamsSourceBuilder:
        """Pause before re-polling a shard that returned nothing (default 200 ms)."""
        self._j_builder.setIdleIntervalMs(int(idle_interval_ms))
        return self

    def set_min_get_records_interval_ms(self, interval_ms: int) -> KinesisStreamsSourceBuilder:
        """Least time between two GetRecords on one shard, also with a backlog (default 0: none).

        A shard allows 5 GetRecords/s over all its consumers; 250 ms leaves room for Firehose."""
        self._j_builder.setMinGetRecordsIntervalMs(int(interval_ms))
        return self

    def set_max_unreachable_ms(self, max_unreachable_ms: int) -> KinesisStreamsSourceBuilder:
        """How long the endpoint may stay unreachable before the job fails (default 30,000 ms)."""
        self._j_builder.setMaxUnreachableMs(int(max_unreachable_ms))
        return self

    def build(self) -> KinesisStreamsSource:
        return KinesisStreamsSource(self._j_builder.build())
