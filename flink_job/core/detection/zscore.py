"""Sliding-window z-score: |x - mean| / std over the last `window` readings."""

from __future__ import annotations

from typing import Any

from flink_job.core.detection.base import RollingStatsDetector, squash
from flink_job.core.detection.stats import RollingMeanVar, floored_std


class ZScoreDetector(RollingStatsDetector):
    """Scores 0.5 at |z| = z50; needs `min_points` readings before it scores at all."""

    name = "zscore"
    stats_type = RollingMeanVar
    __slots__ = ("window", "z50", "min_points", "stats", "last_stat")

    def __init__(self, window: int = 1000, z50: float = 4.0, min_points: int = 30) -> None:
        self.window = window
        self.z50 = z50
        self.min_points = min_points
        self.stats = RollingMeanVar(window)
        self.last_stat = 0.0

    def score_one(self, x: float, ts_ms: int = 0) -> float:
        st = self.stats
        if st.n < self.min_points:
            self.last_stat = 0.0
            return 0.0
        mean = st.mean
        z = abs(x - mean) / floored_std(st.m2 / st.n, mean)
        self.last_stat = z
        return squash(z, self.z50)

    def explain(self) -> str:
        return f"|z|={self.last_stat:.1f} vs mean {self.stats.mean:.4g} std {self.stats.std:.3g}"

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"window": 20, "z50": 3.0, "min_points": 5}
