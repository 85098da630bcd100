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

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from flink_job.core.detection.config import BaselineConfig, DetectionConfig, ThresholdConfig
from flink_job.core.errors import ConfigError
from flink_job.core.records import is_sensor_name
from flink_job.core.schema import (
    GROUPS,
    RUN_OPTIONS_GROUP,
    LocalConfig,
    PipelineConfig,
    RunOptions,
    SinkConfig,
    SourceConfig,
)
from flink_job.core.settings import load, nearest

MSF_PROPERTIES_PATH = Path("/etc/flink/application_properties.json")
PROPERTIES_ENV = "IOT_APP_PROPERTIES"
# Set only on developer machines and in CI: nothing else tells PyFlink it runs outside MSF.
LOCAL_ENV = "IOT_ANOMALY_LOCAL"

T = TypeVar("T")


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
_KNOWN_GROUPS = set(GROUPS)
# Groups an older deployment may still carry, and why they went.
_REMOVED_GROUPS = {
    "secrets": "removed: the API-credentials secret had no consumer; the one secret the job reads is "
    "the InfluxDB token (sinks, influxdb.auth_secret_arn), rotated by the infrastructure",
}


def load_group(cls: type[T], props: Mapping[str, str], group: str) -> T:
    """Build group dataclass ``cls`` from one property map (keys, types and checks from the schema)."""
    return load(cls, props, group)


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
    for key, value in (("python", run.python), ("jarfile", run.jarfile), *run.listed()):
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
        near = nearest(unknown[0], _KNOWN_GROUPS)
        hint = f"; did you mean '{near}'?" if near else ""
        raise ConfigError(
            unknown[0], "PropertyGroupId", f"unknown group{hint} (known: {', '.join(sorted(_KNOWN_GROUPS))})"
        )
    local = is_local_run() if local is None else local
    parts: dict[str, Any] = {
        name: load_group(cls, groups.get(name, {}), name) for name, cls in _GROUPS.items()
    }
    parts["detection"] = DetectionConfig.from_properties(groups.get("detection", {}), "detection")
    parts["thresholds"] = ThresholdConfig.from_properties(groups.get("thresholds", {}), "thresholds",
                                                          is_sensor_name)
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
