"""Silent-device check: no reading for `timeout_ms` of event (or processing) time."""

from __future__ import annotations

from typing import Any


class SilenceCheck:
    """Tracks the last reading time; `check(now)` reports (silent, onset)."""

    name = "silence"
    __slots__ = ("timeout_ms", "last_ts", "silent")

    def __init__(self, timeout_ms: int = 60_000) -> None:
        self.timeout_ms = timeout_ms
        self.last_ts: int | None = None
        self.silent = False

    def seen(self, ts_ms: int) -> None:
        """A reading arrived: the series is not silent (recovery)."""
        if self.last_ts is None or ts_ms > self.last_ts:
            self.last_ts = ts_ms
        self.silent = False

    def check(self, now_ms: int) -> tuple[bool, bool]:
        """(silent, onset): onset is true only on the first check that finds the series silent."""
        if self.last_ts is None or now_ms - self.last_ts < self.timeout_ms:
            return False, False
        onset = not self.silent
        self.silent = True
        return True, onset

    def to_state(self) -> dict[str, Any]:
        return {"last_ts": self.last_ts, "silent": self.silent}

    def load_state(self, state: dict[str, Any]) -> None:
        self.last_ts = None if state["last_ts"] is None else int(state["last_ts"])
        self.silent = bool(state["silent"])
