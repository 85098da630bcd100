"""Static thresholds per series: warning and critical levels, low and/or high, with hysteresis.

A level, once crossed, holds until the reading is back inside it by a band of
hysteresis_fraction * |level|, so a reading that hovers at a limit does not flap between states.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

# Final: compiled (mypyc), a use is the constant itself, not a lookup in the module's globals
OK: Final = 0
WARNING: Final = 1
CRITICAL: Final = 2
LEVEL_NAMES = ("warning_low", "critical_low", "warning_high", "critical_high")


@dataclass(frozen=True)
class Levels:
    """Resolved static levels of one (device, sensor) series; None = no such limit."""

    warning_low: float | None = None
    critical_low: float | None = None
    warning_high: float | None = None
    critical_high: float | None = None
    hysteresis_fraction: float = 0.02

    @property
    def empty(self) -> bool:
        return (self.warning_low is None and self.critical_low is None and self.warning_high is None
                and self.critical_high is None)

    def problems(self) -> list[tuple[str, str]]:
        """(level name, message) for every inconsistency, e.g. warning_high above critical_high."""
        out = []
        if self.warning_high is not None and self.critical_high is not None \
                and self.warning_high > self.critical_high:
            out.append(("warning_high", f"{self.warning_high} is above critical_high {self.critical_high}"))
        if self.warning_low is not None and self.critical_low is not None \
                and self.warning_low < self.critical_low:
            out.append(("warning_low", f"{self.warning_low} is below critical_low {self.critical_low}"))
        lows = [v for v in (self.warning_low, self.critical_low) if v is not None]
        highs = [v for v in (self.warning_high, self.critical_high) if v is not None]
        if lows and highs and max(lows) >= min(highs):
            out.append(("warning_low", "low levels must be below high levels"))
        if not 0.0 <= self.hysteresis_fraction < 1.0:
            out.append(("hysteresis_fraction", "must be in [0, 1)"))
        return out


class ThresholdDetector:
    """Evaluates readings against `Levels` with hysteresis; keeps the current level of each side."""

    name = "threshold"
    __slots__ = ("levels", "high", "low", "last_reason", "_bands")

    def __init__(self, levels: Levels) -> None:
        self.levels = levels
        self.high = OK
        self.low = OK
        self.last_reason = ""
        f = levels.hysteresis_fraction
        limits = (levels.warning_low, levels.critical_low, levels.warning_high, levels.critical_high)
        self._bands = tuple(0.0 if v is None else f * abs(v) for v in limits)

    def level(self, x: float) -> int:
        """Update the state with x and return OK, WARNING or CRITICAL (the worse side)."""
        lv = self.levels
        b_wl, b_cl, b_wh, b_ch = self._bands
        high = OK
        if lv.critical_high is not None and (x >= lv.critical_high or (
                self.high == CRITICAL and x > lv.critical_high - b_ch)):
            high = CRITICAL
        elif lv.warning_high is not None and (x >= lv.warning_high or (
                self.high >= WARNING and x > lv.warning_high - b_wh)):
            high = WARNING
        low = OK
        if lv.critical_low is not None and (x <= lv.critical_low or (
                self.low == CRITICAL and x < lv.critical_low + b_cl)):
            low = CRITICAL
        elif lv.warning_low is not None and (x <= lv.warning_low or (
                self.low >= WARNING and x < lv.warning_low + b_wl)):
            low = WARNING
        self.high, self.low = high, low
        if high >= low:
            if high == OK:
                self.last_reason = ""
            else:
                name = "critical_high" if high == CRITICAL else "warning_high"
                limit = lv.critical_high if high == CRITICAL else lv.warning_high
                op = ">=" if x >= limit else "still near"  # type: ignore[operator]
                self.last_reason = f"{x:.4g} {op} {name} {limit:.4g}"
            return high
        name = "critical_low" if low == CRITICAL else "warning_low"
        limit = lv.critical_low if low == CRITICAL else lv.warning_low
        op = "<=" if x <= limit else "still near"  # type: ignore[operator]
        self.last_reason = f"{x:.4g} {op} {name} {limit:.4g}"
        return low

    def to_state(self) -> dict[str, Any]:
        return {"high": self.high, "low": self.low}

    @classmethod
    def from_state(cls, state: dict[str, Any], levels: Levels) -> ThresholdDetector:
        obj = cls(levels)
        obj.high, obj.low = int(state["high"]), int(state["low"])
        return obj
