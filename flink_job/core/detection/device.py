"""DeviceMonitor: everything for one device, and the DeviceVerdict it returns per reading.

A reading carries some or all of a device's sensors.  Each sensor goes through its own
`SeriesMonitor` (static thresholds, univariate detectors, its own episode); the whole vector goes through
the device's `MultivariateDetector` (Hotelling T², multivariate.py) with its own episode, reported under
the sensor name ``device``.  The combined verdict is the maximum score, anomalous while any episode is
open, alert when any part alerts, and names the sensors that contribute most.

One fault, one alert: a multivariate onset while a sensor episode of the same device is open (or starts
on the same reading) is not alerted again: that sensor's alert already said it.  Likewise a sensor's
statistical onset inside an open multivariate episode is flagged but not alerted (a drift is usually
seen jointly first).  Static threshold breaches always alert, and so does their escalation.

Many sensors, many chances: a device flagged when any of its d sensors alarms would raise d times the
false alarms of one sensor.  So each sensor's univariate limits are raised with d (Gaussian tails):
z50² -> z50² + 2·ln(d), unchanged for one sensor, x1.07 for our 3, x1.22 for TEP's 52.

The model learns only readings judged normal by every part (no open episode, scores below
``alert_threshold``), so a fault never becomes the baseline.  A relearn request (``baseline`` group:
``relearn.<device_id>``) commissions every part of the device afresh.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final, NamedTuple

from flink_job.core.detection.alerting import AlertPolicy
from flink_job.core.detection.config import BaselineConfig, DetectionConfig, ThresholdConfig
from flink_job.core.detection.monitor import SeriesMonitor, Verdict, make_verdict, new_tuple
from flink_job.core.detection.multivariate import MultivariateDetector
from flink_job.core.detection.stats import is_finite

LOG = logging.getLogger(__name__)
DEVICE: Final = "device"  # the sensor name of device-level verdicts (multivariate, silence)
DEVICE_STATE_VERSION: Final = 1


class DeviceVerdict(NamedTuple):
    """One reading of a device, judged per sensor and jointly."""

    ts_ms: int
    sensors: dict[str, Verdict]  # per sensor reported in this reading
    model: Verdict | None  # the multivariate verdict (None: model off or a channel missing)
    contributors: tuple[tuple[str, float], ...]  # (sensor, share of T²), largest first

    @property
    def parts(self) -> dict[str, Verdict]:
        """Per-sensor verdicts plus the model's under ``device``."""
        out = dict(self.sensors)
        if self.model is not None:
            out[DEVICE] = self.model
        return out

    @property
    def score(self) -> float:
        return max((v.score for v in self.parts.values()), default=0.0)

    @property
    def anomalous(self) -> bool:
        return any(v.anomalous for v in self.parts.values())

    @property
    def alert(self) -> bool:
        return any(v.alert for v in self.parts.values())


@functools.lru_cache(maxsize=256)
def for_channels(detection: DetectionConfig, channels: int) -> DetectionConfig:
    """The per-sensor config of a device with `channels` sensors (univariate z50s raised with ln d).

    Cached: one validated copy per (config, sensor count), not one per device restored."""
    if channels <= 1:
        return detection
    extra = 2.0 * math.log(channels)
    return replace(detection, **{key: math.sqrt(getattr(detection, key) ** 2 + extra)
                                 for key in ("zscore_z50", "ewma_z50", "mad_z50", "roc_z50",
                                             "seasonal_z50")})


class DeviceMonitor:
    """The sensors' SeriesMonitors, the multivariate model and its alert policy, for one device."""

    __slots__ = ("device_id", "detection", "thresholds", "baseline", "series", "model", "policy",
                 "baseline_since", "_relearn_request", "_multivariate", "_alert_at", "_critical_score")

    def __init__(self, device_id: str, detection: DetectionConfig, thresholds: ThresholdConfig,
                 baseline: BaselineConfig | None = None) -> None:
        self.device_id = device_id
        self.baseline = baseline or BaselineConfig()
        self.detection = self.baseline.for_device(device_id, detection)
        self.thresholds = thresholds
        self.series: dict[str, SeriesMonitor] = {}
        self.model: MultivariateDetector | None = None
        d = self.detection
        self.policy = AlertPolicy(
            alert_threshold=d.alert_threshold, recovery_threshold=d.recovery_threshold,
            recovery_readings=d.recovery_readings, debounce_readings=d.multivariate_debounce,
            cooldown_readings=d.cooldown_readings, cooldown_ms=d.cooldown_ms)
        self.baseline_since: int | None = None  # event time the current baseline started
        # per-reading values as typed fields (compiled, plain C fields; see SeriesMonitor); the
        # configs are fixed for the job's life, and a restore builds the monitor afresh
        self._relearn_request: int | None = self.baseline.relearn_at(device_id)
        self._multivariate: bool = bool(d.multivariate)
        self._alert_at: float = float(d.alert_threshold)
        self._critical_score: float = float(d.critical_score)

    def monitor(self, sensor: str, channels: int = 1) -> SeriesMonitor:
        """The sensor's monitor; a new one gets limits for a device of `channels` sensors."""
        m = self.series.get(sensor)
        if m is None:
            cfg = for_channels(self.detection, channels)
            m = self.series[sensor] = SeriesMonitor(self.device_id, sensor, cfg, self.thresholds)
        return m

    def relearn(self) -> None:
        """Commission a fresh baseline for every sensor and the model (episodes end on their own)."""
        for m in self.series.values():
            m.relearn()
        self.model = None
        self.baseline_since = None

    def update(self, ts_ms: int, values: Mapping[str, float]) -> DeviceVerdict:
        """One reading of the device (sensor -> value; non-finite values are ignored), in event time."""
        request = self._relearn_request
        if request is not None and ts_ms >= request and (
                self.baseline_since is None or self.baseline_since < request):
            self.relearn()
        if self.baseline_since is None:
            self.baseline_since = ts_ms
        finite = {s: float(v) for s, v in values.items() if v is not None and is_finite(v)}
        channels = max(len(finite), len(self.series))
        sensors = {s: self.monitor(s, channels).update(ts_ms, v) for s, v in finite.items()}
        if self.policy.anomalous:  # a multivariate episode is open: it alerted for this device already
            sensors = {s: v._replace(alert=False) if v.alert and "threshold" not in v.detectors else v
                       for s, v in sensors.items()}
        model_verdict = None
        contributors: tuple[tuple[str, float], ...] = ()
        if self._multivariate and len(finite) >= 2:
            try:
                model_verdict, contributors = self._model_step(ts_ms, finite, sensors)
            except (ArithmeticError, ValueError) as exc:
                # a numerically broken model (a singular covariance) must never fail the job
                LOG.warning("device %s: multivariate model reset after %r; it commissions afresh",
                            self.device_id, exc)
                self.model = None
        return new_tuple(DeviceVerdict, (ts_ms, sensors, model_verdict, contributors))  # as make_verdict

    def _model_step(self, ts_ms: int, finite: dict[str, float],
                    sensors: dict[str, Verdict]) -> tuple[Verdict | None, tuple[tuple[str, float], ...]]:
        cfg = self.detection
        if self.model is None:
            self.model = MultivariateDetector(
                sorted(finite), cfg.baseline_readings, cfg.baseline_ms, cfg.multivariate_alpha,
                cfg.multivariate_limit_z, cfg.alert_threshold)
        model = self.model
        x = model.vector(finite)
        if x is None:  # a channel of the model is missing from this reading: no joint verdict
            return None, ()
        if model.commissioning:
            model.learn_one(x, ts_ms)
            anomalous, _ = self.policy.step(0.0, ts_ms)
            return make_verdict(ts_ms, None, 0.0, (), anomalous, False, "warning" if anomalous else "ok",
                                "commissioning"), ()
        score = model.score_one(x)
        anomalous, alert = self.policy.step(score, ts_ms)
        sensor_episode = any(v.anomalous for v in sensors.values())
        if not anomalous and score < self._alert_at and not sensor_episode:
            model.learn_one(x, ts_ms)
        if not anomalous:
            return make_verdict(ts_ms, None, score, (), False, False, "ok", "ok"), ()
        if alert and sensor_episode:
            alert = False  # the same fault, already alerted by (or alerting now on) a sensor
        contributors = tuple(model.contributions())
        fired = ("multivariate",) if score >= self._alert_at else ()
        severity = "critical" if score >= self._critical_score else "warning"
        reason = (f"multivariate: {model.explain()}" if fired
                  else f"multivariate recovering (score {score:.2f})")
        return make_verdict(ts_ms, None, score, fired, True, alert, severity, reason), contributors

    def to_state(self) -> dict[str, Any]:
        return {
            "v": DEVICE_STATE_VERSION,
            "series": {s: m.to_state() for s, m in self.series.items()},
            "model": None if self.model is None else self.model.to_state(),
            "policy": self.policy.to_state(),
            "baseline_since": self.baseline_since,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device_id: str, detection: DetectionConfig,
                   thresholds: ThresholdConfig, baseline: BaselineConfig | None = None) -> DeviceMonitor:
        """Restore; raises ValueError on an unknown version (callers start the device afresh)."""
        if state.get("v") != DEVICE_STATE_VERSION:
            raise ValueError(f"unsupported DeviceMonitor state version {state.get('v')!r}")
        obj = cls(device_id, detection, thresholds, baseline)
        per_sensor = for_channels(obj.detection, len(state["series"]))
        obj.series = {s: SeriesMonitor.from_state(st, device_id, s, per_sensor, thresholds)
                      for s, st in state["series"].items()}
        cfg = obj.detection
        if state.get("model") is not None:
            obj.model = MultivariateDetector.from_state(
                state["model"], baseline_readings=cfg.baseline_readings, baseline_ms=cfg.baseline_ms,
                alpha=cfg.multivariate_alpha, limit_z=cfg.multivariate_limit_z,
                alert_threshold=cfg.alert_threshold)
        obj.policy.load_state(state["policy"])
        since = state.get("baseline_since")
        obj.baseline_since = None if since is None else int(since)
        return obj
