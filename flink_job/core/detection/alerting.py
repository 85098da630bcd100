"""Alert policy: turns a score stream into an anomalous-episode flag and onset alerts.

- Onset: `debounce_readings` consecutive scores >= alert_threshold start an episode.
- Alert: only at an onset, and only if `cooldown_readings` readings and `cooldown_ms` have passed since
  the last alert; an episode that starts inside the cooldown is flagged anomalous but not alerted.
- Recovery (hysteresis): the episode ends after `recovery_readings` consecutive scores below
  recovery_threshold (< alert_threshold), so a score hovering at the threshold does not flap.
"""

from __future__ import annotations

from typing import Any


class AlertPolicy:
    """State machine of one series; `step(score, ts_ms)` returns (anomalous, alert)."""

    __slots__ = ("alert_threshold", "recovery_threshold", "recovery_readings", "debounce_readings",
                 "cooldown_readings", "cooldown_ms", "anomalous", "above", "below", "since_alert",
                 "last_alert_ts")

    def __init__(self, alert_threshold: float = 0.5, recovery_threshold: float = 0.3,
                 recovery_readings: int = 1, debounce_readings: int = 1, cooldown_readings: int = 0,
                 cooldown_ms: int = 0) -> None:
        if not 0.0 <= recovery_threshold <= alert_threshold:
            raise ValueError("need 0 <= recovery_threshold <= alert_threshold")
        self.alert_threshold = alert_threshold
        self.recovery_threshold = recovery_threshold
        self.recovery_readings = max(1, recovery_readings)
        self.debounce_readings = max(1, debounce_readings)
        self.cooldown_readings = cooldown_readings
        self.cooldown_ms = cooldown_ms
        self.anomalous = False
        self.above = 0  # consecutive readings at/above alert_threshold while not anomalous
        self.below = 0  # consecutive readings below recovery_threshold while anomalous
        self.since_alert: int | None = None  # readings since the last alert (None: never alerted)
        self.last_alert_ts: int | None = None

    def step(self, score: float, ts_ms: int) -> tuple[bool, bool]:
        if self.since_alert is not None:
            self.since_alert += 1
        if self.anomalous:
            if score < self.recovery_threshold:
                self.below += 1
                if self.below >= self.recovery_readings:
                    self.anomalous = False
                    self.below = 0
            else:
                self.below = 0
            return self.anomalous, False
        if score < self.alert_threshold:
            self.above = 0
            return False, False
        self.above += 1
        if self.above < self.debounce_readings:
            return False, False
        self.anomalous = True
        self.above = 0
        self.below = 0
        if self.since_alert is not None and (
                self.since_alert < self.cooldown_readings
                or (self.last_alert_ts is not None and ts_ms - self.last_alert_ts < self.cooldown_ms)):
            return True, False
        self.since_alert = 0
        self.last_alert_ts = ts_ms
        return True, True

    def to_state(self) -> dict[str, Any]:
        return {"anomalous": self.anomalous, "above": self.above, "below": self.below,
                "since_alert": self.since_alert, "last_alert_ts": self.last_alert_ts}

    def load_state(self, state: dict[str, Any]) -> None:
        self.anomalous = bool(state["anomalous"])
        self.above, self.below = int(state["above"]), int(state["below"])
        self.since_alert = None if state["since_alert"] is None else int(state["since_alert"])
        self.last_alert_ts = None if state["last_alert_ts"] is None else int(state["last_alert_ts"])


class NoveltyGate:
    """Halves a score that does not beat the series' own recent peak score.

    The peak decays by `decay` per reading (0.99995: half-life ~14,000 readings).  Series with routine
    bursts (traffic, request counts) then alert only on bursts larger than their recent ones, and an
    excursion that has just been alerted does not keep re-alerting when it recurs at the same size.
    Static threshold breaches bypass the gate (the monitor applies them after it).
    """

    __slots__ = ("decay", "peak")

    def __init__(self, decay: float = 0.99995) -> None:
        self.decay = decay
        self.peak = 0.0

    def apply(self, score: float) -> float:
        if self.decay <= 0.0:
            return score
        ref = self.peak * self.decay
        if score >= ref:
            self.peak = score
            return score
        self.peak = ref
        return 0.5 * score
