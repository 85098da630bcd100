"""Detection and threshold configuration: one global configuration, validated, built from the MSF
runtime-properties string map.  Unknown keys and bad values raise ConfigError(group, key, message)."""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flink_job.core.detection.thresholds import LEVEL_NAMES, Levels
from flink_job.core.errors import ConfigError

DETECTOR_NAMES = ("zscore", "ewma", "mad", "roc", "flatline", "seasonal")
NOVELTY_SCOPES = ("detector", "series")


@dataclass(frozen=True)
class DetectionConfig:
    """Every detector and alert-policy parameter.  Window sizes and counts are in readings.

    The defaults are the single configuration scored on NAB (docs/detection.md).
    """

    # Windowed detectors that run, comma-separated in properties.  "mad" is available but off by default:
    # on NAB it costs about 5-10 points (it alarms on quantised and bursty series).
    detectors: tuple[str, ...] = ("zscore", "ewma", "roc", "flatline", "seasonal")
    min_points: int = 100  # warm-up: a detector scores 0 until it has learnt this many readings
    zscore_window: int = 4000
    zscore_z50: float = 4.0  # |z| at which the z-score detector scores 0.5
    ewma_lambda: float = 0.1  # weight of the newest reading in the EWMA chart statistic
    ewma_baseline_alpha: float = 0.002  # weight of the newest reading in the slow baseline mean/variance
    ewma_z50: float = 3.0  # chart-sigmas scoring 0.5 (per device raised with ln(sensors), device.py)
    mad_window: int = 500
    mad_z50: float = 8.0  # robust |z| at which the MAD detector scores 0.5
    roc_window: int = 500
    roc_z50: float = 8.0  # step z at which the rate-of-change detector scores 0.5
    flatline_min_run: int = 30  # a flat run shorter than this never scores
    flatline_factor: float = 2.0  # limit = max(min_run, factor * longest normal run)
    flatline_abs_tol: float = 0.0  # |x - prev| <= abs_tol + rel_tol*|prev| counts as "did not move"
    flatline_rel_tol: float = 0.0
    # Time-of-day baseline (seasonal.py): each hour's level is learnt across days; a reading is scored
    # against its hour once that hour has been seen on seasonal_min_days days.
    seasonal_buckets: int = 24  # buckets per (UTC) day: 24 = one per hour
    seasonal_alpha: float = 0.1  # weight of the newest day in a bucket's level (memory ~10 days)
    seasonal_z50: float = 4.0
    seasonal_min_days: int = 5
    # score that starts an episode; 0.6 (not 0.5) keeps |z| ~ 4 noise on Gaussian sensors out of SNS
    # (demo: 43 -> see docs/detection.md) at no NAB cost (standard 58.7 optimised either way)
    alert_threshold: float = 0.6
    recovery_threshold: float = 0.3  # episode ends after recovery_readings scores below this
    recovery_readings: int = 10
    debounce_readings: int = 1  # consecutive readings >= alert_threshold needed to start an episode
    cooldown_readings: int = 100  # readings after an alert during which a new onset does not alert
    cooldown_ms: int = 0  # and the same in event time
    # Novelty gate (alerting.NoveltyGate): a statistical score counts in full only when it beats the
    # series' own recent peak, which decays by this factor per reading (0 disables the gate).
    novelty_decay: float = 0.99995
    # "detector": each detector has its own gate, so a routine burst seen by one detector does not mute
    # another's first-ever finding; "series": one gate on the max score (the behaviour of state v2).
    novelty_scope: str = "detector"
    critical_score: float = 0.8  # statistical score at/above which severity is "critical"
    warning_score: float = 0.75  # score of a static warning breach (a critical breach scores 1.0)
    silence_timeout_ms: int = 60_000
    # Commissioning: a new series or device learns its baseline from its first baseline_readings
    # readings (and, if > 0, at least baseline_ms of event time) and raises no statistical alert meanwhile.
    baseline_readings: int = 100
    baseline_ms: int = 0
    # After commissioning, learn only readings judged normal (no open episode, score < alert_threshold).
    protect_baseline: bool = True
    # ... except the first abnormal reading after a normal one: series with routine isolated spikes learn
    # their true spread (one reading per episode, so a sustained fault teaches next to nothing)
    learn_first_outlier: bool = True
    # A statistical episode longer than this (event time) is taken as the new normal: the series
    # commissions a fresh baseline.  0: never (the episode lasts until a real recovery or a relearn).
    episode_relearn_ms: int = 0
    # A statistical episode longer than this (event time) is taken as a lasting change: the detectors
    # resume learning (nothing is forgotten) and the episode ends once the change is learnt.  Static
    # thresholds and the multivariate model are not affected.  0: never.
    episode_adapt_ms: int = 172_800_000
    # Per-device multivariate model (Hotelling T² over the device's sensors, multivariate.py)
    multivariate: bool = True
    multivariate_alpha: float = 0.0001  # forgetting per normal reading (memory ~ 1/alpha readings)
    multivariate_limit_z: float = 3.09  # control limit at this normal quantile (3.09: 99.9%)
    # consecutive readings over the limit that open a multivariate episode: a lone reading over a 99%
    # limit is 1 in 100 normal readings, three in a row are a fault
    multivariate_debounce: int = 3

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
        for key in ("zscore_z50", "ewma_z50", "mad_z50", "roc_z50", "flatline_factor"):
            if getattr(self, key) <= 0:
                out.append((key, "must be > 0"))
        if not 0.0 < self.ewma_lambda <= 1.0:
            out.append(("ewma_lambda", "must be in (0, 1]"))
        if not 0.0 < self.ewma_baseline_alpha <= 1.0:
            out.append(("ewma_baseline_alpha", "must be in (0, 1]"))
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
        if not 0.0 < self.seasonal_alpha <= 1.0:
            out.append(("seasonal_alpha", "must be in (0, 1]"))
        if self.seasonal_z50 <= 0:
            out.append(("seasonal_z50", "must be > 0"))
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

    @classmethod
    def from_properties(cls, props: Mapping[str, str], group: str = "detection") -> DetectionConfig:
        """Build from a runtime-property map; keys are the field names, values strings."""
        # field types from the defaults, not get_type_hints: the annotations (tuple[str, ...]) cannot
        # be evaluated on Python 3.8, where MSF Studio notebooks import this module
        hints = {f.name: type(f.default) for f in dataclasses.fields(cls)}
        known = set(hints)
        kwargs: dict[str, Any] = {}
        for key, raw in props.items():
            if key not in known:
                raise ConfigError(group, key, f"unknown key (known: {', '.join(sorted(known))})")
            kwargs[key] = _parse(group, key, raw, hints[key])
        try:
            return cls(**kwargs)
        except ConfigError as e:
            raise ConfigError(group, e.key, str(e).split(": ", 1)[-1]) from None


def _parse(group: str, key: str, raw: Any, typ: Any) -> Any:
    text = str(raw).strip()
    try:
        if typ is bool:
            low = text.lower()
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
            raise ValueError(text)
        if typ is int:
            return int(text.replace("_", ""))
        if typ is float:
            return float(text)
        if typ is tuple:
            return tuple(p.strip() for p in text.split(",") if p.strip())
        if typ is str:
            return text
    except ValueError:
        raise ConfigError(group, key, f"cannot parse {raw!r} as {getattr(typ, '__name__', typ)}") from None
    raise ConfigError(group, key, f"unsupported type {typ}")  # pragma: no cover - a programming error


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

    @classmethod
    def from_properties(cls, props: Mapping[str, str], group: str = "thresholds") -> ThresholdConfig:
        """Flat keys on top of the defaults: "<sensor>.<level>", "device.<id>.<sensor>.<level>",
        "hysteresis_fraction".  A value of "none" removes a default level."""
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
