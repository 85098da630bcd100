"""SeriesMonitor: everything for one (device, sensor) series, and the Verdict it returns per reading.

Baseline: the first ``baseline_readings`` (and ``baseline_ms``) of a series commission it: the detectors
learn everything and score 0 (static thresholds still apply).  After that the baseline is protected:
with ``protect_baseline`` the detectors learn a reading only when it is judged normal (no open episode
and a score below ``alert_threshold``), so a long fault never becomes "normal" and the episode ends on a
real recovery.  Two exceptions: the first abnormal reading after a normal one is learnt
(``learn_first_outlier``: routine isolated spikes teach the spread), and an episode older than
``episode_adapt_ms`` is a lasting change that the detectors learn.  ``relearn()`` commissions again
(after maintenance).

Score of a reading = max over the windowed detectors, each through its own novelty gate (alerting.py;
``novelty_scope = series``: one gate on the max), raised to
`warning_score` / 1.0 on a static warning / critical breach.  Severity comes from the static level when
one is breached, else from the score (>= critical_score: critical).  The alert policy
(alerting.py) turns scores into the anomalous flag and onset alerts; static breaches score
`warning_score` or 1.0, so they always start an episode, and the first static critical breach inside an
ongoing episode alerts once more (escalation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from flink_job.core.detection.alerting import AlertPolicy, NoveltyGate
from flink_job.core.detection.base import Detector
from flink_job.core.detection.config import DETECTOR_CLASSES, DetectionConfig, ThresholdConfig
from flink_job.core.detection.silence import SilenceCheck
from flink_job.core.detection.stats import is_finite, max_of
from flink_job.core.detection.thresholds import CRITICAL, WARNING, ThresholdDetector

SERIES_GATE: Final = "*"  # the one gate's name in the state when novelty_scope = series
STATE_VERSION: Final = 3  # v3: a novelty gate per detector, first-outlier learning; v2: commissioning start
# (v1 and v2 states load: v1 series are past commissioning, and every detector gate starts from the
# saved series gate)


class Verdict(NamedTuple):
    """One reading's judgement (a named tuple: built once per sensor reading, 4x cheaper than a
    frozen dataclass)."""

    ts_ms: int
    value: float | None  # None for a silence verdict
    score: float  # anomaly score in [0, 1]
    detectors: tuple[str, ...]  # which fired, e.g. ("threshold",), ("zscore", "mad"), ("silence",)
    anomalous: bool  # true from the onset of an episode until the series recovers
    alert: bool  # true only at the onset (then cooldown/debounce until recovery)
    severity: str  # "ok" | "warning" | "critical"
    reason: str  # human text, e.g. "temperature 104.2 > critical_high 100.0"


# Final names are C statics when compiled (mypyc), not lookups in the module's globals
new_tuple: Final = tuple.__new__


def make_verdict(ts_ms: int, value: float | None, score: float, detectors: tuple[str, ...],
                 anomalous: bool, alert: bool, severity: str, reason: str) -> Verdict:
    """``Verdict(...)`` without the ``__new__`` that NamedTuple generates: compiled (mypyc), calling
    that interpreted function was about a tenth of a reading's cost."""
    return new_tuple(Verdict, (ts_ms, value, score, detectors, anomalous, alert, severity, reason))


class SeriesMonitor:
    """Everything for one (device, sensor) series: static thresholds + windowed detectors + alert policy."""

    __slots__ = ("device_id", "sensor", "detection", "levels", "threshold", "detectors", "policy",
                 "silence", "gates", "n", "escalated", "started_ms", "commissioned",
                 "episode_start", "prev_normal", "_protect", "_alert_at", "_warning_score",
                 "_critical_score", "_learn_first", "_adapt_ms", "_relearn_ms", "_series_gate")

    def __init__(self, device_id: str, sensor: str, detection: DetectionConfig,
                 thresholds: ThresholdConfig) -> None:
        self.device_id = device_id
        self.sensor = sensor
        self.detection = detection
        # The config's per-reading values as typed fields: compiled (mypyc) they are plain C fields,
        # where each read of the config dataclass is a dictionary lookup and a boxed value.
        self._protect: bool = bool(detection.protect_baseline)
        self._alert_at: float = float(detection.alert_threshold)
        self._warning_score: float = float(detection.warning_score)
        self._critical_score: float = float(detection.critical_score)
        self._learn_first: bool = bool(detection.learn_first_outlier)
        self._adapt_ms: int = int(detection.episode_adapt_ms)
        self._relearn_ms: int = int(detection.episode_relearn_ms)
        self._series_gate: bool = detection.novelty_scope == "series"
        self.levels = thresholds.for_series(device_id, sensor)
        self.threshold = None if self.levels.empty else ThresholdDetector(self.levels)
        self.policy = AlertPolicy(
            alert_threshold=detection.alert_threshold, recovery_threshold=detection.recovery_threshold,
            recovery_readings=detection.recovery_readings, debounce_readings=detection.debounce_readings,
            cooldown_readings=detection.cooldown_readings, cooldown_ms=detection.cooldown_ms)
        self.silence = SilenceCheck(detection.silence_timeout_ms)
        self.escalated = False  # this episode has reached a static critical breach
        self.episode_start: int | None = None  # event time the open episode started
        self.prev_normal = True  # the last reading was judged normal (learn_first_outlier)
        self.relearn()

    def relearn(self) -> None:
        """Forget what the detectors learnt and commission again (the alert policy keeps its state)."""
        cfg = self.detection
        self.detectors: list[Detector] = [
            cfg.build_detector(name) for name in cfg.detectors]
        # one novelty gate per detector, or (novelty_scope = series) one on the max
        self.gates = [NoveltyGate(cfg.novelty_decay)
                      for _ in (self.detectors if cfg.novelty_scope == "detector" else [SERIES_GATE])]
        self.n = 0
        self.started_ms: int | None = None  # event time of the first commissioning reading
        self.commissioned = False  # the baseline is learnt (then protected)

    def _commissioning(self, ts_ms: int) -> bool:
        """True while the baseline is being learnt; flips for good once enough readings and time passed."""
        if self.commissioned:
            return False
        cfg = self.detection
        if self.started_ms is None:
            self.started_ms = ts_ms
        if self.n >= cfg.baseline_readings and ts_ms - self.started_ms >= cfg.baseline_ms:
            self.commissioned = True
            return False
        return True

    def update(self, ts_ms: int, value: float) -> Verdict:
        """Score one reading (readings arrive in event-time order) and step the alert policy."""
        self.silence.seen(ts_ms)
        x = float(value)
        if not is_finite(x):
            # A missing/garbled reading teaches nothing and must not poison running sums.
            return make_verdict(ts_ms, x, 0.0, (), self.policy.anomalous, False,
                                "warning" if self.policy.anomalous else "ok", "non-finite reading ignored")
        detectors = self.detectors
        commissioning = not self.commissioned and self._commissioning(ts_ms)
        self.n += 1
        if commissioning:
            for d in detectors:
                d.learn_one(x, ts_ms)
            scores = [0.0] * len(detectors)
            score = 0.0
        else:
            if self._protect:
                scores = [d.score_one(x, ts_ms) for d in detectors]
            else:
                scores = [d.score_learn_one(x, ts_ms) for d in detectors]
            score = self._gate(scores)
        statistical = score
        level = self.threshold.level(x) if self.threshold is not None else 0
        if level:
            score = 1.0 if level == CRITICAL else max(score, self._warning_score)
        anomalous, alert = self.policy.step(score, ts_ms)
        if self._protect and not commissioning:
            normal = not anomalous and statistical < self._alert_at
            learn = (normal or (self._learn_first and self.prev_normal)
                     or (self._adapt_ms > 0 and self.episode_start is not None
                         and ts_ms - self.episode_start >= self._adapt_ms))
            self.prev_normal = normal
            if learn:
                for d in detectors:
                    d.learn_one(x, ts_ms)
            else:
                for d in detectors:
                    d.track_one(x, ts_ms)  # follow the signal, keep the baseline
        if anomalous and self.episode_start is None:
            self.episode_start = ts_ms
        elif (anomalous and self._relearn_ms and not level
              and ts_ms - self.episode_start >= self._relearn_ms):  # type: ignore[operator]
            # a statistical episode this long is the new normal: commission afresh (the episode then
            # ends on the new baseline's quiet scores)
            self.relearn()
            self.episode_start = None
        if not anomalous:
            self.episode_start = None
            self.escalated = False
            return make_verdict(ts_ms, x, score, (), False, False, "ok", "ok")
        if level == CRITICAL and not self.escalated:
            # A static critical breach inside an ongoing (warning or statistical) episode is news:
            # alert once on the escalation, whatever the cooldown.
            alert = True
            self.escalated = True
        fired = [d.name for d, s in zip(self.detectors, scores) if s >= self._alert_at]
        reasons = [f"{d.name}: {d.explain()}" for d, s in zip(self.detectors, scores)
                   if s >= self._alert_at]
        if level:
            fired.insert(0, "threshold")
            reasons.insert(0, f"{self.sensor} {self.threshold.last_reason}")  # type: ignore[union-attr]
        if level == CRITICAL or (level != WARNING and score >= self._critical_score):
            severity = "critical"
        else:
            severity = "warning"
        reason = "; ".join(reasons) if reasons else f"{self.sensor} recovering (score {score:.2f})"
        return make_verdict(ts_ms, x, score, tuple(fired), True, alert, severity, reason)

    def _gate(self, scores: list[float]) -> float:
        """The statistical score: gated per detector (the gated scores replace `scores`) or on the max."""
        if not scores:
            return 0.0
        if self._series_gate:
            return self.gates[0].apply(max_of(scores))
        gates = self.gates
        for i in range(min(len(gates), len(scores))):
            scores[i] = gates[i].apply(scores[i])
        return max_of(scores)

    def _gate_names(self) -> list[str]:
        if self.detection.novelty_scope == "series":
            return [SERIES_GATE]
        return [d.name for d in self.detectors]

    def update_many(self, ts_ms: Sequence[int], values: Sequence[float]) -> list[Verdict]:
        """Same as `update` for a micro-batch, in order."""
        if len(ts_ms) != len(values):
            raise ValueError("ts_ms and values must have the same length")
        up = self.update
        return [up(t, v) for t, v in zip(ts_ms, values)]

    def check_silence(self, now_ms: int) -> Verdict | None:
        """A ("silence",) verdict once no reading has arrived for silence_timeout_ms; alert only at onset."""
        silent, onset = self.silence.check(now_ms)
        if not silent:
            return None
        last = self.silence.last_ts
        return make_verdict(now_ms, None, 1.0, ("silence",), True, onset, "critical",
                            f"{self.sensor}: no reading for {(now_ms - last) / 1000:.0f} s "  # type: ignore[operator]
                            f"(timeout {self.detection.silence_timeout_ms / 1000:.0f} s)")

    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable keyed state (versioned)."""
        return {
            "v": STATE_VERSION,
            "n": self.n,
            "threshold": None if self.threshold is None else self.threshold.to_state(),
            "policy": self.policy.to_state(),
            "novelty_peaks": {name: g.peak for name, g in zip(self._gate_names(), self.gates)},
            "prev_normal": self.prev_normal,
            "escalated": self.escalated,
            "started_ms": self.started_ms,
            "commissioned": self.commissioned,
            "episode_start": self.episode_start,
            "silence": self.silence.to_state(),
            "detectors": {d.name: d.to_state() for d in self.detectors},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device_id: str, sensor: str, detection: DetectionConfig,
                   thresholds: ThresholdConfig) -> SeriesMonitor:
        """Restore; detectors added to the config since the snapshot start fresh, removed ones are dropped."""
        version = state.get("v")
        if version not in (1, 2, STATE_VERSION):
            raise ValueError(f"unsupported SeriesMonitor state version {version!r} "
                             f"(expected {STATE_VERSION})")
        obj = cls(device_id, sensor, detection, thresholds)
        obj.n = int(state["n"])
        if obj.threshold is not None and state.get("threshold") is not None:
            obj.threshold = ThresholdDetector.from_state(state["threshold"], obj.levels)
        obj.policy.load_state(state["policy"])
        # v1/v2 kept one series gate ("novelty_peak"): every gate starts from it, as does a gate that
        # the saved state has no peak for (a detector added, or the scope changed)
        peaks = state.get("novelty_peaks", {})
        fallback = float(peaks.get(SERIES_GATE, state.get("novelty_peak", 0.0)))
        for name, g in zip(obj._gate_names(), obj.gates):
            g.peak = float(peaks.get(name, fallback))
        obj.prev_normal = bool(state.get("prev_normal", True))
        obj.escalated = bool(state.get("escalated", False))
        started = state.get("started_ms")
        obj.started_ms = None if started is None else int(started)
        episode = state.get("episode_start")
        obj.episode_start = None if episode is None else int(episode)
        # v1 had no commissioning, only the detectors' warm-up (min_points): past it, the baseline is learnt
        obj.commissioned = bool(state["commissioned"]) if "commissioned" in state else (
            obj.n >= detection.min_points)
        obj.silence.load_state(state["silence"])
        saved = state.get("detectors", {})
        obj.detectors = [
            DETECTOR_CLASSES[d.name].from_state(saved[d.name], **detection.params_for(d.name))
            if d.name in saved else d
            for d in obj.detectors]
        return obj
