"""Sliding-window z-score: |x - mean| / std over the last `window` readings."""

from __future__ import annotations

import math
from typing import Any

from flink_job.core.detection.base import Detector
from flink_job.core.detection.stats import RollingMeanVar


class ZScoreDetector(Detector):
    """Scores 0.5 at |z| = z50; needs `min_points` readings before it scores at all."""

    name = "zscore"
    __slots__ = ("window", "z50", "min_points", "stats", "last_stat", "_c")

    def __init__(self, window: int = 1000, z50: float = 4.0, min_points: int = 30) -> None:
        self.window = window
        self.z50 = z50
        self.min_points = min_points
        self.stats = RollingMeanVar(window)
        self.last_stat = 0.0
        self._c = z50 * z50

    def score_one(self, x: float, ts_ms: int = 0) -> float:
        st = self.stats
        if st.n < self.min_points:
            self.last_stat = 0.0
            return 0.0
        mean = st.mean
        var = st.m2 / st.n
        # A tiny floor keeps a perfectly constant window finite: any change from it is then extreme.
        floor = 1e-9 * (1.0 + abs(mean))
        std = math.sqrt(var) if var > floor * floor else floor
        z = abs(x - mean) / std
        self.last_stat = z
        zz = z * z
        return zz / (zz + self._c)

    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        self.stats.update(x)

    def score_learn_one(self, x: float, ts_ms: int = 0) -> float:
        s = self.score_one(x)
        self.stats.update(x)
        return s

    def explain(self) -> str:
        return f"|z|={self.last_stat:.1f} vs mean {self.stats.mean:.4g} std {self.stats.std:.3g}"

    def to_state(self) -> dict[str, Any]:
        return {"stats": self.stats.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any], **params: Any) -> ZScoreDetector:
        obj = cls(**params)
        obj.stats = RollingMeanVar.from_state(state["stats"], obj.window)
        return obj

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"window": 20, "z50": 3.0, "min_points": 5}
