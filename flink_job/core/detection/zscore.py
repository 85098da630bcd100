"""Z-score: |x - mean| / std against exponentially weighted statistics of the series.

O(1) state: an exponentially weighted mean and variance with alpha = 2 / (window + 1), the EW
equivalent of a `window`-reading sliding window (the first `window` readings weigh equally).
"""

from __future__ import annotations

from typing import Any

from flink_job.core.detection.base import MIN_POINTS, Detector, squash
from flink_job.core.detection.stats import EWMeanVar, ew_alpha, floored_std, load_ew


class ZScoreDetector(Detector):
    """Scores 0.5 at |z| = z50; needs `min_points` readings before it scores at all."""

    name = "zscore"
    __slots__ = ("window", "z50", "min_points", "stats", "last_stat")

    param_docs = {"window": "readings in the rolling mean and variance", "z50": "|z| that scores 0.5"}

    def __init__(self, window: int = 4000, z50: float = 4.0, min_points: int = MIN_POINTS) -> None:
        if window < 2:
            raise ValueError("window must be >= 2")
        self.window = window
        self.z50 = z50
        self.min_points = min_points
        self.stats = EWMeanVar(ew_alpha(window))
        self.last_stat = 0.0

    def score_one(self, x: float, ts_ms: int = 0) -> float:
        st = self.stats
        if st.n < self.min_points:
            self.last_stat = 0.0
            return 0.0
        mean = st.mean
        z = abs(x - mean) / floored_std(st.var, mean)
        self.last_stat = z
        return squash(z, self.z50)

    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        self.stats.update(x)

    def explain(self) -> str:
        return f"|z|={self.last_stat:.1f} vs mean {self.stats.mean:.4g} std {self.stats.std:.3g}"

    def to_state(self) -> dict[str, Any]:
        return {"ew": self.stats.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any], **params: Any) -> ZScoreDetector:
        obj = cls(**params)
        obj.stats = load_ew(state, ew_alpha(obj.window))
        return obj

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"window": 20, "z50": 3.0, "min_points": 5}
