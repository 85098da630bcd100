"""PyFlink helpers around Flink's ``FileSink`` with our Java gzip JSON-lines bulk writer.

``com.iotanomaly.connectors.files.GzipLinesBulkWriterFactory`` lives in
``build/libs/pyflink-dependencies.jar`` (``gradle uberJar``), which must be on the job's classpath.
Bulk formats roll on every checkpoint: part files are finished (visible, ``.jsonl.gz``) only after a
successful checkpoint, or at the end of a bounded job. No logic of its own beyond wiring.
"""

from __future__ import annotations

from pyflink.common.serialization import BulkWriterFactory
from pyflink.datastream.connectors.file_system import (
    BucketAssigner,
    FileSink,
    OutputFileConfig,
    RollingPolicy,
)
from pyflink.java_gateway import get_gateway

__all__ = ["GZIP_LINES_SUFFIX", "gzip_lines_bulk_writer_factory", "gzip_lines_file_sink"]

GZIP_LINES_SUFFIX = ".jsonl.gz"


def gzip_lines_bulk_writer_factory() -> BulkWriterFactory:
    """Writes each ``str`` element as one UTF-8 line into a gzip stream per part file."""
    jvm = get_gateway().jvm
    return BulkWriterFactory(jvm.com.iotanomaly.connectors.files.GzipLinesBulkWriterFactory())


def gzip_lines_file_sink(
    base_path: str,
    bucket_format: str = "'dt='yyyy-MM-dd'/hr='HH",
    part_prefix: str = "part",
    timezone: str = "UTC",
) -> FileSink:
    """A ``FileSink`` of ``str`` elements as gzip JSON lines under ``base_path/<bucket>/``.

    :param base_path: directory or URI (``file:///...``, ``s3://bucket/prefix``).
    :param bucket_format: ``DateTimeFormatter`` pattern of the bucket directory (processing time).
    :param part_prefix: part file name prefix; the suffix is ``.jsonl.gz``.
    :param timezone: zone id for the bucket time.
    """
    return (
        FileSink.for_bulk_format(base_path, gzip_lines_bulk_writer_factory())
        .with_bucket_assigner(BucketAssigner.date_time_bucket_assigner(bucket_format, timezone))
        .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
        .with_output_file_config(
            OutputFileConfig.builder()
            .with_part_prefix(part_prefix)
            .with_part_suffix(GZIP_LINES_SUFFIX)
            .build()
        )
        .build()
    )
