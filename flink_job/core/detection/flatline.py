"""Flatline (stuck sensor): a run of readings that do not move, longer than this series' normal runs.

A reading "does not move" when |x - previous| <= abs_tol + rel_tol * |previous|.  Quantised or idle
signals repeat values normally, so the limit is max(min_run, factor * longest normal run seen); after
warm-up, runs that reached the limit are not learnt, so a stuck episode does not desensitise the detector.
"""

from __future__ import annotations

from typing import Any

from flink_job.core.detection.base import Detector


class FlatlineDetector(Detector):
    """Scores 0.5 when the current run reaches the limit, rising towards 1 as it grows (0 below min_run)."""

    name = "flatline"
    __slots__ = ("min_run", "factor", "abs_tol", "rel_tol", "min_points", "prev", "run", "longest",
                 "n", "last_stat")

    def __init__(self, min_run: int = 30, factor: float = 2.0, abs_tol: float = 0.0, rel_tol: float = 0.0,
                 min_points: int = 30) -> None:
        self.min_run = min_run
        self.factor = factor
        self.abs_tol = abs_tol
        self.rel_tol = rel_tol
        self.min_points = min_points
        self.prev: float | None = None
        self.run = 0  # readings in the current run that did not move (0: the last reading moved)
        self.longest = 0  # longest completed run below the limit
        self.n = 0
        self.last_stat = 0.0

    def limit(self) -> float:
        return max(float(self.min_run), self.factor * self.longest)

    def _flat(self, x: float) -> bool:
        p = self.prev
        return p is not None and abs(x - p) <= self.abs_tol + self.rel_tol * abs(p)

    def score_one(self, x: float, ts_ms: int = 0) -> float:
        if self.n < self.min_points or not self._flat(x):
            self.last_stat = 0.0
            return 0.0
        run = self.run + 1
        lim = self.limit()
        if run < self.min_run:
            self.last_stat = 0.0
            return 0.0
        r = run / lim
        self.last_stat = run
        rr = r * r
        return rr / (rr + 1.0)

    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        if self._flat(x):
            self.run += 1
        else:
            # Runs completed during warm-up are always normal (they teach quantised signals their usual runs).
            if self.run > self.longest and (self.n < self.min_points or self.run < self.limit()):
                self.longest = self.run
            self.run = 0
        self.prev = x
        self.n += 1

    def track_one(self, x: float, ts_ms: int = 0) -> None:
        # the run goes on (a stuck sensor keeps scoring higher) but an abnormal run never sets `longest`
        self.run = self.run + 1 if self._flat(x) else 0
        self.prev = x

    def score_learn_one(self, x: float, ts_ms: int = 0) -> float:
        s = self.score_one(x)
        self.learn_one(x)
        return s

    def explain(self) -> str:
        return f"value unchanged for {int(self.last_stat) + 1} readings (limit {self.limit():.0f})"

    def to_state(self) -> dict[str, Any]:
        return {"prev": self.prev, "run": self.run, "longest": self.longest, "n": self.n}

    @classmethod
    def from_state(cls, state: dict[str, Any], **params: Any) -> FlatlineDetector:
        obj = cls(**params)
        obj.prev = None if state["prev"] is None else float(state["prev"])
        obj.run, obj.longest, obj.n = int(state["run"]), int(state["longest"]), int(state["n"])
        return obj

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"min_run": 5, "factor": 2.0, "min_points": 5}
