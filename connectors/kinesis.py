"""PyFlink wrapper of our Java ``com.iotanomaly.connectors.kinesis.KinesisStreamsSource``.

A FLIP-27 Kinesis Data Streams source (polling GetRecords) for Flink 2.x that emits each record's
data as a UTF-8 ``str``. It lives in ``build/libs/pyflink-dependencies.jar`` (``gradle uberJar``),
which must be on the job's classpath (``pipeline.jars`` locally, ``jarfile`` on MSF).

This module holds no logic: every setter forwards to the Java builder, which validates.

Local emulator (moto): the JVM must run with ``-Daws.cborEnabled=false`` (``env.java.opts.all``
or environment ``CBOR_ENABLED=false``), because moto rejects the SDK's default CBOR wire format.

Example::

    source = (KinesisStreamsSource.builder()
              .set_stream_arn("arn:aws:kinesis:eu-west-1:123456789012:stream/telemetry")
              .set_initial_position("TRIM_HORIZON")
              .build())
    ds = env.from_source(source, WatermarkStrategy.no_watermarks(), "kinesis", Types.STRING())
"""

from __future__ import annotations

from pyflink.datastream.connectors import Source
from pyflink.java_gateway import get_gateway

__all__ = ["KinesisStreamsSource", "KinesisStreamsSourceBuilder"]

_JAVA_CLASS = "com.iotanomaly.connectors.kinesis.KinesisStreamsSource"


class KinesisStreamsSource(Source):
    """Unbounded source of the records' data (UTF-8 strings) of one Kinesis stream."""

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
        """Required: ``arn:aws:kinesis:<region>:<account>:stream/<name>``."""
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
        """``TRIM_HORIZON`` or ``LATEST`` (default); for ``AT_TIMESTAMP`` use set_initial_timestamp_ms."""
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

    def build(self) -> KinesisStreamsSource:
        return KinesisStreamsSource(self._j_builder.build())
