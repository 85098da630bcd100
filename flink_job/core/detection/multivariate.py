"""Per-device multivariate detector: Hotelling T² of the reading vector against a protected baseline.

A device's sensors are judged jointly, so a fault that shows only as a broken relation between them
(pressure up while temperature drops, vibration up at normal load) scores although every sensor stays
in its own normal range.  T² = (x - mean)ᵀ C⁻¹ (x - mean) over all channels (no PCA truncation: on the
Tennessee Eastman benchmark the full-rank statistic beats batch PCA T²/Q, docs/detection.md).

Life cycle of one model:
- **Commissioning** (the first ``baseline_readings``): learns the mean and covariance (Welford) and scores
  0.  Over its second half it also records the *prequential* T² of each reading (scored before it is
  learnt, so out of sample), whose mean and variance fix the control limit by Box's moment match
  ``g·chi2(h)`` at the quantile ``limit_z`` (Wilson-Hilferty).  No sample is stored: O(d²) state.
- **Monitoring**: T² is mapped to a standard-normal z through the same fit (Wilson-Hilferty), so a
  typical normal reading scores near 0 whatever the number of channels, and the score equals
  ``alert_threshold`` exactly at the control limit (z = ``limit_z``).  ``learn_one`` adapts the
  baseline with exponential forgetting
  ``alpha`` (memory ~1/alpha readings); the caller only calls it on readings judged normal, so a fault
  never becomes the baseline.
- ``relearn()`` starts commissioning again (after maintenance).

The inverse covariance is kept up to date with rank-one (Sherman-Morrison) updates: O(d²) per reading,
pure Python (3.8-safe, no numpy), re-inverted from the covariance every ``REINVERT_EVERY`` updates so
rounding cannot accumulate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

from flink_job.core.detection.stats import is_finite
from flink_job.core.floats import add_up

REINVERT_EVERY: Final = 1000
# Prior on each channel's variance (relative to 1 + its first value squared): keeps C invertible before
# it has seen more readings than channels, and a channel that never moved from dividing by zero.
PRIOR_VARIANCE: Final = 1e-6


def chi2_quantile(h: float, z: float) -> float:
    """Quantile of chi²(h) at the standard-normal quantile z (Wilson-Hilferty; good for h >= 1)."""
    a = 2.0 / (9.0 * h)
    return h * max(1.0 - a + z * math.sqrt(a), 0.0) ** 3


def _invert(m: list[list[float]]) -> list[list[float]]:
    """Inverse of a symmetric positive-definite matrix (Gauss-Jordan with partial pivoting)."""
    n = len(m)
    a = [row[:] + [1.0 if i == j else 0.0 for j in range(n)] for i, row in enumerate(m)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[piv][col]) < 1e-300:
            raise ZeroDivisionError("singular covariance")
        a[col], a[piv] = a[piv], a[col]
        p = a[col][col]
        rowc = [v / p for v in a[col]]
        a[col] = rowc
        for r in range(n):
            if r != col:
                f = a[r][col]
                if f:
                    ar = a[r]
                    a[r] = [x - f * y for x, y in zip(ar, rowc)]
    return [row[n:] for row in a]


def _dot(a: list[float], b: list[float]) -> float:
    """Left to right, as Python <= 3.11's ``sum`` adds floats: 3.12's ``sum`` compensates (MSF runs
    3.12), which would change scores in the last bits and with them an alert on the edge."""
    total = 0.0
    for x, y in zip(a, b):
        total += x * y
    return total


def _matvec(m: list[list[float]], v: list[float]) -> list[float]:
    return [_dot(row, v) for row in m]


class MultivariateDetector:
    """Hotelling T² on a device's channels (sensor names, fixed at construction)."""

    name = "multivariate"
    __slots__ = ("channels", "baseline_readings", "baseline_ms", "alpha", "limit_z", "alert_threshold",
                 "n", "started_ms", "mean", "cov", "inv", "limit", "g", "h", "cal_n", "cal_sum", "cal_sumsq",
                 "updates", "last_stat", "last_contrib", "_scored")

    def __init__(self, channels: Sequence[str], baseline_readings: int = 100, baseline_ms: int = 0,
                 alpha: float = 0.001, limit_z: float = 2.326, alert_threshold: float = 0.6) -> None:
        if not channels:
            raise ValueError("a multivariate model needs at least one channel")
        if not 0.0 < alpha < 1.0:
            raise ValueError("alpha must be in (0, 1)")
        self.channels = tuple(channels)
        self.baseline_readings = max(2, int(baseline_readings))
        self.baseline_ms = int(baseline_ms)
        self.alpha = alpha
        self.limit_z = limit_z
        self.alert_threshold = alert_threshold
        self.relearn()

    # -- life cycle ----------------------------------------------------------------------------------
    def relearn(self) -> None:
        """Forget the baseline and commission again from the next reading."""
        d = len(self.channels)
        self.n = 0
        self.started_ms: int | None = None
        self.mean = [0.0] * d
        self.cov: list[list[float]] = [[0.0] * d for _ in range(d)]  # scatter while commissioning
        self.inv: list[list[float]] = [[0.0] * d for _ in range(d)]
        self.limit: float | None = None  # set when commissioning ends
        self.g, self.h = 1.0, float(d)  # T² ~ g·chi²(h) under the baseline (fitted at the end)
        self.cal_n = 0
        self.cal_sum = 0.0
        self.cal_sumsq = 0.0
        self.updates = 0
        self.last_stat = 0.0
        self.last_contrib: list[float] = [0.0] * d
        self._scored: tuple | None = None  # (x, x - mean, inv (x - mean)) of the last score_one

    @property
    def commissioning(self) -> bool:
        return self.limit is None

    def vector(self, values: dict[str, float]) -> list[float] | None:
        """The reading as a vector in channel order, or None when a channel is missing or not finite."""
        out = []
        for c in self.channels:
            v = values.get(c)
            if v is None or not is_finite(v):
                return None
            out.append(float(v))
        return out

    # -- scoring -------------------------------------------------------------------------------------
    def _t2(self, x: list[float]) -> tuple[float, list[float], list[float]]:
        d = [a - b for a, b in zip(x, self.mean)]
        w = _matvec(self.inv, d)
        return _dot(d, w), d, w

    def score_one(self, x: list[float]) -> float:
        """Score in [0, 1) against the baseline; 0 while commissioning."""
        if self.limit is None:
            self.last_stat = 0.0
            return 0.0
        t2, d, w = self._t2(x)
        self._scored = (x, d, w)  # learn_one(x) right after needs the same d and w
        t2 = max(t2, 0.0)
        self.last_stat = t2
        self.last_contrib = [a * b for a, b in zip(d, w)]
        z = self.z_of(t2)
        if z <= 0.0:
            return 0.0
        # squash(z, z50) with z50 chosen so that z = limit_z scores alert_threshold
        z50sq = self.limit_z * self.limit_z * (1.0 - self.alert_threshold) / self.alert_threshold
        return z * z / (z * z + z50sq)

    def z_of(self, t2: float) -> float:
        """T² as a standard-normal quantile under the fitted g·chi²(h) (Wilson-Hilferty)."""
        a = 2.0 / (9.0 * self.h)
        return ((t2 / (self.g * self.h)) ** (1.0 / 3.0) - 1.0 + a) / math.sqrt(a)

    def contributions(self, top: int = 3) -> list[tuple[str, float]]:
        """The channels behind the last score, largest first, as shares of T² (positive parts)."""
        pos = [max(c, 0.0) for c in self.last_contrib]
        total = add_up(pos)  # left to right, as _dot adds
        if total <= 0.0:
            return []
        ranked = sorted(zip(self.channels, pos), key=lambda p: -p[1])
        return [(name, share / total) for name, share in ranked[:top] if share > 0.0]

    def explain(self) -> str:
        top = ", ".join(f"{n} {100 * s:.0f}%" for n, s in self.contributions())
        return f"T2={self.last_stat:.1f} vs limit {self.limit or 0.0:.1f}; top: {top or '-'}"

    # -- learning ------------------------------------------------------------------------------------
    def learn_one(self, x: list[float], ts_ms: int = 0) -> None:
        """Commission with x, or (after commissioning) adapt the baseline to x with forgetting alpha."""
        if self.limit is None:
            self._commission(x, ts_ms)
        else:
            self._adapt(x)

    def _commission(self, x: list[float], ts_ms: int) -> None:
        self._scored = None
        dim = len(x)
        if self.n == 0:
            self.started_ms = ts_ms
            # scatter prior: a tiny variance per channel, so the inverse exists from the first reading
            self.cov = [[PRIOR_VARIANCE * (1.0 + x[i] * x[i]) if i == j else 0.0 for j in range(dim)]
                        for i in range(dim)]
            self.inv = [[1.0 / self.cov[i][i] if i == j else 0.0 for j in range(dim)] for i in range(dim)]
        elif 2 * self.n >= self.baseline_readings and self.n > dim:
            # prequential T² (x not learnt yet) with the covariance S / (n - 1)
            t2, _, _ = self._t2(x)
            t2 *= self.n - 1
            self.cal_n += 1
            self.cal_sum += t2
            self.cal_sumsq += t2 * t2
        self.n += 1
        d = [a - b for a, b in zip(x, self.mean)]
        self.mean = [m + v / self.n for m, v in zip(self.mean, d)]
        if self.n > 1:
            # Welford: S += (n-1)/n d dᵀ, a symmetric rank-one update of the scatter and its inverse
            self._rank_one(d, (self.n - 1) / self.n)
        if self.n >= self.baseline_readings and (
                self.started_ms is None or ts_ms - self.started_ms >= self.baseline_ms):
            self._finish_commissioning()

    def _finish_commissioning(self) -> None:
        dim = len(self.channels)
        scale = 1.0 / (self.n - 1)
        self.cov = [[v * scale for v in row] for row in self.cov]
        self.inv = _invert(self.cov)
        if self.cal_n >= 10:
            mean = self.cal_sum / self.cal_n
            var = max(self.cal_sumsq / self.cal_n - mean * mean, 1e-12)
            g, h = var / (2.0 * mean), 2.0 * mean * mean / var
        else:  # too short to calibrate: the asymptotic chi²(d)
            g, h = 1.0, float(dim)
        self.g, self.h = max(g, 1e-12), max(h, 0.1)
        self.limit = max(g * chi2_quantile(h, self.limit_z), 1e-9)
        self.updates = 0

    def _adapt(self, x: list[float]) -> None:
        a = self.alpha
        scored, self._scored = self._scored, None
        if scored is not None and scored[0] is x:  # scored just now: the same mean and inverse
            _, d, w = scored
        else:
            d, w = [p - q for p, q in zip(x, self.mean)], None
        self.mean = [m + a * v for m, v in zip(self.mean, d)]
        # C' = (1-a) C + a(1-a) d dᵀ = (1-a) (C + a d dᵀ): the rank-one update and the scaling by
        # (1-a) in one pass over each matrix (the same operations in the same order as two passes)
        self._rank_one(d, a, 1.0 - a, w)
        self.updates += 1
        if self.updates % REINVERT_EVERY == 0:
            self.inv = _invert(self.cov)

    def _rank_one(self, d: list[float], c: float, f: float = 1.0, w: list[float] | None = None) -> None:
        """cov += c d dᵀ, and inv by Sherman-Morrison; then (f != 1) cov *= f and inv /= f, in the
        same pass over each matrix when the update is well-conditioned. ``w`` = inv d, if known."""
        if w is None:
            w = _matvec(self.inv, d)  # from inv alone, so the cov pass below can follow
        denom = 1.0 + c * _dot(d, w)
        ok = denom > 0.0 and is_finite(denom)
        fold = ok and f != 1.0
        cov = self.cov
        for i, di in enumerate(d):
            row = cov[i]
            if di:
                k = c * di
                if fold:
                    cov[i] = [(v + k * dj) * f for v, dj in zip(row, d)]
                else:
                    for j, dj in enumerate(d):
                        row[j] += k * dj
            elif fold:
                cov[i] = [v * f for v in row]
        if not ok:
            self.inv = _invert(cov)
            if f != 1.0:
                self.cov = [[v * f for v in row] for row in cov]
                self.inv = [[v / f for v in row] for row in self.inv]
            return
        k = c / denom
        if fold:
            self.inv = [[(v - k * wi * wj) / f for v, wj in zip(row, w)] for row, wi in zip(self.inv, w)]
        else:
            self.inv = [[v - k * wi * wj for v, wj in zip(row, w)] for row, wi in zip(self.inv, w)]

    # -- state ---------------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {"channels": list(self.channels), "n": self.n, "started_ms": self.started_ms,
                "mean": self.mean, "cov": self.cov, "limit": self.limit, "gh": [self.g, self.h],
                "cal": [self.cal_n, self.cal_sum, self.cal_sumsq], "updates": self.updates,
                "inv": self.inv}

    @classmethod
    def from_state(cls, state: dict[str, Any], **params: Any) -> MultivariateDetector:
        """Rebuild from `to_state()`. The inverse is stored: recomputed, it would differ in the last bits
        from the rank-one-updated one, and a restored device would not score as the running one did."""
        obj = cls(state["channels"], **params)
        obj.n = int(state["n"])
        obj.started_ms = None if state["started_ms"] is None else int(state["started_ms"])
        obj.mean = [float(v) for v in state["mean"]]
        obj.cov = [[float(v) for v in row] for row in state["cov"]]
        obj.limit = None if state["limit"] is None else float(state["limit"])
        obj.g, obj.h = float(state["gh"][0]), float(state["gh"][1])
        obj.cal_n, obj.cal_sum, obj.cal_sumsq = int(state["cal"][0]), float(state["cal"][1]), float(
            state["cal"][2])
        obj.updates = int(state["updates"])
        inv = state.get("inv")  # absent in states written before it was stored
        if inv and len(inv) == len(obj.cov) and all(len(row) == len(obj.cov) for row in inv):
            obj.inv = [[float(v) for v in row] for row in inv]
        elif obj.n > 0:
            obj.inv = _invert(obj.cov)
        return obj
