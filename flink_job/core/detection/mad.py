"""Robust z-score: |x - median| / (1.4826 * MAD) over the last `window` readings."""

from __future__ import annotations

from typing import Any

from flink_job.core.detection.base import MIN_POINTS, RollingStatsDetector, squash
from flink_job.core.detection.stats import RollingMedianMAD, kth_distance

_MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution is 0.6745 sigma
_IQR_TO_SIGMA = 1.349


class MADDetector(RollingStatsDetector):
    """Scores 0.5 at robust |z| = z50.  Spikes barely move the median, so they cannot hide themselves."""

    name = "mad"
    stats_type = RollingMedianMAD
    __slots__ = ("window", "z50", "min_points", "stats", "last_stat", "_med", "_scale")

    param_docs = {"window": "readings in the rolling median and MAD",
                  "z50": "robust |z| that scores 0.5 (off by default: it alarms on quantised series)"}

    def __init__(self, window: int = 500, z50: float = 8.0, min_points: int = MIN_POINTS) -> None:
        self.window = window
        self.z50 = z50
        self.min_points = min_points
        self.stats = RollingMedianMAD(window)
        self.last_stat = 0.0
        self._med = 0.0
        self._scale = 0.0

    def _robust_scale(self) -> tuple[float, float]:
        a = self.stats.sorted
        n = len(a)
        med = a[(n - 1) // 2]
        scale = _MAD_TO_SIGMA * kth_distance(a, med, (n - 1) // 2)
        if scale <= 0.0:
            # Over half the window is one value (quantised or idle signal): fall back to the spread of
            # the outer quartiles, then to the full range, so a single different value is not infinite.
            scale = (a[(3 * n) // 4] - a[n // 4]) / _IQR_TO_SIGMA
            if scale <= 0.0:
                scale = (a[-1] - a[0]) / 4.0
        floor = 1e-9 * (1.0 + abs(med))
        return med, scale if scale > floor else floor

    def score_one(self, x: float, ts_ms: int = 0) -> float:
        if self.stats.n < self.min_points:
            self.last_stat = 0.0
            return 0.0
        med, scale = self._robust_scale()
        self._med, self._scale = med, scale
        z = abs(x - med) / scale
        self.last_stat = z
        return squash(z, self.z50)

    def explain(self) -> str:
        return f"robust |z|={self.last_stat:.1f} vs median {self._med:.4g} (sigma~{self._scale:.3g})"

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"window": 21, "z50": 3.0, "min_points": 5}
