"""EWMA control chart: a fast EWMA of the readings against limits from a slow EW mean/variance.

The chart statistic s = lam*x + (1-lam)*s has standard deviation sigma*sqrt(lam/(2-lam)) around the
baseline mean, so small sustained shifts that a single-reading z-score misses add up and cross the limit.
That formula holds for independent readings only; process signals are autocorrelated, and their chart
statistic wanders much further (on the Tennessee Eastman data it alarmed on most normal rows).  So the
chart's own spread around the baseline is also measured (an EW mean square over the learnt readings) and
the larger of the two sigmas is used.
"""

from __future__ import annotations

import math
from typing import Any

from flink_job.core.detection.base import MIN_POINTS, Detector, squash
from flink_job.core.detection.stats import EWMeanVar, floored_std


class EWMADetector(Detector):
    """Scores 0.5 when the chart statistic is `z50` chart-sigmas from the baseline (an L-sigma limit)."""

    name = "ewma"
    __slots__ = ("lam", "baseline_alpha", "z50", "min_points", "baseline", "s", "last_stat", "_k",
                 "chart_ms", "chart_n")

    param_docs = {
        "lambda_": "weight of the newest reading in the EWMA chart statistic",
        "baseline_alpha": "weight of the newest reading in the slow baseline mean and variance",
        "z50": "chart sigmas that score 0.5 (raised per device with ln(sensors))",
    }

    def __init__(self, lambda_: float = 0.1, baseline_alpha: float = 0.002, z50: float = 3.0,
                 min_points: int = MIN_POINTS) -> None:
        if not 0.0 < lambda_ <= 1.0:
            raise ValueError("lambda_ must be in (0, 1]")
        lam = self.lam = lambda_
        self.baseline_alpha = baseline_alpha
        self.z50 = z50
        self.min_points = min_points
        self.baseline = EWMeanVar(baseline_alpha)
        self.s: float | None = None
        self.last_stat = 0.0
        self._k = math.sqrt(lam / (2.0 - lam))
        self.chart_ms = 0.0  # EW mean square of (chart statistic - baseline mean)
        self.chart_n = 0

    def _chart(self, x: float) -> float:
        return x if self.s is None else self.lam * x + (1.0 - self.lam) * self.s

    def score_one(self, x: float, ts_ms: int = 0) -> float:
        b = self.baseline
        if b.n < self.min_points:
            self.last_stat = 0.0
            return 0.0
        s = self._chart(x)
        sigma = max(floored_std(b.var, b.mean) * self._k, math.sqrt(self.chart_ms))
        z = abs(s - b.mean) / sigma
        self.last_stat = z
        return squash(z, self.z50)

    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        self.s = s = self._chart(x)
        b = self.baseline
        if b.n:
            self.chart_n += 1
            # the spread of a process is a slow property: learnt 5x slower than the mean, so a drift
            # does not teach it much before it alarms
            slow = self.baseline_alpha / 5.0
            a = slow if slow * self.chart_n >= 1.0 else 1.0 / self.chart_n
            dev = s - b.mean
            # winsorised at 3 sigma, so a shift being learnt cannot hide itself by inflating the spread
            cap = 9.0 * max(b.var * self._k * self._k, self.chart_ms)
            sq = dev * dev
            self.chart_ms += a * ((sq if self.chart_n < self.min_points or sq < cap else cap) - self.chart_ms)
        b.update(x)

    def track_one(self, x: float, ts_ms: int = 0) -> None:
        self.s = self._chart(x)

    def score_learn_one(self, x: float, ts_ms: int = 0) -> float:
        sc = self.score_one(x)
        self.learn_one(x)
        return sc

    def explain(self) -> str:
        return (f"EWMA {self.s if self.s is not None else float('nan'):.4g} is {self.last_stat:.1f} "
                f"chart-sigmas from baseline {self.baseline.mean:.4g}")

    def to_state(self) -> dict[str, Any]:
        return {"baseline": self.baseline.to_state(), "s": self.s, "chart": [self.chart_ms, self.chart_n]}

    @classmethod
    def from_state(cls, state: dict[str, Any], **params: Any) -> EWMADetector:
        obj = cls(**params)
        obj.baseline = EWMeanVar.from_state(state["baseline"], obj.baseline_alpha)
        obj.s = None if state["s"] is None else float(state["s"])
        chart = state.get("chart")  # absent in states written before it: the iid sigma alone until learnt
        if chart is not None:
            obj.chart_ms, obj.chart_n = float(chart[0]), int(chart[1])
        return obj

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"lambda_": 0.3, "baseline_alpha": 0.1, "z50": 3.0, "min_points": 5}
