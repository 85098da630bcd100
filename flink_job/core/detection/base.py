"""The detector API shared by every windowed detector (river-like).

A detector scores a reading against what it has learnt so far (`score_one`, no side effect) and then
learns it (`learn_one`).  `score_learn_one` does both in one call: it is what the monitor's hot path uses.
Scores are in [0, 1]; a detector that has seen fewer than its warm-up count scores 0.  Deciding (alert,
episode, recovery) is not a detector's job: see alerting.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Final


def squash(z: float, z50: float) -> float:
    """Map a non-negative statistic to [0, 1): 0 at z=0, 0.5 at z=z50, 0.8 at 2*z50, 0.9 at 3*z50."""
    if z <= 0.0:
        return 0.0
    zz = z * z
    return zz / (zz + z50 * z50)


def unsquash(score: float, z50: float) -> float:
    """Inverse of `squash` (the statistic a score stands for), for explanations."""
    if score <= 0.0:
        return 0.0
    if score >= 1.0:
        return float("inf")
    return z50 * (score / (1.0 - score)) ** 0.5


# Readings a detector learns before it scores at all: one setting (detection.min_points) for every
# detector that has a ``min_points`` parameter.
MIN_POINTS: Final = 100


class Detector(ABC):
    """One windowed detector for one series.

    Its parameters are its constructor's keyword arguments, declared once: their defaults are the
    job's defaults, ``param_docs`` describes each, and the detection group's keys are derived from
    them (``<name>_<param>``, a trailing ``_`` dropped; ``min_points`` is one shared key).
    """

    name: ClassVar[str]
    param_docs: ClassVar[dict[str, str]] = {}
    #: The statistic (e.g. |z|) behind the last score, for the human-readable reason.
    last_stat: float

    @abstractmethod
    def score_one(self, x: float, ts_ms: int = 0) -> float:
        """Score x in [0, 1] against the current state, without learning it."""

    @abstractmethod
    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        """Update the state with x."""

    def track_one(self, x: float, ts_ms: int = 0) -> None:  # noqa: B027 - an optional hook, no-op by default
        """Follow x without learning it into the baseline (a reading judged abnormal).

        Sequence state (the EWMA chart statistic, the previous reading of a step or a flat run) must
        still follow the signal, or every later reading would be compared with the last normal one and
        an episode could not end; the baseline statistics stay protected.  Default: no sequence state.
        """

    def score_learn_one(self, x: float, ts_ms: int = 0) -> float:
        """Score x, then learn it (hot path; subclasses inline this)."""
        s = self.score_one(x, ts_ms)
        self.learn_one(x, ts_ms)
        return s

    @abstractmethod
    def explain(self) -> str:
        """Short text for the last score, e.g. '|z|=7.1 vs mean 60.2 std 1.9'."""

    @abstractmethod
    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable state (parameters come from the config, not from the state)."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: dict[str, Any], **params: Any) -> Detector:
        """Rebuild from `to_state()` output with the given parameters."""

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        """Small parameters for the generic conformance test."""
        return {}


class RollingStatsDetector(Detector):
    """A detector whose whole state is one rolling statistic, `stats`, over the last `window` readings.

    Subclasses set `stats_type` (the statistic's class, restored with `from_state(state, window)`) and
    implement `score_one` and `explain`; learning and the state round trip are shared.
    """

    stats_type: ClassVar[Any]  # e.g. RollingMeanVar (stats.py)
    window: int
    stats: Any

    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        self.stats.update(x)

    def score_learn_one(self, x: float, ts_ms: int = 0) -> float:
        s = self.score_one(x)
        self.stats.update(x)
        return s

    def to_state(self) -> dict[str, Any]:
        return {"stats": self.stats.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any], **params: Any) -> RollingStatsDetector:
        obj = cls(**params)
        obj.stats = cls.stats_type.from_state(state["stats"], obj.window)
        return obj
