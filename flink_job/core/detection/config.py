"""Detection and threshold configuration: one global configuration, validated, built from the MSF
runtime-properties string map.  Unknown keys and bad values raise ConfigError(group, key, message)."""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import importlib.util
import inspect
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flink_job.core.detection.base import MIN_POINTS, Detector
from flink_job.core.detection.ewma import EWMADetector
from flink_job.core.detection.flatline import FlatlineDetector
from flink_job.core.detection.mad import MADDetector
from flink_job.core.detection.rate_of_change import RateOfChangeDetector
from flink_job.core.detection.seasonal import SeasonalDetector
from flink_job.core.detection.thresholds import LEVEL_NAMES, Levels
from flink_job.core.detection.zscore import ZScoreDetector
from flink_job.core.errors import ConfigError
from flink_job.core.settings import parse_group, setting

DETECTOR_CLASSES: dict[str, type[Detector]] = {cls.name: cls for cls in (
    ZScoreDetector, EWMADetector, MADDetector, RateOfChangeDetector, FlatlineDetector, SeasonalDetector)}
DETECTOR_NAMES = tuple(DETECTOR_CLASSES)
NOVELTY_SCOPES = ("detector", "series")
SHARED_PARAMS = ("min_points",)  # one key for every detector that has the parameter


@functools.lru_cache(maxsize=64)  # not functools.cache (3.9+): the core runs on 3.8 (Zeppelin)
def detector_keys(cls: type[Detector]) -> tuple[tuple[str, inspect.Parameter], ...]:
    """(key in the detection group, constructor parameter) of one detector's own parameters.

    Cached: every restored series builds its detectors, and ``inspect.signature`` was 80% of a restore.
    """
    return tuple((f"{cls.name}_{p.name.rstrip('_')}", p) for p in constructor_params(cls)
                  if p.name not in SHARED_PARAMS)


@functools.lru_cache(maxsize=64)
def _shared_params(cls: type[Detector]) -> tuple[str, ...]:
    accepted = {p.name for p in constructor_params(cls)}
    return tuple(k for k in SHARED_PARAMS if k in accepted)


@functools.lru_cache(maxsize=64)
def constructor_params(cls: type) -> tuple[inspect.Parameter, ...]:
    """The parameters of ``cls.__init__`` after ``self``.

    A class compiled by mypyc (``localdev.native``) shows only ``(*args, **kwargs)``; its parameters
    are read from the same class in the module's source file beside the compiled one (executed apart,
    under a private name), which is the source the build compiled.
    """
    init = cls.__init__
    if not inspect.isfunction(init):
        module = sys.modules[cls.__module__]
        compiled = Path(str(module.__file__))
        source = compiled.with_name(compiled.name.split(".", 1)[0] + ".py")
        spec = importlib.util.spec_from_file_location(f"_source_of_{cls.__module__}", source)
        if spec is None or spec.loader is None:
            raise TypeError(f"cannot read the constructor of {cls.__name__} from {source}")
        pure = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(pure)
        init = getattr(pure, cls.__name__).__init__
    return tuple(inspect.signature(init).parameters.values())[1:]


@dataclass(frozen=True)
class _Detection:
    """Every detector and alert-policy parameter (group ``detection``).  Counts are in readings.

    The detectors' own parameters (``<detector>_<param>``) come from their constructors (see
    ``detector_keys``); the defaults are the single configuration scored on NAB (docs/detection.md).
    """

    detectors: tuple = setting(
        ("zscore", "ewma", "roc", "flatline", "seasonal"),
        "windowed detectors that run (mad is available, off by default: on NAB it costs 5-10 points)",
        allowed=tuple(DETECTOR_CLASSES))
    min_points: int = setting(
        MIN_POINTS, "warm-up: a detector scores 0 until it has learnt this many readings")
    alert_threshold: float = setting(
        0.6, "score that starts an episode (0.6, not 0.5, keeps |z| ~ 4 noise of Gaussian sensors out of "
        "SNS)")
    recovery_threshold: float = setting(0.3, "an episode ends after recovery_readings scores below this")
    recovery_readings: int = setting(10, "see recovery_threshold")
    debounce_readings: int = setting(1, "consecutive readings >= alert_threshold needed to start an episode")
    cooldown_readings: int = setting(100, "readings after an alert during which a new onset does not alert")
    cooldown_ms: int = setting(0, "the same in event time")
    novelty_decay: float = setting(
        0.99995, "novelty gate: a statistical score counts in full only when it beats the series' recent "
        "peak, which decays by this factor per reading (0: no gate)")
    novelty_scope: str = setting(
        "detector", "detector: a gate per detector (a routine burst seen by one does not mute another's "
        "first finding); series: one gate on the max score (state v2)", allowed=NOVELTY_SCOPES)
    critical_score: float = setting(0.8, "statistical score at or above which severity is critical")
    warning_score: float = setting(0.75, "score of a static warning breach (a critical breach scores 1.0)")
    silence_timeout_ms: int = setting(60_000, "a device with no reading for this long (event time) is silent")
    baseline_readings: int = setting(
        100, "commissioning: a new series or device learns its baseline from this many readings and raises "
        "no statistical alert meanwhile")
    baseline_ms: int = setting(0, "... and, if > 0, from at least this much event time")
    protect_baseline: bool = setting(
        True, "after commissioning, learn only readings judged normal (no open episode, score below "
        "alert_threshold)")
    learn_first_outlier: bool = setting(
        True, "... except the first abnormal reading after a normal one (series with routine isolated spikes "
        "learn their true spread)")
    episode_relearn_ms: int = setting(
        0, "a statistical episode longer than this (event time) becomes the new normal: the series "
        "commissions afresh; 0: never")
    episode_adapt_ms: int = setting(
        172_800_000, "a statistical episode longer than this is a lasting change: the detectors resume "
        "learning and the episode ends once it is learnt; 0: never")
    multivariate: bool = setting(
        True, "per-device multivariate model (Hotelling T2 over the device's sensors)")
    multivariate_alpha: float = setting(
        0.0001, "its forgetting per normal reading (memory ~ 1/alpha readings)")
    multivariate_limit_z: float = setting(3.09, "its control limit, a normal quantile (3.09: 99.9%)")
    multivariate_debounce: int = setting(3, "consecutive readings over the limit that open its episode")

    def __post_init__(self) -> None:
        for key, message in self.problems():
            raise ConfigError("detection", key, message)

    def problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for name in self.detectors:
            if name not in DETECTOR_NAMES:
                out.append(("detectors", f"unknown detector '{name}' (known: {', '.join(DETECTOR_NAMES)})"))
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                out.append((f.name, f"must be finite, got {v}"))
            elif isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
                out.append((f.name, f"must be >= 0, got {v}"))
        for key in ("zscore_window", "mad_window", "roc_window"):
            if getattr(self, key) < 3:
                out.append((key, "must be >= 3"))
        for key in ("zscore_z50", "ewma_z50", "mad_z50", "roc_z50", "seasonal_z50", "flatline_factor"):
            if getattr(self, key) <= 0:
                out.append((key, "must be > 0"))
        for key in ("ewma_lambda", "ewma_baseline_alpha", "seasonal_alpha"):
            if not 0.0 < getattr(self, key) <= 1.0:
                out.append((key, "must be in (0, 1]"))
        if not 0.0 <= self.novelty_decay < 1.0:
            out.append(("novelty_decay", "must be in [0, 1)"))
        if not 0.0 < self.alert_threshold <= 1.0:
            out.append(("alert_threshold", "must be in (0, 1]"))
        if not 0.0 <= self.recovery_threshold <= self.alert_threshold:
            out.append(("recovery_threshold", "must be in [0, alert_threshold]"))
        if not self.alert_threshold <= self.warning_score <= 1.0:
            out.append(("warning_score", "must be in [alert_threshold, 1] so a warning breach alerts"))
        if not 0.0 < self.critical_score <= 1.0:
            out.append(("critical_score", "must be in (0, 1]"))
        if self.novelty_scope not in NOVELTY_SCOPES:
            out.append(("novelty_scope", f"must be one of {', '.join(NOVELTY_SCOPES)}, "
                                         f"got {self.novelty_scope!r}"))
        if not 1 <= self.seasonal_buckets <= 1440:
            out.append(("seasonal_buckets", "must be in [1, 1440]"))
        if self.seasonal_min_days < 2:
            out.append(("seasonal_min_days", "must be >= 2 (a spread needs two days)"))
        if self.flatline_min_run < 2:
            out.append(("flatline_min_run", "must be >= 2"))
        if not 0.0 < self.multivariate_alpha < 1.0:
            out.append(("multivariate_alpha", "must be in (0, 1)"))
        if self.baseline_readings < 2:
            out.append(("baseline_readings", "must be >= 2"))
        if self.silence_timeout_ms <= 0:
            out.append(("silence_timeout_ms", "must be > 0"))
        return out

    def build_detector(self, name: str) -> Detector:
        """Detector ``name`` with this configuration's parameters."""
        return DETECTOR_CLASSES[name](**self.params_for(name))

    def params_for(self, name: str) -> dict[str, Any]:
        """Constructor arguments of detector ``name`` (also for its ``from_state``)."""
        cls = DETECTOR_CLASSES[name]
        params = {p.name: getattr(self, key) for key, p in detector_keys(cls)}
        params.update({k: getattr(self, k) for k in _shared_params(cls)})
        return params

    @classmethod
    def from_properties(cls, props: Mapping[str, str], group: str = "detection") -> DetectionConfig:
        """Build from a runtime-property map (keys, types and allowed values from the declarations)."""
        kwargs = parse_group(cls, props, group)
        try:
            return cls(**kwargs)
        except ConfigError as e:
            raise ConfigError(group, e.key, str(e).split(": ", 1)[-1]) from None


def _detector_field(cls: type[Detector], key: str, p: inspect.Parameter) -> tuple[str, type, Any]:
    doc = cls.param_docs.get(p.name)
    if doc is None:  # a parameter nobody described is a programming error: fail at import
        raise TypeError(f"{cls.__name__}.param_docs lacks {p.name!r}")
    return key, type(p.default), setting(p.default, f"{cls.name}: {doc}")


# The detection group: the policy above plus every detector's own parameters, declared by the detector.
if TYPE_CHECKING:  # made at import, so a type checker (and mypyc, localdev.native) sees no fields
    DetectionConfig = Any
else:
    DetectionConfig = dataclasses.make_dataclass(
        "DetectionConfig",
        [_detector_field(cls, key, p) for cls in DETECTOR_CLASSES.values() for key, p in detector_keys(cls)],
        bases=(_Detection,),
        frozen=True,
    )
    DetectionConfig.__module__ = __name__  # pickled by reference (job graph, keyed state)
    DetectionConfig.__doc__ = _Detection.__doc__


DEFAULT_SENSOR_LEVELS: dict[str, dict[str, float]] = {
    "temperature": {"warning_high": 90.0, "critical_high": 100.0},  # deg C
    "pressure": {"warning_low": 3.0, "critical_low": 2.0, "warning_high": 8.0, "critical_high": 9.0},  # bar
    "vibration": {"warning_high": 7.1, "critical_high": 11.2},  # mm/s RMS, ISO 10816-like zones
}


def _freeze(levels: Mapping[str, Mapping[str, float | None]]) -> dict[str, dict[str, float | None]]:
    return {k: dict(v) for k, v in levels.items()}


@dataclass(frozen=True)
class ThresholdConfig:
    """Static levels per sensor type plus per-device overrides (level by level)."""

    sensors: dict[str, dict[str, float | None]] = field(
        default_factory=lambda: _freeze(DEFAULT_SENSOR_LEVELS))
    overrides: dict[tuple[str, str], dict[str, float | None]] = field(default_factory=dict)
    hysteresis_fraction: float = 0.02

    def for_series(self, device_id: str, sensor: str) -> Levels:
        """Resolved levels of one series; a sensor without configured levels gets none (stats only)."""
        merged = dict(self.sensors.get(sensor, {}))
        merged.update(self.overrides.get((device_id, sensor), {}))
        return Levels(hysteresis_fraction=self.hysteresis_fraction,
                      **{k: v for k, v in merged.items() if k in LEVEL_NAMES})

    def configured_sensors(self) -> list[str]:
        """The sensor names with a level for some device (sorted); any other sensor has none."""
        names = {s for s, lv in self.sensors.items() if any(v is not None for v in lv.values())}
        names.update(s for (_, s), lv in self.overrides.items() if any(v is not None for v in lv.values()))
        return sorted(names)

    def urgent_bounds(self, sensor: str) -> tuple[float, float]:
        """(low, high): the loosest bounds that no configured level of ``sensor`` lies inside, for any
        device (-inf, inf: none). A reading at or beyond one may breach a level, so it need not wait
        for a micro-batch to fill (the detectors still decide); a reading strictly inside breaches none.
        """
        levels = [self.sensors.get(sensor, {})]
        levels += [v for (_, s), v in self.overrides.items() if s == sensor]
        lows = [v for lv in levels for k, v in lv.items() if v is not None and k.endswith("_low")]
        highs = [v for lv in levels for k, v in lv.items() if v is not None and k.endswith("_high")]
        return max(lows, default=-math.inf), min(highs, default=math.inf)

    @classmethod
    def from_properties(cls, props: Mapping[str, str], group: str = "thresholds",
                        sensor_name: Callable[[str], bool] | None = None) -> ThresholdConfig:
        """Flat keys on top of the defaults: "<sensor>.<level>", "device.<id>.<sensor>.<level>",
        "hysteresis_fraction".  A value of "none" removes a default level.  ``sensor_name``, if
        given, says which sensor names can occur (the job: what a reading can report; score-csv
        takes any column name)."""
        sensors = _freeze(DEFAULT_SENSOR_LEVELS)
        overrides: dict[tuple[str, str], dict[str, float | None]] = {}
        hysteresis = 0.02
        origin: dict[tuple[str, str], str] = {}  # series -> a key that touched it, for error messages
        for key, raw in props.items():
            if key == "hysteresis_fraction":
                hysteresis = _parse_level(group, key, raw)
                if hysteresis is None or not 0.0 <= hysteresis < 1.0:
                    raise ConfigError(group, key, "must be a number in [0, 1)")
                continue
            parts = key.split(".")
            if parts[0] == "device" and len(parts) >= 4:
                device, sensor, level = ".".join(parts[1:-2]), parts[-2], parts[-1]
                target = overrides.setdefault((device, sensor), {})
                origin[(device, sensor)] = key
            elif len(parts) == 2:
                sensor, level = parts
                target = sensors.setdefault(sensor, {})
                origin[("", sensor)] = key
            else:
                raise ConfigError(group, key, "expected '<sensor>.<level>', 'device.<id>.<sensor>.<level>' "
                                              "or 'hysteresis_fraction'")
            if not sensor or level not in LEVEL_NAMES:
                raise ConfigError(group, key, f"unknown level '{level}' (known: {', '.join(LEVEL_NAMES)})")
            if sensor_name is not None and not sensor_name(sensor):
                raise ConfigError(group, key, f"no reading can report a sensor named '{sensor}' (a name is "
                                              "letters, digits and '_', starts with a letter, at most 64 "
                                              "long, not 'device')")
            target[level] = _parse_level(group, key, raw)
        cfg = cls(sensors=sensors, overrides=overrides, hysteresis_fraction=hysteresis)
        for (device, sensor), key in origin.items():
            for level, message in cfg.for_series(device, sensor).problems():
                raise ConfigError(group, key, f"{sensor}.{level}: {message}")
        return cfg


def _parse_level(group: str, key: str, raw: Any) -> float | None:
    text = str(raw).strip()
    if text.lower() in ("", "none", "null"):
        return None
    try:
        v = float(text)
    except ValueError:
        raise ConfigError(group, key, f"cannot parse {raw!r} as a number") from None
    if not math.isfinite(v):
        raise ConfigError(group, key, f"must be finite, got {raw!r}")
    return v


@dataclass(frozen=True)
class BaselineConfig:
    """Per-device baseline control (property group ``baseline``).

    - ``relearn.<device_id>`` = ISO-8601 time or epoch ms: the device's readings from that time on
      commission a fresh baseline, once (after maintenance).  Idempotent: a device whose current baseline
      started at or after that time is left alone, so the key can stay set across restarts.
    - ``class.<glob>.readings`` / ``class.<glob>.ms``: commissioning length for the devices whose id matches
      the glob (fnmatch); the most specific (longest) matching glob wins, others use the detection group's
      ``baseline_readings`` / ``baseline_ms``.
    """

    relearn: dict[str, int] = field(default_factory=dict)
    classes: tuple[tuple[str, int | None, int | None], ...] = ()  # (glob, readings, ms)

    def relearn_at(self, device_id: str) -> int | None:
        return self.relearn.get(device_id)

    def for_device(self, device_id: str, detection: DetectionConfig) -> DetectionConfig:
        """The detection config with this device's commissioning length."""
        for pattern, readings, ms in self.classes:
            if fnmatch.fnmatchcase(device_id, pattern):
                changes: dict[str, int] = {}
                if readings is not None:
                    changes["baseline_readings"] = readings
                if ms is not None:
                    changes["baseline_ms"] = ms
                return dataclasses.replace(detection, **changes)
        return detection

    @classmethod
    def from_properties(cls, props: Mapping[str, str], group: str = "baseline") -> BaselineConfig:
        relearn: dict[str, int] = {}
        classes: dict[str, list[int | None]] = {}
        for key, raw in props.items():
            head, _, rest = key.partition(".")
            if head == "relearn" and rest:
                relearn[rest] = _parse_time(group, key, raw)
                continue
            pattern, _, what = rest.rpartition(".")
            if head == "class" and pattern and what in ("readings", "ms"):
                try:
                    value = int(str(raw).strip().replace("_", ""))
                except ValueError:
                    raise ConfigError(group, key, f"cannot parse {raw!r} as int") from None
                if value < (2 if what == "readings" else 0):
                    raise ConfigError(group, key, f"must be >= {2 if what == 'readings' else 0}, got {value}")
                classes.setdefault(pattern, [None, None])[0 if what == "readings" else 1] = value
                continue
            raise ConfigError(group, key, "expected 'relearn.<device_id>', 'class.<glob>.readings' "
                                          "or 'class.<glob>.ms'")
        ordered = sorted(classes.items(), key=lambda kv: (-len(kv[0]), kv[0]))
        return cls(relearn=relearn, classes=tuple((p, r, m) for p, (r, m) in ordered))


def _parse_time(group: str, key: str, raw: Any) -> int:
    """Epoch milliseconds from an integer or ISO-8601 text (a zone is required)."""
    text = str(raw).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(group, key, f"cannot parse {raw!r} as a time (ISO-8601 or epoch ms)") from None
    if dt.tzinfo is None:
        raise ConfigError(group, key, f"{raw!r} has no time zone (add Z or +00:00)")
    return int(dt.timestamp() * 1000)
