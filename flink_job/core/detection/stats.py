"""Tiny running statistics (river-style): `update(x)` then read properties.  All are O(1) per update
except the rolling median/MAD, which is O(log n) search plus an O(n) memmove in C."""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from typing import Final

_INF: Final = float("inf")


def is_finite(x: float) -> bool:
    """``math.isfinite`` for the hot path: compiled (mypyc), math's is a boxed call by name, this two
    comparisons of a C double (NaN compares false)."""
    return -_INF < x < _INF


def max_of(values: list[float]) -> float:
    """``max(values)`` of a non-empty list as a compiled loop (the builtin is a boxed call by name);
    like the builtin, the first of equal values wins and NaN never replaces the current maximum."""
    best = values[0]
    for v in values:
        if v > best:
            best = v
    return best


def floored_std(var: float, ref: float) -> float:
    """sqrt(var), but at least 1e-9 * (1 + |ref|): a perfectly constant window stays finite, and any
    change from it is then extreme."""
    floor = 1e-9 * (1.0 + abs(ref))
    return math.sqrt(var) if var > floor * floor else floor


class RollingMeanVar:
    """Mean and population variance over the last `window` values (ring buffer, sliding Welford)."""

    __slots__ = ("window", "buf", "pos", "n", "mean", "m2", "_since_refresh")

    def __init__(self, window: int) -> None:
        if window < 2:
            raise ValueError("window must be >= 2")
        self.window = window
        self.buf: list[float] = []
        self.pos = 0
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self._since_refresh = 0

    def update(self, x: float) -> None:
        if self.n < self.window:
            self.buf.append(x)
            self.n += 1
            d = x - self.mean
            self.mean += d / self.n
            self.m2 += d * (x - self.mean)
            return
        old = self.buf[self.pos]
        self.buf[self.pos] = x
        self.pos += 1
        if self.pos == self.window:
            self.pos = 0
        old_mean = self.mean
        self.mean = old_mean + (x - old) / self.window
        self.m2 += (x - old) * (x - self.mean + old - old_mean)
        self._since_refresh += 1
        if self._since_refresh >= self.window:
            # Sliding updates accumulate rounding error; an exact recompute once per window is O(1) amortised.
            self._refresh()

    def _refresh(self) -> None:
        self._since_refresh = 0
        m = math.fsum(self.buf) / self.n
        self.mean = m
        self.m2 = math.fsum((v - m) * (v - m) for v in self.buf)

    @property
    def var(self) -> float:
        return self.m2 / self.n if self.n > 1 and self.m2 > 0.0 else 0.0

    @property
    def std(self) -> float:
        return math.sqrt(self.var)

    def values(self) -> list[float]:
        """Values in arrival order (oldest first)."""
        return self.buf[self.pos:] + self.buf[: self.pos] if self.n == self.window else list(self.buf)

    def to_state(self) -> dict:
        # The running sums are saved as they are: recomputing them from the values would round
        # differently, and a restored series must give bit-identical scores.
        return {"window": self.window, "values": self.values(), "mean": self.mean, "m2": self.m2,
                "since_refresh": self._since_refresh}

    @classmethod
    def from_state(cls, state: dict, window: int | None = None) -> RollingMeanVar:
        """Restore exactly; if the window size changed, rebuild by replaying the saved values."""
        obj = cls(window or int(state["window"]))
        values = [float(v) for v in state["values"]]
        if obj.window == int(state["window"]) and "mean" in state:
            obj.buf = values
            obj.n = len(values)
            obj.pos = 0
            obj.mean, obj.m2 = float(state["mean"]), float(state["m2"])
            obj._since_refresh = int(state["since_refresh"])
            return obj
        for v in values[-obj.window:]:
            obj.update(v)
        return obj


class EWMeanVar:
    """Exponentially weighted mean and variance (West's incremental form)."""

    __slots__ = ("alpha", "mean", "var", "n")

    def __init__(self, alpha: float) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha
        self.mean = 0.0
        self.var = 0.0
        self.n = 0

    def update(self, x: float) -> None:
        if self.n == 0:
            self.mean = x
            self.n = 1
            return
        self.n += 1
        # Until 1/alpha readings have been seen, weigh them equally (running mean/variance): a plain EW
        # variance starts at 0 and would under-estimate the spread for hundreds of readings.
        a = self.alpha if self.alpha * self.n >= 1.0 else 1.0 / self.n
        d = x - self.mean
        incr = a * d
        self.mean += incr
        self.var = (1.0 - a) * (self.var + d * incr)

    @property
    def std(self) -> float:
        return math.sqrt(self.var) if self.var > 0.0 else 0.0

    def to_state(self) -> dict:
        return {"mean": self.mean, "var": self.var, "n": self.n}

    @classmethod
    def from_state(cls, state: dict, alpha: float) -> EWMeanVar:
        obj = cls(alpha)
        obj.mean, obj.var, obj.n = float(state["mean"]), float(state["var"]), int(state["n"])
        return obj


class RollingMedianMAD:
    """Median and median absolute deviation over the last `window` values.

    Keeps the window sorted (bisect); the MAD is the k-th smallest distance to the median, found by a
    binary search over the two sorted distance sequences either side of the median: O(log n), no copy.
    For an even count the lower median is used (for both the median and the MAD).
    """

    __slots__ = ("window", "ring", "pos", "sorted")

    def __init__(self, window: int) -> None:
        if window < 3:
            raise ValueError("window must be >= 3")
        self.window = window
        self.ring: list[float] = []
        self.pos = 0
        self.sorted: list[float] = []

    @property
    def n(self) -> int:
        return len(self.ring)

    def update(self, x: float) -> None:
        srt = self.sorted
        if len(self.ring) < self.window:
            self.ring.append(x)
        else:
            old = self.ring[self.pos]
            self.ring[self.pos] = x
            self.pos = (self.pos + 1) % self.window
            del srt[bisect_left(srt, old)]
        insort(srt, x)

    @property
    def median(self) -> float:
        srt = self.sorted
        return srt[(len(srt) - 1) // 2] if srt else 0.0

    @property
    def mad(self) -> float:
        a = self.sorted
        n = len(a)
        if n == 0:
            return 0.0
        m = a[(n - 1) // 2]
        return kth_distance(a, m, (n - 1) // 2)

    def values(self) -> list[float]:
        if len(self.ring) < self.window:
            return list(self.ring)
        return self.ring[self.pos:] + self.ring[: self.pos]

    def to_state(self) -> dict:
        return {"window": self.window, "values": self.values()}

    @classmethod
    def from_state(cls, state: dict, window: int | None = None) -> RollingMedianMAD:
        obj = cls(window or int(state["window"]))
        for v in state["values"][-obj.window:]:
            obj.update(float(v))
        return obj


def kth_distance(a: list[float], m: float, k: int) -> float:
    """k-th smallest (0-based) of |a_i - m| for a sorted list a, in O(log n).

    Left distances m - a[p-1-t] and right distances a[p+t] - m are both increasing in t, so this is the
    classic k-th element of two sorted arrays.
    """
    p = bisect_left(a, m)
    nl, nr = p, len(a) - p
    take = k + 1
    lo, hi = max(0, take - nr), min(take, nl)
    while True:
        i = (lo + hi) // 2  # distances taken from the left side
        j = take - i
        if i < nl and j > 0 and a[p + j - 1] - m > m - a[p - 1 - i]:
            lo = i + 1
        elif i > 0 and j < nr and m - a[p - i] > a[p + j] - m:
            hi = i - 1
        else:
            break
    left = m - a[p - i] if i > 0 else -math.inf
    right = a[p + j - 1] - m if j > 0 else -math.inf
    return left if left > right else right


def ew_alpha(window: int) -> float:
    """The EW weight whose average age matches a sliding window of `window` readings."""
    return 2.0 / (window + 1.0)


def load_ew(state: dict, alpha: float) -> EWMeanVar:
    """EW statistics from a state; a sliding-window state (v1) is replayed into them."""
    if "ew" in state:
        return EWMeanVar.from_state(state["ew"], alpha)
    ew = EWMeanVar(alpha)
    for v in RollingMeanVar.from_state(state["stats"]).values():
        ew.update(v)
    return ew
