"""Device readings: the wire format, parsing and validation (pure Python, no PyFlink).

A device publishes one JSON object per sample, carrying any of the three common sensors at the top
level and any other named numeric measurements in a ``measurements`` object::

    {"device_id": "press-0007", "ts": 1764057600000, "seq": 42,
     "temperature": 64.2, "pressure": 5.31, "vibration": 2.4,
     "measurements": {"spindle_rpm": 1480, "motor_current_a": 12.7}}

A record carries at most ``MAX_SENSORS`` measurements in all (the top-level ones plus every entry of
``measurements``); a measurement name matches ``SENSOR_NAME_RE`` whole and is not ``device`` (the name
of device-level verdicts); a null value is "not reported". Thresholds and models are keyed by name.

``ts`` is epoch milliseconds (an ISO-8601 string with a zone is accepted too). Anything that is not
a valid reading becomes a dead letter with a reason: ``parse_reading`` never raises, whatever the
input (a fuzz test holds it to that). A reason's text up to its first colon is a fixed class (the
archive's dead-letters-by-reason query groups by it), details follow the colon. The policy, for
hostile or broken input:

- Strict JSON (RFC 8259): ``NaN``/``Infinity`` literals, duplicate keys (at any depth: parsers
  disagree on which one wins), trailing data, a top-level value other than an object and records
  over ``MAX_RECORD_BYTES`` (UTF-8) are dead letters.
- Bytes that are not UTF-8 reach the parser framed by the source as ``BINARY_PREFIX`` + base64
  (see ``connectors/java/.../RecordText.java``); their dead letter keeps the base64.
- ``device_id`` must match ``DEVICE_ID_RE`` whole (no trailing newline); ``ts`` must lie between
  2000-01-01 and ``max_future_ms`` ahead of the wall clock; sensor values must be finite numbers
  with ``abs(value) <= MAX_ABS_VALUE``.
- A valid reading is archived as ``canonical``: the same object on one line, compact, ASCII-only
  (so ``raw/`` is always JSON lines, whatever whitespace or escapes the device sent), with ``ts``
  in epoch milliseconds (an ISO-8601 ``ts`` is converted), so the archive's tables have one type.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from datetime import date

SENSORS: tuple[str, ...] = ("temperature", "pressure", "vibration")  # at the top level of a record
MEASUREMENTS = "measurements"  # the object holding any other named measurements
MAX_SENSORS = 64  # measurements per record, top level and 'measurements' together
# Letters, digits and '_': a valid column, field and measure name in every store we write to.
SENSOR_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")  # matched whole (fullmatch)
RESERVED_SENSOR = "device"  # the sensor name of device-level verdicts (detection.device.DEVICE)
DEVICE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")  # matched whole (fullmatch)
MAX_RECORD_BYTES = 64 * 1024
# Larger magnitudes are broken firmware, not physics; they would also overflow float() or stores.
MAX_ABS_VALUE = 1e12
# The source's framing of records that are not UTF-8 text (RecordText.java).
BINARY_PREFIX = "\u0000base64:"
# 2000-01-01: anything older is a broken device clock, not history.
MIN_TS_MS = 946_684_800_000
# Deeper nesting is refused before parsing (a fixed limit, not the parser's stack, decides).
MAX_DEPTH = 64
# The ISO-8601 form accepted for 'ts': date, time to the second, optional fraction, a zone.
ISO_TS_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})"
)
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_JSON_WHITESPACE = " \t\n\r"
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class Reading:
    """One valid sample of one device: the measurements it reported, as (name, value) pairs, the
    top-level sensors first (in ``SENSORS`` order), then ``measurements`` in the record's order."""

    device_id: str
    ts_ms: int
    sensors: tuple[tuple[str, float], ...]

    def values(self) -> dict[str, float]:
        """The reported measurements, by name."""
        return dict(self.sensors)


@dataclass(frozen=True)
class ParseResult:
    """Either ``reading`` (and its ``canonical`` one-line JSON) is set, or ``error`` says why the
    record is a dead letter; ``raw_base64`` keeps a record whose bytes are not UTF-8."""

    reading: Reading | None
    error: str | None
    canonical: str | None = None
    raw_base64: str | None = None

    @property
    def ok(self) -> bool:
        return self.reading is not None


def _bad(reason: str, raw_base64: str | None = None) -> ParseResult:
    return ParseResult(None, reason, None, raw_base64)


class _Rejected(ValueError):
    """Strict-JSON violations found while decoding (duplicate keys, NaN/Infinity literals)."""


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _Rejected(f"duplicate key: {_clip(dup)}")
    return obj


def _no_constants(name: str) -> float:
    raise _Rejected(f"not finite: {name} literal (not JSON)")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):  # 1e400 overflows to inf
        raise _Rejected(f"number out of range: {literal[:40]}")
    return value


def _loads(text: str) -> object:
    return json.loads(
        text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants, parse_float=_finite_float
    )


def _unframe(raw: str) -> tuple[str | None, str | None]:
    """(text, None) for a text record; (None, base64) for a framed record that is not UTF-8."""
    if not raw.startswith(BINARY_PREFIX):
        return raw, None
    b64 = raw[len(BINARY_PREFIX) :]
    if len(b64) % 4 or not _BASE64_RE.fullmatch(b64):
        return raw, None  # not our framing after all: parsed (and rejected) as text
    data = base64.b64decode(b64, validate=True)
    try:
        return data.decode("utf-8"), None  # UTF-8 text that began with U+0000
    except UnicodeDecodeError:
        return None, b64


def _parse_ts(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and math.isfinite(raw):
        return int(raw)
    if isinstance(raw, str) and (m := ISO_TS_RE.fullmatch(raw)):
        year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
        if hour > 23 or minute > 59 or second > 59:
            return None
        try:
            days = date(year, month, day).toordinal() - _EPOCH_ORDINAL
        except ValueError:  # no such day (or year 0)
            return None
        millis = int((m[7] or "0")[:3].ljust(3, "0"))
        ms = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis
        zone = m[8]
        if zone != "Z":
            zh, zm = int(zone[1:3]), int(zone[4:6])
            if zh > 23 or zm > 59:
                return None
            ms -= (1 if zone[0] == "+" else -1) * (zh * 60 + zm) * 60_000
        return ms
    return None


def nesting_depth(text: str) -> int:
    """The deepest run of unclosed ``{``/``[`` outside strings (a scan, not a parse)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{" or ch == "[":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == "}" or ch == "]":
            depth -= 1
    return deepest


def _clip(value: object, limit: int = 80) -> str:
    """A JSON value for a dead-letter reason: strings JSON-quoted (first 64 characters), numbers
    as Python prints them, containers by kind; cut to ``limit`` characters."""
    if isinstance(value, str):
        text = json.dumps(value[:64]) + ("..." if len(value) > 64 else "")
    elif value is None or isinstance(value, bool):
        text = json.dumps(value)
    elif isinstance(value, (int, float)):
        text = repr(value)
    else:
        text = "an object" if isinstance(value, dict) else "an array"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_reading(raw: str | bytes | None, now_ms: int, max_future_ms: int = 300_000) -> ParseResult:
    """Parse and validate one record; never raises.

    ``now_ms`` is the wall clock at parse time: timestamps more than ``max_future_ms`` ahead of it
    are rejected, since one device with a clock in the future would otherwise drag the event-time
    watermark ahead and make every other device's readings late.
    """
    try:
        return _parse(raw, now_ms, max_future_ms)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not become a poison pill
        return _bad(f"unparseable record ({type(exc).__name__})")


def _parse(raw: str | bytes | None, now_ms: int, max_future_ms: int) -> ParseResult:
    if raw is None:
        return _bad("empty record")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _bad("not UTF-8", base64.b64encode(raw).decode("ascii"))
    text, b64 = _unframe(raw)
    if text is None:
        return _bad("not UTF-8", b64)
    if not text.strip(_JSON_WHITESPACE):
        return _bad("empty record")
    # characters <= UTF-8 bytes <= 4 * characters: encode only when it can matter
    if len(text) > MAX_RECORD_BYTES or (
        len(text) * 4 > MAX_RECORD_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_RECORD_BYTES
    ):
        return _bad(f"record larger than {MAX_RECORD_BYTES} bytes")
    # counting first keeps the scan off the hot path: a reading has one '{'
    if text.count("{") + text.count("[") > MAX_DEPTH and nesting_depth(text) > MAX_DEPTH:
        return _bad(f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
    try:
        obj = _loads(text)
    except _Rejected as exc:
        return _bad(str(exc))
    except (ValueError, RecursionError) as exc:
        return _bad(f"invalid JSON: {str(exc)[:200]}")
    if not isinstance(obj, dict):
        return _bad(f"JSON {type(obj).__name__} instead of an object")

    device_id = obj.get("device_id")
    if device_id is None:
        return _bad("missing field 'device_id'")
    if not isinstance(device_id, str) or not DEVICE_ID_RE.fullmatch(device_id):
        return _bad(f"invalid 'device_id': {_clip(device_id)}")

    if "ts" not in obj:
        return _bad("missing field 'ts'")
    ts_ms = _parse_ts(obj["ts"])
    if ts_ms is None:
        return _bad(f"invalid 'ts': {_clip(obj['ts'])} (epoch ms or ISO-8601 with zone)")
    if ts_ms < MIN_TS_MS:
        return _bad(f"'ts' before 2000-01-01: {_clip(ts_ms, 40)}")
    if ts_ms > now_ms + max_future_ms:
        ahead = _clip((ts_ms - now_ms) // 1000, 40)
        return _bad(f"'ts' in the future: {_clip(ts_ms, 40)} is {ahead} s ahead of the clock")

    values: dict[str, float] = {}
    for sensor in SENSORS:
        v = obj.get(sensor)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return _bad(f"'{sensor}' is {type(v).__name__}, not a number")
        if abs(v) > MAX_ABS_VALUE:  # finite: the decoder refuses NaN, Infinity and overflow
            return _bad(f"'{sensor}' out of range (|value| > {MAX_ABS_VALUE:g}): {_clip(v, 40)}")
        values[sensor] = float(v)
    if (error := _measurements(obj, values)) is not None:
        return _bad(error)
    if not values:
        return _bad(f"no sensor value (expected any of {', '.join(SENSORS)} or a '{MEASUREMENTS}' object)")
    obj["ts"] = ts_ms  # epoch ms whatever the device sent (ISO text): one type in the archive's tables
    canonical = json.dumps(obj, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return ParseResult(Reading(device_id, ts_ms, tuple(values.items())), None, canonical)


def is_sensor_name(name: str) -> bool:
    """Whether a reading can report a measurement of this name (``SENSOR_NAME_RE``, not ``device``)."""
    return name != RESERVED_SENSOR and SENSOR_NAME_RE.fullmatch(name) is not None


def _measurements(obj: dict, values: dict[str, float]) -> str | None:
    """Adds the ``measurements`` object's entries to ``values``; the dead-letter reason, if any."""
    m = obj.get(MEASUREMENTS)
    if m is None:
        return None
    if not isinstance(m, dict):
        return f"'{MEASUREMENTS}' is {type(m).__name__}, not an object"
    count = len(values) + len(m)  # values: the top-level sensors reported, so far
    if count > MAX_SENSORS:
        return f"too many measurements: {count} (at most {MAX_SENSORS})"
    for name, v in m.items():
        if not is_sensor_name(name):
            return f"invalid measurement name: {_clip(name)}"
        if name in values:
            return f"measurement given twice: {_clip(name)} (top level and '{MEASUREMENTS}')"
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return f"measurement not a number: {_clip(name)} is {type(v).__name__}"
        if abs(v) > MAX_ABS_VALUE:
            return f"measurement out of range (|value| > {MAX_ABS_VALUE:g}): {_clip(name)} is {_clip(v, 40)}"
        values[name] = float(v)
    return None


def dead_letter(result: ParseResult, record: str | None, received_at: str) -> str:
    """The dead-letter JSON line for a refused record: reason, the record (text, or base64 when
    it was not UTF-8) and when it was received (ISO-8601 UTC)."""
    doc: dict[str, object] = {"reason": result.error}
    if result.raw_base64 is not None:
        doc["record_base64"] = result.raw_base64
    else:
        doc["record"] = _unframe(record)[0] if record else record  # as the device sent it
    doc["received_at"] = received_at
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True)
