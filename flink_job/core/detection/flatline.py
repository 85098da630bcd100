"""Flatline (stuck sensor): a run of readings that do not move, longer than this series' normal runs.

A reading "does not move" when |x - previous| <= abs_tol + rel_tol * |previous|.  Quantised or idle
signals repeat values normally, so the limit is max(min_run, factor * longest normal run seen); after
warm-up, runs that reached the limit are not learnt as normal, so a stuck episode does not desensitise the
detector while it lasts.  A run over the limit that ends by itself (the sensor moves again) raises the
limit to that run's length: an idle period that recurs alerts again only when it lasts longer.
"""

from __future__ import annotations

import math
from typing import Any

from flink_job.core.detection.base import MIN_POINTS, Detector


class FlatlineDetector(Detector):
    """Scores 0.5 when the current run reaches the limit, rising towards 1 as it grows (0 below min_run)."""

    name = "flatline"
    __slots__ = ("min_run", "factor", "abs_tol", "rel_tol", "min_points", "prev", "run", "longest",
                 "n", "last_stat")

    param_docs = {
        "min_run": "a flat run shorter than this never scores",
        "factor": "limit = max(min_run, factor x the longest normal run)",
        "abs_tol": "|x - prev| <= abs_tol + rel_tol x |prev| counts as not moving",
        "rel_tol": "see abs_tol",
    }

    def __init__(self, min_run: int = 30, factor: float = 2.0, abs_tol: float = 0.0, rel_tol: float = 0.0,
                 min_points: int = MIN_POINTS) -> None:
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
        self.last_stat = float(run)
        rr = r * r
        return rr / (rr + 1.0)

    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        if self._flat(x):
            self.run += 1
        else:
            self._run_ended(learn=True)
        self.prev = x
        self.n += 1

    def track_one(self, x: float, ts_ms: int = 0) -> None:
        # the run goes on (a stuck sensor keeps scoring higher); a normal run is not learnt here
        if self._flat(x):
            self.run += 1
        else:
            self._run_ended(learn=False)
        self.prev = x

    def _run_ended(self, learn: bool) -> None:
        run = self.run
        if run > self.longest:
            # runs completed during warm-up are always normal (they teach quantised signals their usual runs)
            if self.n < self.min_points or run < self.limit():
                if learn:
                    self.longest = run
            else:
                # an abnormal run that ended by itself: the same length no longer alerts
                self.longest = max(self.longest, math.ceil(run / self.factor))
        self.run = 0

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
