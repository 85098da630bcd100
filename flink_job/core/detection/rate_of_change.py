"""Rate of change: the step from the previous reading, z-scored against the recent steps.

Per reading rather than per second: sensors report at a fixed rate, and a gap in the data (handled by
the silence check) should not make the next step look small.  O(1) state: the steps' statistics are
exponentially weighted (alpha = 2 / (window + 1), stats.ew_alpha).
"""

from __future__ import annotations

from typing import Any

from flink_job.core.detection.base import MIN_POINTS, Detector, squash
from flink_job.core.detection.stats import EWMeanVar, ew_alpha, floored_std, load_ew


class RateOfChangeDetector(Detector):
    """Scores 0.5 when |step - mean step| = z50 standard deviations of the last `window` steps."""

    name = "roc"
    __slots__ = ("window", "z50", "min_points", "stats", "prev", "last_stat", "_step")

    param_docs = {"window": "steps in the rolling mean and variance of steps",
                  "z50": "step z that scores 0.5"}

    def __init__(self, window: int = 500, z50: float = 8.0, min_points: int = MIN_POINTS) -> None:
        self.window = window
        self.z50 = z50
        self.min_points = min_points
        self.stats = EWMeanVar(ew_alpha(window))
        self.prev: float | None = None
        self.last_stat = 0.0
        self._step = 0.0

    def score_one(self, x: float, ts_ms: int = 0) -> float:
        st = self.stats
        if self.prev is None or st.n < self.min_points:
            self.last_stat = 0.0
            return 0.0
        d = x - self.prev
        self._step = d
        z = abs(d - st.mean) / floored_std(st.var, self.prev)
        self.last_stat = z
        return squash(z, self.z50)

    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        if self.prev is not None:
            self.stats.update(x - self.prev)
        self.prev = x

    def track_one(self, x: float, ts_ms: int = 0) -> None:
        self.prev = x

    def score_learn_one(self, x: float, ts_ms: int = 0) -> float:
        s = self.score_one(x)
        if self.prev is not None:
            self.stats.update(x - self.prev)
        self.prev = x
        return s

    def explain(self) -> str:
        return f"step {self._step:+.4g} is {self.last_stat:.1f} sigma from the usual step"

    def to_state(self) -> dict[str, Any]:
        return {"ew": self.stats.to_state(), "prev": self.prev}

    @classmethod
    def from_state(cls, state: dict[str, Any], **params: Any) -> RateOfChangeDetector:
        obj = cls(**params)
        obj.stats = load_ew(state, ew_alpha(obj.window))
        obj.prev = None if state["prev"] is None else float(state["prev"])
        return obj

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"window": 20, "z50": 3.0, "min_points": 5}
