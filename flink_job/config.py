"""Typed job configuration, loaded once at start-up from the MSF runtime-properties JSON.

On MSF the file is ``/etc/flink/application_properties.json``; elsewhere pass a path (or set
``IOT_APP_PROPERTIES``). The file is a list of ``{"PropertyGroupId": ..., "PropertyMap": {...}}``.
Every value arrives as a string; each group maps onto one dataclass, and a bad or unknown key
fails start-up with an error naming the group and key.

The group ``kinesis.analytics.flink.run.options`` (python, jarfile, pyFiles, pyArchives) is read by
MSF itself to start the job. Locally the job reads it too, with paths relative to the entry
script's folder (``app_root``), so an unzipped deployment zip runs exactly as on MSF: its one jar
becomes ``pipeline.jars`` (unless ``local.jars`` is set) and its ``pyFiles`` join the Python path.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from flink_job.core.detection.config import BaselineConfig, DetectionConfig, ThresholdConfig
from flink_job.core.errors import ConfigError

MSF_PROPERTIES_PATH = Path("/etc/flink/application_properties.json")
PROPERTIES_ENV = "IOT_APP_PROPERTIES"
# Set only on developer machines and in CI: nothing else tells PyFlink it runs outside MSF.
LOCAL_ENV = "IOT_ANOMALY_LOCAL"
RUN_OPTIONS_GROUP = "kinesis.analytics.flink.run.options"

T = TypeVar("T")


@dataclass(frozen=True)
class SourceConfig:
    """Group ``source``: where readings come from."""

    kind: str = "kinesis"  # kinesis | file (replays a recorded simulation)
    stream_arn: str = ""
    aws_region: str = "eu-central-1"
    init_position: str = "LATEST"  # LATEST | TRIM_HORIZON
    file_path: str = ""  # kind=file: a JSON-lines file or folder
    max_records_per_get: int = 10_000
    shard_discovery_interval_ms: int = 10_000
    # a shard serves 5 GetRecords/s to all its consumers together: 250 ms (4/s) leaves one to Firehose
    min_get_records_interval_ms: int = 250

    _keys = {"stream.arn": "stream_arn", "aws.region": "aws_region", "source.init.position": "init_position"}

    def validate(self, group: str) -> None:
        _one_of(group, "kind", self.kind, ("kinesis", "file"))
        _one_of(group, "source.init.position", self.init_position, ("LATEST", "TRIM_HORIZON"))
        if self.kind == "kinesis" and not self.stream_arn.startswith("arn:"):
            raise ConfigError(
                group, "stream.arn", f"a Kinesis stream ARN is required, got {self.stream_arn!r}"
            )
        if self.kind == "file" and not self.file_path:
            raise ConfigError(group, "file_path", "required when kind = file")
        if self.min_get_records_interval_ms < 0:
            raise ConfigError(group, "min_get_records_interval_ms", "must be >= 0")


@dataclass(frozen=True)
class SinkConfig:
    """Group ``sinks``: the archive, the time-series store and the alert topic."""

    archive_path: str = ""  # s3://bucket/prefix/ (or file:///... locally); empty disables the archive
    # timestream (LiveAnalytics, closed to new AWS customers) | influxdb (Timestream for InfluxDB) | none
    timeseries_store: str = "timestream"
    timestream_database: str = ""
    readings_table: str = "readings"
    anomalies_table: str = "anomalies"
    timestream_mode: str = "aggregates"  # aggregates | readings
    timestream_memory_retention_hours: int = 24
    alerts_topic_arn: str = ""  # empty: alerts are archived but not published
    influxdb_endpoint: str = ""  # https://<instance endpoint>:8086
    influxdb_organization: str = ""
    influxdb_bucket: str = ""
    influxdb_auth_secret_arn: str = ""  # the instance's auth secret: token, or username/password
    metrics_namespace: str = ""  # CloudWatch namespace for alert counts by severity; empty: off
    aws_region: str = "eu-central-1"
    flush_interval_ms: int = 1_000

    _keys = {
        "cloudwatch.namespace": "metrics_namespace",
        "influxdb.endpoint": "influxdb_endpoint",
        "influxdb.organization": "influxdb_organization",
        "influxdb.bucket": "influxdb_bucket",
        "influxdb.auth_secret_arn": "influxdb_auth_secret_arn",
        "s3.archive_path": "archive_path",
        "timeseries.store": "timeseries_store",
        "timestream.database": "timestream_database",
        "timestream.readings_table": "readings_table",
        "timestream.anomalies_table": "anomalies_table",
        "timestream.mode": "timestream_mode",
        "timestream.memory_retention_hours": "timestream_memory_retention_hours",
        "sns.alerts_topic_arn": "alerts_topic_arn",
        "aws.region": "aws_region",
    }

    def validate(self, group: str) -> None:
        _one_of(group, "timeseries.store", self.timeseries_store, ("timestream", "influxdb", "none"))
        if self.timeseries_store == "influxdb":
            if not self.influxdb_endpoint.startswith(("https://", "http://")):
                raise ConfigError(
                    group, "influxdb.endpoint", f"an http(s) URL is required, got {self.influxdb_endpoint!r}"
                )
            for key in ("organization", "bucket"):
                if not getattr(self, f"influxdb_{key}"):
                    raise ConfigError(group, f"influxdb.{key}", "required when timeseries.store = influxdb")
            if not self.influxdb_auth_secret_arn.startswith("arn:"):
                raise ConfigError(
                    group, "influxdb.auth_secret_arn", "the instance's auth secret ARN is required"
                )
        _one_of(group, "timestream.mode", self.timestream_mode, ("aggregates", "readings"))
        if self.timeseries_store == "timestream" and not self.timestream_database:
            raise ConfigError(group, "timestream.database", "required when timeseries.store = timestream")
        if self.archive_path and not self.archive_path.startswith(("s3://", "file://")):
            raise ConfigError(
                group, "s3.archive_path", f"must start with s3:// or file://: {self.archive_path!r}"
            )
        if self.alerts_topic_arn and not self.alerts_topic_arn.startswith("arn:"):
            raise ConfigError(group, "sns.alerts_topic_arn", f"not an ARN: {self.alerts_topic_arn!r}")


@dataclass(frozen=True)
class PipelineConfig:
    """Group ``pipeline``: event time and windows."""

    # Micro-batch per device handed to the Python detectors: longer batches amortise PyFlink's
    # per-element cost (bench: 13k events/s at 2 s, 17k at 5 s) at the price of alert latency.
    batch_window_ms: int = 5_000
    aggregate_window_s: int = 60  # per-series statistics written to the time-series store
    watermark_delay_ms: int = 5_000  # bounded out-of-orderness
    idle_timeout_ms: int = 30_000  # a shard with no data stops holding the watermark back
    max_future_ms: int = 300_000  # readings further ahead of the wall clock are dead letters
    state_ttl_hours: int = 168  # detector state of a series not seen for this long is dropped
    python_bundle_size: int = 100_000
    python_bundle_time_ms: int = 1_000
    parallelism: int = 0  # 0: the cluster's default

    def validate(self, group: str) -> None:
        for name in ("batch_window_ms", "aggregate_window_s", "watermark_delay_ms", "python_bundle_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(group, name, "must be > 0")
        if (self.aggregate_window_s * 1000) % self.batch_window_ms:
            raise ConfigError(group, "batch_window_ms", "must divide aggregate_window_s * 1000")


@dataclass(frozen=True)
class LocalConfig:
    """Group ``local``: only honoured off MSF (MSF owns checkpointing, jars and JVM options)."""

    aws_endpoint: str = ""  # e.g. http://127.0.0.1:4566 for the moto server
    checkpoint_interval_ms: int = 5_000
    checkpoint_dir: str = ""  # file:// URL; default: <system temp>/iot-anomaly-checkpoints
    jars: str = ""  # ;-separated file:// URLs
    plugins_dir: str = ""  # Flink plugins (the S3 filesystem) for the minicluster
    parallelism: int = 1
    # Restarts before a local job fails for good (MSF owns its own restart strategy).
    restart_attempts: int = 2
    restart_delay_ms: int = 2_000
    # Resume from a retained checkpoint or savepoint: "" (fresh start), "latest" (the newest
    # completed checkpoint under checkpoint_dir) or a checkpoint/savepoint path or file:// URL.
    restore: str = ""
    # The minicluster's REST API and web UI on 127.0.0.1 (0: a free port).
    rest_port: int = 0

    def validate(self, group: str) -> None:
        if self.aws_endpoint and not self.aws_endpoint.startswith("http://127."):
            raise ConfigError(
                group, "aws_endpoint", "local endpoints must be on loopback (http://127.x.x.x:port)"
            )
        if self.restart_attempts < 0:
            raise ConfigError(group, "restart_attempts", "must be >= 0")
        if not 0 <= self.rest_port <= 65535:
            raise ConfigError(group, "rest_port", "must be a TCP port (0: any free one)")


@dataclass(frozen=True)
class RunOptions:
    """Group ``kinesis.analytics.flink.run.options``: how MSF starts the job (paths inside the zip)."""

    python: str = ""  # the entry script, e.g. main.py
    jarfile: str = ""  # the ONE jar, e.g. lib/pyflink-dependencies.jar
    py_files: str = ""  # comma-separated folders/files added to the Python path, e.g. python_deps/
    py_archives: str = ""  # comma-separated archives (archive.zip#target), extracted for the workers

    _keys = {"pyFiles": "py_files", "pyArchives": "py_archives"}

    def validate(self, group: str) -> None:
        for key, value, suffix in (("python", self.python, ".py"), ("jarfile", self.jarfile, ".jar")):
            if value and not value.endswith(suffix):
                raise ConfigError(group, key, f"expected a path ending in {suffix}, got {value!r}")
        for key, value in (("python", self.python), ("jarfile", self.jarfile), *self._listed()):
            if value.startswith("/") or ".." in Path(value).parts:
                raise ConfigError(group, key, f"must be a path inside the zip (relative, no '..'): {value!r}")

    def _listed(self) -> list[tuple[str, str]]:
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
class AppConfig:
    source: SourceConfig = field(default_factory=SourceConfig)
    sinks: SinkConfig = field(default_factory=SinkConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    thresholds: ThresholdConfig = field(default_factory=ThresholdConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    local: LocalConfig | None = None
    run_options: RunOptions = field(default_factory=RunOptions)
    # The entry script's folder (the unzipped zip); run-options paths are relative to it.
    app_root: Path | None = None

    @property
    def is_local(self) -> bool:
        return self.local is not None

    @property
    def runs_from_zip(self) -> bool:
        """A local run of the unzipped zip: no ``local.jars``, the run options say where things are."""
        return self.local is not None and not self.local.jars and self.app_root is not None

    def pipeline_jars(self) -> str:
        """``pipeline.jars`` for a local run: ``local.jars``, else the run options' jarfile."""
        if self.local is None:
            return ""
        if self.local.jars:
            return self.local.jars
        jar = self.run_options.jar_path(self.app_root) if self.app_root else None
        return jar.resolve().as_uri() if jar else ""

    def local_python_path(self) -> list[Path]:
        """The run options' pyFiles, for a local run of the unzipped zip (MSF adds them itself)."""
        return self.run_options.py_file_paths(self.app_root) if self.runs_from_zip else []


_GROUPS: dict[str, type] = {"source": SourceConfig, "sinks": SinkConfig, "pipeline": PipelineConfig}
_KNOWN_GROUPS = {*_GROUPS, "detection", "thresholds", "baseline", "local", RUN_OPTIONS_GROUP}
# Groups an older deployment may still carry, and why they went.
_REMOVED_GROUPS = {
    "secrets": "removed: the API-credentials secret had no consumer; the one secret the job reads is "
    "the InfluxDB token (sinks, influxdb.auth_secret_arn), rotated by the infrastructure",
}


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _one_of(group: str, key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(group, key, f"{value!r} is not one of {', '.join(allowed)}")


def _coerce(group: str, key: str, raw: str, typ: Any) -> Any:
    if typ is bool:
        low = raw.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ConfigError(group, key, f"expected true or false, got {raw!r}")
    if typ in (int, float):
        try:
            return typ(raw)
        except ValueError:
            raise ConfigError(group, key, f"expected {typ.__name__}, got {raw!r}") from None
    return raw


def load_group(cls: type[T], props: Mapping[str, str], group: str) -> T:
    """Build dataclass ``cls`` from one property map; keys may use the class's dotted aliases."""
    aliases: dict[str, str] = dict(getattr(cls, "_keys", {}))
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, raw in props.items():
        name = aliases.get(key, key.replace(".", "_"))
        if name not in fields:
            known = sorted({*aliases, *(f for f in fields if f not in aliases.values())})
            raise ConfigError(group, key, f"unknown key; known keys: {', '.join(known)}")
        kwargs[name] = _coerce(group, key, str(raw), hints[name])
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate:
        validate(group)
    return obj


def read_property_groups(path: Path) -> dict[str, dict[str, str]]:
    """The runtime-properties JSON as {group id: property map}."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError("<file>", str(path), "runtime properties file not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError("<file>", str(path), f"not valid JSON: {exc}") from None
    if not isinstance(doc, list):
        raise ConfigError("<file>", str(path), "expected a JSON list of {PropertyGroupId, PropertyMap}")
    groups: dict[str, dict[str, str]] = {}
    for i, entry in enumerate(doc):
        if not isinstance(entry, dict) or "PropertyGroupId" not in entry:
            raise ConfigError(f"<entry {i}>", "PropertyGroupId", "missing")
        gid = entry["PropertyGroupId"]
        pmap = entry.get("PropertyMap", {})
        if not isinstance(pmap, dict):
            raise ConfigError(gid, "PropertyMap", "must be an object of string values")
        groups[gid] = {str(k): str(v) for k, v in pmap.items()}
    return groups


def properties_path(explicit: str | os.PathLike | None = None) -> Path:
    """Explicit path, else $IOT_APP_PROPERTIES, else MSF's fixed location."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(PROPERTIES_ENV)
    return Path(env) if env else MSF_PROPERTIES_PATH


def is_local_run() -> bool:
    return os.environ.get(LOCAL_ENV, "").lower() in ("1", "true", "yes")


def _check_zip_layout(run: RunOptions, app_root: Path | None) -> None:
    """A local run of the unzipped zip: the run options must point at real files, as MSF needs them."""
    if not run.jarfile:
        raise ConfigError(
            RUN_OPTIONS_GROUP,
            "jarfile",
            "a local run needs the connector jar: set it here (relative to the entry script's folder, "
            "as on MSF) or set local.jars",
        )
    if app_root is None:
        raise ConfigError(
            RUN_OPTIONS_GROUP, "jarfile", "the entry script's folder is unknown; set local.jars instead"
        )
    for key, value in (("python", run.python), ("jarfile", run.jarfile), *run._listed()):
        if value and not (app_root / value).exists():
            raise ConfigError(RUN_OPTIONS_GROUP, key, f"{value!r} not found in {app_root}")


def from_groups(
    groups: Mapping[str, Mapping[str, str]],
    local: bool | None = None,
    app_root: str | os.PathLike | None = None,
) -> AppConfig:
    """Validate every group once and build the AppConfig.

    ``app_root``: the entry script's folder; run-options paths are checked against it locally.
    """
    removed = sorted(set(groups) & set(_REMOVED_GROUPS))
    if removed:
        raise ConfigError(removed[0], "PropertyGroupId", _REMOVED_GROUPS[removed[0]])
    unknown = sorted(set(groups) - _KNOWN_GROUPS)
    if unknown:
        raise ConfigError(
            unknown[0], "PropertyGroupId", f"unknown group; known: {', '.join(sorted(_KNOWN_GROUPS))}"
        )
    local = is_local_run() if local is None else local
    parts: dict[str, Any] = {
        name: load_group(cls, groups.get(name, {}), name) for name, cls in _GROUPS.items()
    }
    parts["detection"] = DetectionConfig.from_properties(groups.get("detection", {}), "detection")
    parts["thresholds"] = ThresholdConfig.from_properties(groups.get("thresholds", {}), "thresholds")
    parts["baseline"] = BaselineConfig.from_properties(groups.get("baseline", {}), "baseline")
    root = Path(app_root).resolve() if app_root else None
    parts["app_root"] = root
    run = parts["run_options"] = load_group(RunOptions, groups.get(RUN_OPTIONS_GROUP, {}), RUN_OPTIONS_GROUP)
    if local:
        loc = parts["local"] = load_group(LocalConfig, groups.get("local", {}), "local")
        if not loc.jars:
            # No developer jar: run as MSF would, from the run options (the unzipped zip).
            _check_zip_layout(run, root)
    elif "local" in groups:
        # Harmless on MSF, but say so: a reader may expect these to apply.
        print("note: property group 'local' is ignored outside local runs")
    return AppConfig(**parts)


def load_config(
    path: str | os.PathLike | None = None,
    local: bool | None = None,
    app_root: str | os.PathLike | None = None,
) -> AppConfig:
    """Read and validate the runtime properties (see module docstring)."""
    return from_groups(read_property_groups(properties_path(path)), local, app_root)


__all__ = [
    "AppConfig",
    "LocalConfig",
    "PipelineConfig",
    "RunOptions",
    "SinkConfig",
    "SourceConfig",
    "from_groups",
    "load_config",
    "load_group",
    "read_property_groups",
]
