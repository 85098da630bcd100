"""The job graph: source -> parse/validate -> key -> detect -> sinks, in one direction.

raw records (Kinesis, or a recorded file for replays), event time + watermarks per split
  -> parse and split (one JVM operator)   -> dead letters (S3)
                                           -> valid readings, canonical JSON lines -> raw archive (S3)
                                           -> readings behind the watermark -> late/ (S3)
  -> valid readings on time (JVM)
     -> micro-batches per bucket of devices (JVM, arrival order) -> DetectAnomalies (Python, keyed state)
          -> anomalies (S3), Timestream anomalies table
          -> alert onsets (side output, keyed in the JVM) -> SNS, CloudWatch counts
        -> 1-minute statistics per series (JVM, from the same batches) -> Timestream readings table
"""

from __future__ import annotations

from dataclasses import dataclass

from pyflink.common import Types
from pyflink.common.typeinfo import TypeInformation, _from_java_type
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.data_stream import KeyedStream
from pyflink.java_gateway import get_gateway

from connectors.files import gzip_lines_file_sink
from flink_job.config import AppConfig, PipelineConfig
from flink_job.core.detection.config import ThresholdConfig
from flink_job.pipeline import sinks
from flink_job.pipeline.bundles import prompt_keyed_process, python_bundles
from flink_job.pipeline.detect import ALERTS, OUT_OF_ORDER, READINGS, DetectAnomalies
from flink_job.pipeline.outputs import ANOMALY_TYPE, side_output


@dataclass
class JobGraph:
    """Handles on the streams, for tests and benchmarks that stop part-way (None: not built)."""

    raw: DataStream
    readings: DataStream | None = None
    valid_lines: DataStream | None = None
    dead_letters: DataStream | None = None
    late_readings: DataStream | None = None
    batches: DataStream | None = None
    aggregates: DataStream | None = None
    anomalies: DataStream | None = None


def build_source(env: StreamExecutionEnvironment, cfg: AppConfig) -> DataStream:
    """Raw records with event time and watermarks assigned in the source, per split (shard or file).

    Per-split watermarks hold the job's watermark at the slowest shard, so catching up on a
    backlog or after a restore (one shard read ahead of another) marks no on-time reading late and
    no device silent while its readings are still queued. Idleness is per split too.
    """
    from connectors.kinesis import reading_watermarks

    p = cfg.pipeline
    watermarks = reading_watermarks(p.watermark_delay_ms, p.idle_timeout_ms, p.max_future_ms)
    src = cfg.source
    if src.kind == "file":
        from pyflink.datastream.connectors.file_system import FileSource, StreamFormat

        source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), src.file_path).build()
        return env.from_source(source, watermarks, "recorded-readings").uid("source")

    from connectors.kinesis import KinesisStreamsSource

    builder = (
        KinesisStreamsSource.builder()
        .set_stream_arn(src.stream_arn)
        .set_region(src.aws_region)
        .set_initial_position(src.init_position)
        .set_max_records_per_get(src.max_records_per_get)
        .set_shard_discovery_interval_ms(src.shard_discovery_interval_ms)
        .set_min_get_records_interval_ms(src.min_get_records_interval_ms)
    )
    if cfg.local and cfg.local.aws_endpoint:
        builder = builder.set_endpoint(cfg.local.aws_endpoint).set_static_credentials("testing", "testing")
    return env.from_source(builder.build(), watermarks, "kinesis-readings").uid("source")


STAGES = ("source", "parse", "windows", "detect", "full")
DETECTION_BUFFER_TIMEOUT_MS = 5


def parse_stage(raw: DataStream, p: PipelineConfig) -> tuple[DataStream, DataStream, DataStream, DataStream]:
    """(valid readings on time, canonical JSON lines of all valid readings, dead-letter JSON, late JSON).

    One JVM operator (``com.iotanomaly.records.ParseAndSplit``, the twin of flink_job.core.records,
    held to it by tests/vectors) parses each record once and routes it: no record crosses into Python
    and none goes through the Table API's row conversions. A reading's measurements are every
    (sensor, v) it reported, in the record's order: any names, up to flink_job.core.records.MAX_SENSORS;
    thresholds and models are keyed by name. A reading's event time is its parsed ``ts``; the
    watermarks are the source's (per split, see build_source), carried through. Readings at or behind
    the watermark would be dropped by the windows without a trace: they are archived as valid raw
    records and listed under late/ with the lag instead of reaching detection and the aggregates.
    """
    op = get_gateway().jvm.com.iotanomaly.records.ParseAndSplit
    j_parsed = (
        raw._j_data_stream.transform("parse-and-split", op.readingType(), op(int(p.max_future_ms)))
        .uid("parse-and-split")
    )
    return (DataStream(j_parsed), DataStream(j_parsed.getSideOutput(op.VALID_LINES)),
            DataStream(j_parsed.getSideOutput(op.DEAD_LETTERS)), DataStream(j_parsed.getSideOutput(op.LATE)))


def window_stage(
    readings: DataStream, p: PipelineConfig, thresholds: ThresholdConfig
) -> tuple[DataStream, DataStream]:
    """(micro-batches per bucket of devices, window statistics per series), both computed in the JVM.

    A batch holds aligned arrays, one entry per reading (device ids, timestamps), the batch's sensor
    names and their values, one row per reading, NaN where a reading did not report that name (valid
    readings are finite, so NaN is free as a marker).
    Batches are cut in arrival order by ``DeviceMicroBatcher`` (``connectors/java``) after at most
    ``batch_window_ms`` of processing time, not by event-time windows: detection does not wait for
    the watermark. The batcher holds a watermark back until the readings before it have left, and
    empties itself before each checkpoint barrier (so it keeps no state). A reading at or beyond a
    static threshold (``ThresholdConfig.urgent_bounds``) sends its bucket's batch at once, marked
    ``urgent``, so a threshold alert waits for no interval (and detection ends its bundle at once,
    ``bundles.prompt_keyed_process``). The batches leave on the network as they are made (buffer
    timeout 0): a batch is large and there are a few hundred a second, while a partly filled network
    buffer would otherwise wait up to Flink's 100 ms for its flusher.
    The statistics (``WindowStatistics``: count, mean, min, max, stddev per series and tumbling
    ``aggregate_window_s`` window) are computed from the same batches, keyed by bucket (one element
    per batch, not a shuffle per reading), and leave when the watermark passes a window's end; their
    rows carry ``WindowStats``' fields, by name (the sinks read them so).
    """
    gateway = get_gateway()
    urgent = thresholds.configured_sensors()
    names = gateway.new_array(gateway.jvm.String, len(urgent))
    lows = gateway.new_array(gateway.jvm.double, len(urgent))
    highs = gateway.new_array(gateway.jvm.double, len(urgent))
    for i, s in enumerate(urgent):
        names[i] = s
        lows[i], highs[i] = thresholds.urgent_bounds(s)
    batcher = gateway.jvm.com.iotanomaly.batching.DeviceMicroBatcher
    j_readings = readings._j_data_stream
    j_batches = (
        j_readings.transform(
            "device-micro-batches", batcher.outputType(),
            batcher(p.detection_buckets, p.batch_max_readings, p.batch_window_ms, names, lows, highs))
        .uid("device-micro-batches")
        .setBufferTimeout(0)
    )
    batches = DataStream(j_batches)  # (bucket, batch) pairs, keyed in detect_stage
    stats = gateway.jvm.com.iotanomaly.aggregates.WindowStatistics
    j_aggregates = (
        j_batches.keyBy(stats.byBucket())
        .process(stats(int(p.aggregate_window_s) * 1000), stats.outputType())
        .name("window-statistics")
        # keyed by bucket, from the batches, since this uid (before: "window-statistics", keyed by
        # device, from every reading; before that the SQL window aggregate's generated uid); docs/deploy.md
        .uid("window-statistics-by-bucket")
    )
    return batches, DataStream(j_aggregates)


def keyed_pairs(pairs: DataStream, key_type: TypeInformation) -> KeyedStream:
    """A stream of (key, value) rows keyed by the key in the JVM: the form PyFlink's ``key_by`` builds
    with a Python map, built upstream instead (the batcher, detection's alert output), so no element
    crosses into Python an extra time; the keyed functions receive the values."""
    j_pairs = pairs._j_data_stream
    j_keyed = j_pairs.keyBy(get_gateway().jvm.KeyByKeySelector(), Types.ROW([key_type]).get_java_type_info())
    return KeyedStream(j_keyed, _from_java_type(j_pairs.getType().getTypeAt(1)), pairs)


def detect_stage(batches: DataStream, cfg: AppConfig) -> DataStream:
    """Anomaly rows from the detectors (Python, keyed state per bucket of devices).

    With ``timestream.mode = readings`` every reading with its verdict (score, anomalous flag)
    also leaves on the side output ``READINGS``.
    """
    with_readings = cfg.sinks.timeseries_store != "none" and cfg.sinks.timestream_mode == "readings"
    with_alerts = bool(cfg.sinks.alerts_topic_arn or cfg.sinks.metrics_namespace)
    p = cfg.pipeline
    prompt = p.detection_bundle_linger_ms >= 0  # MicroBatchBundleOperator: it sends the state flushes
    detect = DetectAnomalies(
        cfg.detection, cfg.thresholds, p.state_ttl_hours, with_readings, cfg.baseline, with_alerts,
        p.detector_cache_devices, p.detection_buckets, write_at_flush=prompt,
    )
    keyed = keyed_pairs(batches, Types.INT())
    detected = (prompt_keyed_process(keyed, detect, ANOMALY_TYPE, p.detection_bundle_linger_ms,
                                     p.detection_bundle_gap_ms) if prompt else
                keyed.process(detect, ANOMALY_TYPE))
    detected = (
        detected
        .name("detect-anomalies")
        # keyed by bucket since this uid (before: "detect-anomalies", keyed by device); see docs/deploy.md
        .uid("detect-anomalies-by-bucket")
    )
    # Detection's rows (alerts among them) come back from Python in bursts at bundle ends: the last
    # partly filled network buffer of a burst leaves within 5 ms, not Flink's default 100 ms.
    detected._j_data_stream.setBufferTimeout(DETECTION_BUFFER_TIMEOUT_MS)
    return detected


def build_graph(
    env: StreamExecutionEnvironment,
    cfg: AppConfig,
    until: str = "full",
    raw: DataStream | None = None,
) -> JobGraph:
    """The whole job; ``until`` stops after an earlier stage (benchmarks), leaving sinks to the caller.
    ``raw`` replaces the configured source (the bench's latency probe), with event time and
    watermarks already assigned as ``build_source`` assigns them."""
    if until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}, got {until!r}")
    stop = STAGES.index(until)
    raw = raw if raw is not None else build_source(env, cfg)
    # The source runs alone in its thread. Chained to it, the parse and everything after would
    # count as the source's time in Flink's per-split idleness clock (FLINK-40234): emitting one
    # shard's fetched batch through them could outlast idle_timeout_ms, mark the other shard
    # idle, jump the watermark past it and make its readings late (a restore's catch-up did).
    raw.disable_chaining()
    graph = JobGraph(raw=raw)
    if stop >= 1:
        graph.readings, graph.valid_lines, graph.dead_letters, graph.late_readings = parse_stage(
            graph.raw, cfg.pipeline)
    if stop >= 2:
        graph.batches, graph.aggregates = window_stage(graph.readings, cfg.pipeline, cfg.thresholds)
    with python_bundles(cfg.pipeline.python_bundle_size, cfg.pipeline.python_bundle_time_ms):
        if stop >= 3:
            graph.anomalies = detect_stage(graph.batches, cfg)
        if stop >= 4:
            attach_sinks(graph, cfg)
    return graph


def attach_sinks(graph: JobGraph, cfg: AppConfig) -> None:
    s = cfg.sinks
    endpoint = cfg.local.aws_endpoint if cfg.local else ""
    rejected: list[DataStream] = []

    def sink(stream: DataStream, name: str, factory: sinks.WriterFactory, convert: sinks.Convert,
             flush_interval_ms: int = s.flush_interval_ms) -> None:
        rejected.append(sinks.batching_sink(stream, name, factory, convert, flush_interval_ms))

    if s.timeseries_store == "timestream":
        def timestream(table: str) -> sinks.WriterFactory:
            return sinks.WriterFactory(
                "timestream", region=s.aws_region, endpoint=endpoint, database=s.timestream_database,
                table=table, retention_hours=s.timestream_memory_retention_hours)

        readings = timestream(s.readings_table)
        if s.timestream_mode == "readings":
            sink(side_output(graph.anomalies, READINGS), "timestream-readings", readings,
                 sinks.timestream_reading_record)
        else:
            sink(graph.aggregates, "timestream-readings", readings, sinks.timestream_aggregate_record)
        sink(graph.anomalies, "timestream-anomalies", timestream(s.anomalies_table),
             sinks.timestream_anomaly_record)
    if s.timeseries_store == "influxdb":
        influx = sinks.WriterFactory(
            "influxdb", endpoint=s.influxdb_endpoint, organization=s.influxdb_organization,
            bucket=s.influxdb_bucket, secret_arn=s.influxdb_auth_secret_arn, region=s.aws_region,
            aws_endpoint=endpoint)
        sink(graph.aggregates, "influxdb-readings", influx, sinks.influx_aggregate_line)
        sink(graph.anomalies, "influxdb-anomalies", influx, sinks.influx_anomaly_line)
    alerts = None
    if s.metrics_namespace or s.alerts_topic_arn:
        alerts = keyed_pairs(side_output(graph.anomalies, ALERTS), Types.INT())
    if s.metrics_namespace:
        metrics = sinks.WriterFactory("cloudwatch", region=s.aws_region, endpoint=endpoint,
                                      namespace=s.metrics_namespace)
        # one PutMetricData per 10 s at most; its refusals are (severity, time) pairs, not archived
        sinks.batching_sink(alerts, "cloudwatch-metrics", metrics, sinks.severity_and_time,
                            max(s.flush_interval_ms, 10_000))
    if s.alerts_topic_arn:
        sns = sinks.WriterFactory("sns", region=s.aws_region, endpoint=endpoint, topic_arn=s.alerts_topic_arn,
                                  archive_path=s.archive_path)
        # a bundle per alert: an onset does not wait for the bundle time before it reaches the writer
        with python_bundles(1, cfg.pipeline.python_bundle_time_ms):
            sink(alerts, "sns-alerts", sns, sinks.sns_alert, s.alerts_flush_interval_ms)

    if not s.archive_path:
        return
    base = s.archive_path.rstrip("/")
    graph.valid_lines.sink_to(gzip_lines_file_sink(f"{base}/raw")).name("archive-raw").uid("archive-raw")
    graph.late_readings.sink_to(gzip_lines_file_sink(f"{base}/late")).name("archive-late").uid("archive-late")
    # late/ also lists the readings detection set aside, older than their device's newest one
    # (flink_job.core.detection.order): a sink of their own (the parse step's strings and a Python
    # operator's output are different types to Flink), with its own part prefix in the same folder
    side_output(graph.anomalies, OUT_OF_ORDER).sink_to(
        gzip_lines_file_sink(f"{base}/late", part_prefix="out-of-order")
    ).name("archive-out-of-order").uid("archive-out-of-order")
    graph.dead_letters.sink_to(gzip_lines_file_sink(f"{base}/dead-letters")).name("archive-dead-letters").uid(
        "archive-dead-letters"
    )
    anomalies_json = graph.anomalies.map(sinks.anomaly_json, Types.STRING()).name("anomaly-json")
    anomalies_json.sink_to(gzip_lines_file_sink(f"{base}/anomalies")).name("archive-anomalies").uid(
        "archive-anomalies"
    )
    if rejected:
        first, *rest = rejected
        merged = first.union(*rest) if rest else first
        merged.sink_to(gzip_lines_file_sink(f"{base}/sink-rejects")).name("archive-sink-rejects").uid(
            "archive-sink-rejects"
        )
