"""Device readings: the wire format, parsing and validation (pure Python, no PyFlink).

A device publishes one JSON object per sample, carrying any of the known sensors::

    {"device_id": "press-0007", "ts": 1764057600000, "seq": 42,
     "temperature": 64.2, "pressure": 5.31, "vibration": 2.4}

``ts`` is epoch milliseconds (an ISO-8601 string is accepted too). Anything that is not a
valid reading becomes a dead letter with a reason; parsing never raises.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime

SENSORS: tuple[str, ...] = ("temperature", "pressure", "vibration")
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_RECORD_BYTES = 64 * 1024
# 2000-01-01: anything older is a broken device clock, not history.
MIN_TS_MS = 946_684_800_000


@dataclass(frozen=True)
class Reading:
    """One valid sample of one device; sensors it did not report are None."""

    device_id: str
    ts_ms: int
    temperature: float | None
    pressure: float | None
    vibration: float | None

    def values(self) -> dict[str, float]:
        """The reported sensors, by name."""
        return {s: v for s in SENSORS if (v := getattr(self, s)) is not None}


@dataclass(frozen=True)
class ParseResult:
    """Either ``reading`` is set, or ``error`` says why the record is a dead letter."""

    reading: Reading | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.reading is not None


def _bad(reason: str) -> ParseResult:
    return ParseResult(None, reason)


def _parse_ts(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and math.isfinite(raw):
        return int(raw)
    if isinstance(raw, str):
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            return None
        return int(dt.timestamp() * 1000)
    return None


def parse_reading(raw: str | bytes | None, now_ms: int, max_future_ms: int = 300_000) -> ParseResult:
    """Parse and validate one record.

    ``now_ms`` is the wall clock at parse time: timestamps more than ``max_future_ms`` ahead of it
    are rejected, since one device with a clock in the future would otherwise drag the event-time
    watermark ahead and make every other device's readings late.
    """
    if raw is None:
        return _bad("empty record")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _bad("not UTF-8")
    if len(raw) > MAX_RECORD_BYTES:
        return _bad(f"record larger than {MAX_RECORD_BYTES} bytes")
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return _bad(f"invalid JSON: {exc}")
    if not isinstance(obj, dict):
        return _bad(f"JSON {type(obj).__name__} instead of an object")

    device_id = obj.get("device_id")
    if device_id is None:
        return _bad("missing field 'device_id'")
    if not isinstance(device_id, str) or not DEVICE_ID_RE.match(device_id):
        return _bad(f"invalid 'device_id': {device_id!r}")

    if "ts" not in obj:
        return _bad("missing field 'ts'")
    ts_ms = _parse_ts(obj["ts"])
    if ts_ms is None:
        return _bad(f"invalid 'ts': {obj['ts']!r} (epoch ms or ISO-8601 with zone)")
    if ts_ms < MIN_TS_MS:
        return _bad(f"'ts' {ts_ms} before 2000-01-01")
    if ts_ms > now_ms + max_future_ms:
        return _bad(f"'ts' {ts_ms} is {(ts_ms - now_ms) // 1000} s in the future")

    values: dict[str, float | None] = {}
    for sensor in SENSORS:
        v = obj.get(sensor)
        if v is None:
            values[sensor] = None
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return _bad(f"'{sensor}' is {type(v).__name__}, not a number")
        v = float(v)
        if not math.isfinite(v):
            return _bad(f"'{sensor}' is not finite")
        values[sensor] = v
    if all(v is None for v in values.values()):
        return _bad(f"no sensor value (expected any of {', '.join(SENSORS)})")
    return ParseResult(Reading(device_id, ts_ms, **values), None)
