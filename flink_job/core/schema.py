"""The job's contract: every runtime-property group, with its keys (one spelling each), types,
defaults, allowed values and a one-line description (pure Python, 3.8-safe).

The job's loader (``flink_job.config``), infra's property groups, the local runs and the test
builders all go through :data:`GROUPS`; ``docs/configuration.md`` is generated from it
(``python -m flink_job.core.schema --write``) and a test fails when it is stale. The detection
group's detector parameters are declared by the detectors themselves (their constructor
signatures and ``param_docs``, see ``flink_job.core.detection.config``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flink_job.core.detection.config import BaselineConfig, DetectionConfig, ThresholdConfig
from flink_job.core.errors import ConfigError
from flink_job.core.settings import Key, check_keys, keys_of, setting, type_name, unknown_key

RUN_OPTIONS_GROUP = "kinesis.analytics.flink.run.options"
SOURCE_KINDS = ("kinesis", "file")
INIT_POSITIONS = ("LATEST", "TRIM_HORIZON")
STORES = ("timestream", "influxdb", "none")
STORE_MODES = ("aggregates", "readings")


def _one_of(group: str, key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(group, key, f"{value!r} is not one of {', '.join(allowed)}")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@dataclass(frozen=True)
class SourceConfig:
    """Where readings come from."""

    kind: str = setting("kinesis", "kinesis, or file (replays a recorded simulation)", allowed=SOURCE_KINDS)
    stream_arn: str = setting("", "the Kinesis stream's ARN (kind = kinesis)", key="stream.arn")
    aws_region: str = setting("eu-central-1", "the stream's region", key="aws.region")
    init_position: str = setting("LATEST", "where a shard is read from when no checkpoint says",
                                 key="source.init.position", allowed=INIT_POSITIONS)
    file_path: str = setting("", "kind = file: a JSON-lines file or folder")
    max_records_per_get: int = setting(10_000, "records per GetRecords call (Kinesis allows 10,000)")
    shard_discovery_interval_ms: int = setting(10_000, "how often new shards (resharding) are looked for")
    min_get_records_interval_ms: int = setting(
        250, "least time between two GetRecords on one shard: a shard serves 5 calls/s to all its "
        "consumers together, and 250 ms (4/s) leaves one to Firehose")

    def validate(self, group: str) -> None:
        if self.kind == "kinesis" and not self.stream_arn.startswith("arn:"):
            raise ConfigError(
                group, "stream.arn", f"a Kinesis stream ARN is required, got {self.stream_arn!r}")
        if self.kind == "file" and not self.file_path:
            raise ConfigError(group, "file_path", "required when kind = file")
        if self.min_get_records_interval_ms < 0:
            raise ConfigError(group, "min_get_records_interval_ms", "must be >= 0")


@dataclass(frozen=True)
class SinkConfig:
    """The archive, the time-series store and the alert topic."""

    archive_path: str = setting("", "s3://bucket/prefix/ (file:///... locally) of the archives (raw, dead "
                                    "letters, anomalies); empty: no archive", key="s3.archive_path")
    timeseries_store: str = setting(
        "timestream", "influxdb (Timestream for InfluxDB), timestream (LiveAnalytics: closed to new AWS "
        "customers) or none", key="timeseries.store", allowed=STORES)
    timestream_database: str = setting(
        "", "Timestream database (store = timestream)", key="timestream.database")
    readings_table: str = setting("readings", "table of readings or window aggregates",
                                  key="timestream.readings_table")
    anomalies_table: str = setting("anomalies", "table of anomaly rows", key="timestream.anomalies_table")
    timestream_mode: str = setting("aggregates", "what the store gets besides anomalies: window aggregates, "
                                   "or every reading with its verdict", key="timestream.mode",
                                   allowed=STORE_MODES)
    timestream_memory_retention_hours: int = setting(
        24, "the table's memory-store retention (records older are refused)",
        key="timestream.memory_retention_hours")
    alerts_topic_arn: str = setting("", "SNS topic for alerts; empty: alerts are archived, not published",
                                    key="sns.alerts_topic_arn")
    influxdb_endpoint: str = setting("", "https://<instance endpoint>:8086 (store = influxdb)",
                                     key="influxdb.endpoint")
    influxdb_organization: str = setting("", "InfluxDB organization", key="influxdb.organization")
    influxdb_bucket: str = setting("", "InfluxDB bucket", key="influxdb.bucket")
    influxdb_auth_secret_arn: str = setting(
        "", "Secrets Manager ARN of the InfluxDB token (or username/password); read again on a 401",
        key="influxdb.auth_secret_arn")
    metrics_namespace: str = setting("", "CloudWatch namespace for alert counts by severity; empty: off",
                                     key="cloudwatch.namespace")
    aws_region: str = setting("eu-central-1", "region of the sinks' AWS services", key="aws.region")
    flush_interval_ms: int = setting(1_000, "a writer's partly filled batch is sent after this long")
    alerts_flush_interval_ms: int = setting(
        0, "the same for SNS alerts; 0: each alert is published as it leaves detection (alerts are onsets, "
        "so few, and every wait here is alert latency)", key="sns.flush_interval_ms")

    def validate(self, group: str) -> None:
        if self.timeseries_store == "influxdb":
            if not self.influxdb_endpoint.startswith(("https://", "http://")):
                raise ConfigError(
                    group, "influxdb.endpoint", f"an http(s) URL is required, got {self.influxdb_endpoint!r}"
                )
            for key in ("organization", "bucket"):
                if not getattr(self, f"influxdb_{key}"):
                    raise ConfigError(group, f"influxdb.{key}", "required when timeseries.store = influxdb")
            if not self.influxdb_auth_secret_arn.startswith("arn:"):
                raise ConfigError(group, "influxdb.auth_secret_arn", "the InfluxDB secret's ARN is required")
        if self.timeseries_store == "timestream" and not self.timestream_database:
            raise ConfigError(group, "timestream.database", "required when timeseries.store = timestream")
        if self.archive_path and not self.archive_path.startswith(("s3://", "file://")):
            raise ConfigError(
                group, "s3.archive_path", f"must start with s3:// or file://: {self.archive_path!r}")
        for key, value in (("flush_interval_ms", self.flush_interval_ms),
                           ("sns.flush_interval_ms", self.alerts_flush_interval_ms)):
            if value < 0:
                raise ConfigError(group, key, f"must be >= 0, got {value}")
        if self.alerts_topic_arn and not self.alerts_topic_arn.startswith("arn:"):
            raise ConfigError(group, "sns.alerts_topic_arn", f"not an ARN: {self.alerts_topic_arn!r}")


MAX_DETECTION_BUCKETS = 65_536


@dataclass(frozen=True)
class PipelineConfig:
    """Event time and windows."""

    batch_window_ms: int = setting(
        1_000, "longest a reading waits in the JVM before its micro-batch goes to the Python "
        "detectors (processing time): longer batches amortise PyFlink's per-element cost at the price "
        "of alert latency")
    batch_max_readings: int = setting(
        20_000, "a subtask's micro-batches also leave once it holds this many readings")
    aggregate_window_s: int = setting(60, "window of the per-series statistics written to the store")
    watermark_delay_ms: int = setting(5_000, "bounded out-of-orderness of event time")
    idle_timeout_ms: int = setting(30_000, "a shard with no data stops holding the watermark back after this")
    max_future_ms: int = setting(300_000, "readings further ahead of the wall clock are dead letters")
    state_ttl_hours: int = setting(168, "detector state of a device not seen for this long is dropped")
    python_bundle_size: int = setting(
        100_000, "elements per bundle sent to the Python workers (detection and the batching sink writers; "
        "the SNS writer takes each alert as a bundle of its own)")
    python_bundle_time_ms: int = setting(
        1_000, "longest wait before a partial bundle is sent (an element's wait for detection's output)")
    detection_bundle_linger_ms: int = setting(
        20, "a detection bundle goes to Python this long after its first micro-batch (the rest of that "
        "flush's batches arrive meanwhile), instead of waiting out python_bundle_time_ms; -1: PyFlink's "
        "own bundle ends (alerts 2-3x later; with 10,000 devices ~20% more replay throughput)")
    detection_bundle_gap_ms: int = setting(
        200, "but no sooner than this after the previous detection bundle: each bundle end commits the "
        "touched buckets' state, so this bounds its cost however often batches come. A batch sent early "
        "for a static threshold breach ends its bundle at once: three in a row, then one per this gap")
    detection_buckets: int = setting(
        64, "devices are spread over this many keys for detection: one element into Python and one "
        "keyed-state commit carry a bucket's devices, not one device (a bucket is the unit of parallelism: "
        "keep it a few times the parallelism you may scale to; changing it on restore restarts the "
        "baselines of the devices that move to another bucket; it was 256 by default before: see "
        "docs/deploy.md)")
    detector_cache_devices: int = setting(
        10_000, "devices whose live detectors a Python subtask keeps between bundles (~13 KB each; "
        "PyFlink re-reads and unpickles every other device's state once per bundle). With prompt bundle "
        "ends (detection_bundle_linger_ms >= 0) a kept device's changes are written to keyed state before "
        "each checkpoint, not at every bundle end (a device of another bucket with unwritten changes stays "
        "kept beyond this size until its bucket's next batch); 0: none, every change written at its "
        "bundle end")
    parallelism: int = setting(0, "job parallelism; 0: the cluster's default")

    def validate(self, group: str) -> None:
        for name in ("batch_window_ms", "batch_max_readings", "aggregate_window_s", "watermark_delay_ms",
                     "python_bundle_size", "python_bundle_time_ms"):
            if getattr(self, name) <= 0:
                raise ConfigError(group, name, "must be > 0")
        if not 1 <= self.detection_buckets <= MAX_DETECTION_BUCKETS:
            raise ConfigError(group, "detection_buckets",
                              f"must be in 1..{MAX_DETECTION_BUCKETS}, got {self.detection_buckets}")
        for name in ("detector_cache_devices", "detection_bundle_gap_ms"):
            if getattr(self, name) < 0:
                raise ConfigError(group, name, f"must be >= 0, got {getattr(self, name)}")
        if self.detection_bundle_linger_ms < -1:
            raise ConfigError(group, "detection_bundle_linger_ms", "must be >= 0, or -1 for PyFlink's own "
                              f"bundles, got {self.detection_bundle_linger_ms}")


@dataclass(frozen=True)
class LocalConfig:
    """Local runs only (IOT_ANOMALY_LOCAL=true); ignored, with a note, on MSF, which owns these."""

    aws_endpoint: str = setting("", "the local AWS emulator, on loopback (e.g. http://127.0.0.1:4566)")
    checkpoint_interval_ms: int = setting(5_000, "checkpoint interval")
    checkpoint_dir: str = setting(
        "", "file:// URL of checkpoints; default <system temp>/iot-anomaly-checkpoints")
    jars: str = setting(
        "", ";-separated file:// URLs of the connector jar; default: the run options' jarfile")
    plugins_dir: str = setting("", "Flink plugins folder (the S3 filesystem) for the minicluster")
    parallelism: int = setting(1, "minicluster parallelism")
    restart_attempts: int = setting(2, "restarts before a local job fails for good")
    restart_delay_ms: int = setting(2_000, "delay between restarts")
    restore: str = setting("", "resume from: empty (fresh start), latest (newest retained checkpoint under "
                               "checkpoint_dir), or a checkpoint/savepoint path or file:// URL")
    rest_port: int = setting(0, "port of the minicluster's REST API and web UI on 127.0.0.1; 0: a free one")

    def validate(self, group: str) -> None:
        if self.aws_endpoint and not self.aws_endpoint.startswith("http://127."):
            raise ConfigError(group, "aws_endpoint", "local endpoints must be on loopback (http://127.x.x.x:port)")
        if self.restart_attempts < 0:
            raise ConfigError(group, "restart_attempts", "must be >= 0")
        if not 0 <= self.rest_port <= 65535:
            raise ConfigError(group, "rest_port", "must be a TCP port (0: any free one)")


@dataclass(frozen=True)
class RunOptions:
    """How MSF starts the job (paths inside the zip); read by MSF itself, and by local runs of the zip."""

    python: str = setting("", "the entry script, e.g. main.py")
    jarfile: str = setting("", "the one jar, e.g. lib/pyflink-dependencies.jar")
    py_files: str = setting("", "comma-separated folders/files added to the Python path, e.g. python_deps/",
                            key="pyFiles")
    py_archives: str = setting("", "comma-separated archives (archive.zip#target) extracted for the workers",
                               key="pyArchives")

    def validate(self, group: str) -> None:
        for key, value, suffix in (("python", self.python, ".py"), ("jarfile", self.jarfile, ".jar")):
            if value and not value.endswith(suffix):
                raise ConfigError(group, key, f"expected a path ending in {suffix}, got {value!r}")
        for key, value in (("python", self.python), ("jarfile", self.jarfile), *self.listed()):
            if value.startswith("/") or ".." in Path(value).parts:
                raise ConfigError(group, key, f"must be a path inside the zip (relative, no '..'): {value!r}")

    def listed(self) -> list[tuple[str, str]]:
        return [("pyFiles", v) for v in _split(self.py_files)] + [
            ("pyArchives", v.split("#", 1)[0]) for v in _split(self.py_archives)
        ]

    def jar_path(self, app_root: Path) -> Path | None:
        return app_root / self.jarfile if self.jarfile else None

    def py_file_paths(self, app_root: Path) -> list[Path]:
        return [app_root / v for v in _split(self.py_files)]

    def py_archive_specs(self, app_root: Path) -> list[str]:
        """``pyArchives`` as ``python.archives`` entries: absolute path, ``#target`` kept."""
        out = []
        for v in _split(self.py_archives):
            path, sep, target = v.partition("#")
            out.append(f"{app_root / path}{sep}{target}")
        return out


@dataclass(frozen=True)
class Group:
    """One property group: its dataclass, and for groups whose keys are patterns, those patterns."""

    name: str
    doc: str
    config: type
    patterns: tuple[tuple[str, str], ...] = ()  # (key pattern, description): keys the group's loader parses

    def keys(self) -> list[Key]:
        return keys_of(self.config)


GROUPS: dict[str, Group] = {g.name: g for g in (
    Group(RUN_OPTIONS_GROUP, RunOptions.__doc__, RunOptions),
    Group("source", SourceConfig.__doc__, SourceConfig),
    Group("sinks", SinkConfig.__doc__, SinkConfig),
    Group("pipeline", PipelineConfig.__doc__, PipelineConfig),
    Group("detection", "Detectors, alert policy and commissioning (docs/detection.md).", DetectionConfig),
    Group("thresholds", "Static levels per sensor, and per device.", ThresholdConfig, patterns=(
        ("<sensor>.<level>", "level of a sensor (any measurement name) on every device; level: "
                             "warning_low, critical_low, warning_high, critical_high; the value 'none' "
                             "removes a default level"),
        ("device.<device_id>.<sensor>.<level>", "the same for one device (overrides level by level)"),
    )),
    Group("baseline", "Per-device baseline control.", BaselineConfig, patterns=(
        ("relearn.<device_id>", "ISO-8601 time or epoch ms: that device's readings from then on commission "
                                "a fresh baseline, once (after maintenance)"),
        ("class.<glob>.readings", "commissioning length in readings of the devices matching the glob"),
        ("class.<glob>.ms", "commissioning length in event time of the devices matching the glob"),
    )),
    Group("local", LocalConfig.__doc__, LocalConfig),
)}


def properties(group: str, values: Mapping[str, Any]) -> dict[str, str]:
    """A property map for ``group`` with every key checked against the schema (values as strings, not
    checked: infra passes CloudFormation tokens); for whoever writes runtime properties."""
    spec = GROUPS.get(group)
    if spec is None:
        raise unknown_key("<groups>", group, GROUPS)
    if spec.patterns:  # keys are patterns: the group's own loader checks them
        spec.config.from_properties({k: str(v) for k, v in values.items() if _is_literal(v)}, group)
        return {k: str(v) for k, v in values.items()}
    return check_keys(spec.config, values, group)


def property_groups(groups: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """:func:`properties` for every group of a runtime-properties document."""
    return {name: properties(name, values) for name, values in groups.items()}


def document(groups: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The runtime-properties document MSF takes (``[{PropertyGroupId, PropertyMap}]``), every key
    checked: the one way local runs, benchmarks and tests write properties."""
    checked = property_groups(groups)
    return [{"PropertyGroupId": name, "PropertyMap": values} for name, values in checked.items()]


def _is_literal(value: Any) -> bool:
    return not (isinstance(value, str) and "${Token[" in value)


def reference_markdown() -> str:
    """docs/configuration.md: every group and key, generated from this module."""
    out = [
        "# Configuration reference",
        "",
        "Generated from `flink_job/core/schema.py` by `python -m flink_job.core.schema --write`; do not edit "
        "(a test fails when this file is stale).",
        "",
        "The job reads its runtime properties once, at start-up: on MSF from the application's property "
        "groups (`/etc/flink/application_properties.json`), elsewhere from `--properties PATH` or "
        "`IOT_APP_PROPERTIES`. Every value is a string; an unknown group or key, or a bad value, stops "
        "start-up with `property group '<group>', key '<key>': <what is wrong>` (an unknown key names "
        "the nearest known one).",
        "",
    ]
    for group in GROUPS.values():
        out += [f"## `{group.name}`", "", " ".join(group.doc.split()), ""]
        keys = group.keys()
        if keys:
            out += ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
            for k in keys:
                default = f"`{k.default_text()}`" if k.default_text() else "(empty)"
                allowed = ", ".join(f"`{a}`" for a in k.allowed)
                out.append(f"| `{k.name}` | {type_name(k.type)} | {default} | {allowed} | {k.doc} |")
            out.append("")
        if group.patterns:
            out += ["| key pattern | description |", "|---|---|"]
            out += [f"| `{p}` | {d} |" for p, d in group.patterns]
            out.append("")
    return "\n".join(out)


DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flink_job.core.schema",
        description="Print (or --write) docs/configuration.md, the runtime-properties reference.",
    )
    parser.add_argument("--write", action="store_true", help=f"write {DOC_PATH} instead of printing it")
    args = parser.parse_args(argv)
    text = reference_markdown()
    if args.write:
        DOC_PATH.write_text(text)
        print(f"wrote {DOC_PATH}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
