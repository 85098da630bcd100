"""Time-of-day baseline: a reading against what is normal at this hour of the day.

Machines follow shifts and daily load; a value that is ordinary at noon can be a fault at 3 am, and a
global mean/std cannot tell.  The day (UTC) is cut into `buckets`; each bucket keeps an exponentially
weighted mean and variance of its *daily level* (the mean of that bucket's readings on one day), so the
spread is the day-to-day spread of the level, not the spread of consecutive, autocorrelated readings
within the hour (which would make any slow process wander look anomalous).  The reading-to-reading noise
around the hour's level is kept once, pooled over all buckets.

    z = |x - level[b]| / sqrt(var[b] + noise)

A bucket scores only once it has been seen on `min_days` days, so the detector is silent for the first
days of a series and on data without days (a short test run).  O(buckets) state, O(1) work per reading.
"""

from __future__ import annotations

from typing import Any, Final

from flink_job.core.detection.base import Detector, squash
from flink_job.core.detection.stats import floored_std

DAY_MS: Final = 86_400_000
NOISE_ALPHA: Final = 0.01  # the pooled within-bucket noise: a slow property of the sensor


class SeasonalDetector(Detector):
    """Scores 0.5 when a reading is `z50` sigmas from its time-of-day level."""

    name = "seasonal"
    __slots__ = ("buckets", "alpha", "z50", "min_days", "level", "var", "days", "cur", "cur_sum", "cur_n",
                 "noise", "noise_n", "last_stat", "last_bucket")

    param_docs = {
        "buckets": "time-of-day buckets per UTC day (24: one per hour)",
        "alpha": "weight of the newest day in a bucket's level (0.1: a memory of ~10 days)",
        "z50": "sigmas from the bucket's level that score 0.5",
        "min_days": "days a bucket must have been seen on before it scores",
    }

    def __init__(self, buckets: int = 24, alpha: float = 0.1, z50: float = 4.0, min_days: int = 5) -> None:
        if buckets < 1:
            raise ValueError("buckets must be >= 1")
        self.buckets = buckets
        self.alpha = alpha
        self.z50 = z50
        self.min_days = min_days
        self.level = [0.0] * buckets  # EW mean of the bucket's daily level
        self.var = [0.0] * buckets  # EW variance of the daily level
        self.days = [0] * buckets  # days on which the bucket has been learnt
        self.cur = -1  # bucket being accumulated (-1: none yet)
        self.cur_sum = 0.0
        self.cur_n = 0
        self.noise = 0.0  # EW mean square of readings around the running level of their bucket-day
        self.noise_n = 0
        self.last_stat = 0.0
        self.last_bucket = 0

    def bucket(self, ts_ms: int) -> int:
        return (ts_ms % DAY_MS) * self.buckets // DAY_MS

    def score_one(self, x: float, ts_ms: int = 0) -> float:
        b = self.last_bucket = self.bucket(ts_ms)
        if self.days[b] < self.min_days:
            self.last_stat = 0.0
            return 0.0
        level = self.level[b]
        z = abs(x - level) / floored_std(self.var[b] + self.noise, level)
        self.last_stat = z
        return squash(z, self.z50)

    def _roll(self, b: int) -> None:
        """Entering bucket b: fold the finished bucket-day's level into its bucket."""
        if b == self.cur:
            return
        c = self.cur
        if c >= 0 and self.cur_n:
            x = self.cur_sum / self.cur_n
            n = self.days[c] = self.days[c] + 1
            if n == 1:
                self.level[c] = x
            else:
                a = self.alpha if self.alpha * n >= 1.0 else 1.0 / n
                d = x - self.level[c]
                self.level[c] += a * d
                self.var[c] = (1.0 - a) * (self.var[c] + a * d * d)
        self.cur = b
        self.cur_sum = 0.0
        self.cur_n = 0

    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        self._roll(self.bucket(ts_ms))
        if self.cur_n:
            d = x - self.cur_sum / self.cur_n
            self.noise_n += 1
            a = NOISE_ALPHA if NOISE_ALPHA * self.noise_n >= 1.0 else 1.0 / self.noise_n
            self.noise += a * (d * d - self.noise)
        self.cur_sum += x
        self.cur_n += 1

    def track_one(self, x: float, ts_ms: int = 0) -> None:
        # an abnormal reading is not part of its bucket's level, but time still moves on
        self._roll(self.bucket(ts_ms))

    def explain(self) -> str:
        b = self.last_bucket
        start = b * 24 / self.buckets
        return (f"{self.last_stat:.1f} sigmas from the usual level {self.level[b]:.4g} at "
                f"{int(start):02d}:{int(start % 1 * 60):02d} UTC (learnt over {self.days[b]} days)")

    def to_state(self) -> dict[str, Any]:
        return {"level": self.level, "var": self.var, "days": self.days,
                "cur": [self.cur, self.cur_sum, self.cur_n], "noise": [self.noise, self.noise_n]}

    @classmethod
    def from_state(cls, state: dict[str, Any], **params: Any) -> SeasonalDetector:
        obj = cls(**params)
        if len(state["level"]) != obj.buckets:
            return obj  # the bucket count changed: the profile is learnt afresh
        obj.level = [float(v) for v in state["level"]]
        obj.var = [float(v) for v in state["var"]]
        obj.days = [int(v) for v in state["days"]]
        obj.cur, obj.cur_sum, obj.cur_n = int(state["cur"][0]), float(state["cur"][1]), int(state["cur"][2])
        obj.noise, obj.noise_n = float(state["noise"][0]), int(state["noise"][1])
        return obj

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"buckets": 4, "alpha": 0.3, "z50": 3.0, "min_days": 2}
