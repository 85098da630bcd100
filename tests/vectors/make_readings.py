"""The shared test vectors of the record parser: Python reference and JVM twin must agree on each.

``readings.jsonl`` holds one vector per line: the input (``record``, ``now_ms``, ``max_future_ms``)
and the expected result, as ``expected()`` computes it with the Python reference
(``flink_job/core/records.py``). ``tests/unit/test_reading_vectors.py`` checks that file is current;
the JVM's ``ReadingsVectorsTest`` checks ``com.iotanomaly.records.Readings`` against it.
Regenerate after a deliberate change of the policy: ``python tests/vectors/make_readings.py``.
"""

# ruff: noqa: E501 - a table of test records reads best one per line

from __future__ import annotations

import base64
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from flink_job.core.records import BINARY_PREFIX, MAX_RECORD_BYTES, dead_letter, parse_reading  # noqa: E402

PATH = Path(__file__).with_name("readings.jsonl")
NOW = 1_764_057_600_000
MAX_FUTURE = 300_000


def expected(record: str | None, now_ms: int = NOW, max_future_ms: int = MAX_FUTURE) -> dict:
    """The reference's result for one record, in the shape the JVM's ParseCli prints."""
    res = parse_reading(record, now_ms, max_future_ms)
    r = res.reading
    received_at = datetime.fromtimestamp(now_ms / 1000, UTC).isoformat(timespec="milliseconds")
    return {
        "error": res.error,
        "canonical": res.canonical,
        "device_id": r.device_id if r else None,
        "ts": r.ts_ms if r else None,
        "values": r.values() if r else {},
        "dead_letter": None if r else dead_letter(res, record, received_at),
    }


def _r(**fields: object) -> str:
    return json.dumps({"device_id": "press-0007", "ts": NOW - 1000, "temperature": 64.2, **fields})


def _t(text: str) -> str:
    return text.replace("%NOW", str(NOW))


def inputs() -> list[tuple[str, str | None]]:
    """(name, record) pairs: valid readings, every refusal class, and the parser's corner cases."""
    framed = lambda data: BINARY_PREFIX + base64.b64encode(data).decode()  # noqa: E731
    v: list[tuple[str, str | None]] = [
        ("valid", _r()),
        ("valid all sensors and extras", _r(pressure=5, vibration=-0.25, seq=3, meta={"fw": "1.2", "t": [1, 2.5]})),
        ("valid pretty printed", json.dumps(json.loads(_r(meta={"a": [True, False, None]})), indent=4)),
        ("valid unicode and escapes kept", _t('{"device_id":"d-1","ts":%NOW,"temperature":1,'
                                             '"note":"\\u00e9\u00e9 \\ud83d\\ude00\U0001f600 \\/ \\"q\\" \\b\\f\\n\\r\\t"}')),
        ("valid lone surrogate escape", _t('{"device_id":"d-1","ts":%NOW,"temperature":1,"n":"\\ud800x\\udc00"}')),
        ("valid high then non-low escape", _t('{"device_id":"d-1","ts":%NOW,"temperature":1,"n":"\\ud800\\u0041"}')),
        ("valid float forms", _t('{"device_id":"d","ts":%NOW,"temperature":1E2,"pressure":-0.0,"vibration":2.50e-3,'
                                 '"a":[1e16,1e15,0.0001,0.00001,123456789012345678.0,1.5e300,5e-324,-0]}')),
        ("valid int sensor", _r(temperature=-1_000_000_000_000)),
        ("valid ts float", _r(ts=(NOW - 1000) + 0.75)),
        ("valid ts iso Z", _r(ts="2025-11-25T07:59:59.500Z")),
        ("valid ts iso offset", _r(ts="2025-11-25T08:59:59+01:00")),
        ("valid ts iso space and 9 fraction digits", _r(ts="2025-11-25 07:59:59.123456789Z")),
        ("valid ts iso negative offset", _r(ts="2025-11-25T02:29:59-05:30")),
        ("valid ts at the future limit", _r(ts=NOW + MAX_FUTURE)),
        ("valid only pressure", json.dumps({"device_id": "a.b:c_d-9", "ts": NOW, "pressure": 5.5})),
        ("valid whitespace around", "\r\n\t " + _r() + " \n"),
        ("valid framed utf8 text", framed(_r().encode())),
        ("null record", None),
        ("empty", ""),
        ("json whitespace only", " \t\r\n"),
        ("nbsp only", "\u00a0"),
        ("unicode space only", "\u2003\u3000"),
        ("not utf8 framed", framed(b'{"device_id": "d", "ts": 1, "temperature": \xff}')),
        ("framed overlong and cesu", framed(b"\xc0\xaf\x00 garbage \xed\xa0\x80")),
        ("framed nul text", framed(("\u0000" + _r()).encode())),
        ("prefix bad base64", BINARY_PREFIX + "!!! not base64"),
        ("prefix base64 no padding", BINARY_PREFIX + "YWJj" + "YQ"),
        ("prefix base64 one pad", BINARY_PREFIX + "YWI="),
        ("prefix empty base64", BINARY_PREFIX),
        ("nul then json", "\u0000" + _r()),
        ("bom", "\ufeff" + _r()),
        ("too large ascii", json.dumps({"device_id": "d", "ts": NOW, "temperature": 1, "pad": "x" * MAX_RECORD_BYTES})),
        ("too large multibyte", json.dumps({"device_id": "d", "ts": NOW, "temperature": 1,
                                            "pad": "\u20ac" * (MAX_RECORD_BYTES // 3 + 1)}, ensure_ascii=False)),
        ("too large astral", "\U0001f600" * (MAX_RECORD_BYTES // 4 + 1)),
        ("deep arrays", "[" * 65 + "]" * 65),
        ("depth 64 ok then not object", "[" * 64 + "]" * 64),
        ("deep objects", '{"a":' * 70 + "1" + "}" * 70),
        ("deep brackets inside strings do not count", json.dumps({"device_id": "d", "ts": NOW, "temperature": 1,
                                                                  "s": "[" * 100 + '\\"{' * 40})),
        ("unbalanced closers", "]" * 70 + "[" * 70),
        ("unterminated", "{"),
        ("unterminated string", '{"device_id": "d'),
        ("unterminated after escape", '{"device_id": "d\\'),
        ("escaped quote at end", '"a\\"'),
        ("trailing data", '{"device_id": "d"} trailing'),
        ("two objects", _r() + _r()),
        ("trailing comma object", '{"a":1,}'),
        ("trailing comma array", "[1,]"),
        ("missing colon", '{"a" 1}'),
        ("missing comma", '{"a":1 "b":2}'),
        ("single quotes", "{'a': 1}"),
        ("bare word", "hello"),
        ("multi line error position", '{\n  "a": 1,\n  "b": tru\n}'),
        ("error after astral char", '{"n": "\U0001f600\U0001f600", x}'),
        ("control char in string", _t('{"device_id": "d", "ts": %NOW, "temperature": 1, "x": "a\tb"}')),
        ("bad escape", '{"a": "\\x41"}'),
        ("short unicode escape", '{"a": "\\u12"}'),
        ("bad hex unicode escape", '{"a": "\\u12G4"}'),
        ("unicode escape at end", '"\\u0041'),
        ("bad low surrogate hex", '{"a": "\\ud800\\uZZZZ"}'),
        ("fullwidth digit in escape", '{"a": "\\u00\uff11\uff11"}'),
        ("leading zeros", '{"a": 01}'),
        ("minus alone", "-"),
        ("minus then letter", "[-x]"),
        ("dot without digits", "[1.]"),
        ("exponent without digits", "[1e]"),
        ("exponent sign only", "[1e+]"),
        ("plus sign", "[+1]"),
        ("nul literal prefix", "[nul]"),
        ("truncated true", "tru"),
        ("truncated false", "[fals"),
        ("nan", _t('{"device_id": "d", "ts": %NOW, "temperature": NaN}')),
        ("minus infinity", _t('{"device_id": "d", "ts": %NOW, "temperature": -Infinity}')),
        ("infinity elsewhere", _t('{"device_id": "d", "ts": %NOW, "temperature": 1, "x": Infinity}')),
        ("truncated infinity", "[Infinit"),
        ("float overflow", _t('{"device_id": "d", "ts": %NOW, "temperature": 1e400}')),
        ("float overflow nested", _t('{"device_id": "d", "ts": %NOW, "temperature": 1, "x": [-1e999]}')),
        ("float overflow long literal", "[" + "9" * 500 + ".0]"),
        ("int too many digits", '{"device_id": "d", "ts": 1%s, "temperature": 1}' % ("0" * 5000)),
        ("negative int too many digits", "[-" + "7" * 4301 + "]"),
        ("int at the digit limit", "[" + "7" * 4300 + "]"),
        ("ints around the long fast path", _t('{"device_id":"d","ts":%NOW,"temperature":999999999999999999,'
                                              '"pressure":-999999999999999999,"vibration":-0,'
                                              '"a":[1000000000000000000,9223372036854775807,9223372036854775808,'
                                              '-9223372036854775809,123456789012345678901234567890]}')),
        ("temperature 19-digit int", _r(temperature=1000000000000000000)),
        ("duplicate key", _t('{"device_id": "a", "device_id": "b", "ts": %NOW, "temperature": 1}')),
        ("duplicate equal values", _t('{"device_id":"d","ts":%NOW,"ts":%NOW,"temperature":1}')),
        ("duplicate nested", _t('{"device_id": "a", "ts": %NOW, "temperature": 1, "m": {"k": 1, "k": 2}}')),
        ("duplicate long unicode key", '{"%s": 1, "%s": 2}'.replace("%s", "\u00e9" * 70)),
        ("duplicate before later syntax error", '{"m": {"k": 1, "k": 2}, x}'),
        ("syntax error before duplicate closes", '{"k": 1, "k": 2, x}'),
        ("array", "[1, 2]"),
        ("string", '"text"'),
        ("int", "42"),
        ("float", "4.5"),
        ("true", "true"),
        ("null", "null"),
        ("missing device", json.dumps({"ts": NOW, "temperature": 1})),
        ("null device", _r(device_id=None)),
        ("device newline", _r(device_id="d-1\n")),
        ("device space", _r(device_id="d 1")),
        ("device nul", _r(device_id="d\u0000")),
        ("device accents", _r(device_id="\u00e9t\u00e9")),
        ("device too long", _r(device_id="x" * 65)),
        ("device very long unicode", _r(device_id="\u00e9" * 100)),
        ("device int", _r(device_id=7)),
        ("device float", _r(device_id=7.25)),
        ("device object", _r(device_id={"a": 1})),
        ("device array", _r(device_id=[1])),
        ("device bool", _r(device_id=True)),
        ("device leading dash", _r(device_id="-d")),
        ("device fullwidth digit", _r(device_id="\uff11")),
        ("missing ts", json.dumps({"device_id": "d", "temperature": 1})),
        ("null ts", _r(ts=None)),
        ("bool ts", _r(ts=True)),
        ("text ts", _r(ts="yesterday")),
        ("iso without zone", _r(ts="2026-12-01T10:00:00")),
        ("iso date only", _r(ts="2026-12-01")),
        ("iso lowercase z", _r(ts="2025-11-25T07:59:59z")),
        ("iso compact", _r(ts="20251125T075959Z")),
        ("iso hour 24", _r(ts="2025-11-25T24:00:00Z")),
        ("iso leap second", _r(ts="2025-11-25T23:59:60Z")),
        ("iso feb 30", _r(ts="2025-02-30T00:00:00Z")),
        ("iso feb 29 leap year", _r(ts="2024-02-29T00:00:00Z")),
        ("iso year 0", _r(ts="0000-01-01T00:00:00Z")),
        ("iso offset 24h", _r(ts="2025-11-25T07:59:59+24:00")),
        ("iso offset 23:59", _r(ts="2025-11-26T07:59:59+23:59")),
        ("iso arabic digits", _r(ts="\u0662\u0660\u0662\u0665-11-25T07:59:59Z")),
        ("long digit text ts", _r(ts="9" * 70)),
        ("array ts", _r(ts=[1])),
        ("object ts", _r(ts={"ms": 1})),
        ("negative ts", _r(ts=-1)),
        ("ts before 2000", _r(ts="1999-12-31T23:59:59.999Z")),
        ("ts huge int", _r(ts=10**400)),
        ("ts huge float", _r(ts=1e300)),
        ("ts negative huge float", _r(ts=-1.5e300)),
        ("ts in the future", _r(ts=NOW + 3_600_000)),
        ("ts one ms past the limit", _r(ts=NOW + MAX_FUTURE + 1)),
        ("temperature text", _r(temperature="hot")),
        ("temperature bool", _r(temperature=True)),
        ("temperature list", _r(temperature=[1])),
        ("temperature object", _r(temperature={})),
        ("temperature huge int", _r(temperature=10**400)),
        ("temperature int over limit", _r(temperature=1_000_000_000_001)),
        ("temperature float over limit", _r(temperature=-1e13)),
        ("temperature float just over", _r(temperature=1.0000000000001e12)),
        ("pressure text after valid temperature", _r(pressure="5")),
        ("no sensor", _r(temperature=None)),
        ("no sensor at all", json.dumps({"device_id": "d", "ts": NOW})),
        ("unknown fields only", json.dumps({"device_id": "d", "ts": NOW, "humidity": 40})),
        ("measurements valid", _r(measurements={"spindle_rpm": 1480, "motor_current_a": 12.75, "z_9": -0.0})),
        ("measurements only", json.dumps({"device_id": "d", "ts": NOW, "measurements": {"humidity": 40}})),
        ("measurements null entry skipped", _r(measurements={"a": None, "b": 2})),
        ("measurements all null", json.dumps({"device_id": "d", "ts": NOW, "measurements": {"a": None}})),
        ("measurements empty", json.dumps({"device_id": "d", "ts": NOW, "measurements": {}})),
        ("measurements null", _r(measurements=None)),
        ("measurements top-level name inside", json.dumps({"device_id": "d", "ts": NOW,
                                                           "measurements": {"pressure": 5.5}})),
        ("measurements top-level null and inside", _r(pressure=None, measurements={"pressure": 5.5})),
        ("measurements given twice", _r(measurements={"temperature": 1})),
        ("measurements list", _r(measurements=[1, 2])),
        ("measurements text", _r(measurements="rpm=5")),
        ("measurements number", _r(measurements=5)),
        ("measurement text value", _r(measurements={"rpm": "fast"})),
        ("measurement bool value", _r(measurements={"rpm": False})),
        ("measurement object value", _r(measurements={"rpm": {"v": 1}})),
        ("measurement list value", _r(measurements={"rpm": [1]})),
        ("measurement int over limit", _r(measurements={"rpm": -1_000_000_000_001})),
        ("measurement float over limit", _r(measurements={"rpm": 2.5e12})),
        ("measurement huge int", _r(measurements={"rpm": 10**30})),
        ("measurement name reserved", _r(measurements={"device": 1})),
        ("measurement name empty", _r(measurements={"": 1})),
        ("measurement name leading digit", _r(measurements={"9a": 1})),
        ("measurement name dot", _r(measurements={"a.b": 1})),
        ("measurement name dash", _r(measurements={"a-b": 1})),
        ("measurement name unicode", _r(measurements={"\u00e9t\u00e9": 1})),
        ("measurement name 64 chars", _r(measurements={"m" * 64: 1})),
        ("measurement name 65 chars", _r(measurements={"m" * 65: 1})),
        ("measurement name newline", _r(measurements={"a\n": 1})),
        ("measurements 64 in all", _r(pressure=1, measurements={f"m{i}": i for i in range(62)})),
        ("measurements 65 in all", _r(pressure=1, measurements={f"m{i}": i for i in range(63)})),
        ("measurements 65 entries null counted", json.dumps({"device_id": "d", "ts": NOW, "measurements":
                                                             {f"m{i}": None for i in range(65)}})),
        ("measurement bad value after bad count", _r(measurements={**{f"m{i}": 1 for i in range(70)}, "x": "a"})),
        ("measurement error names first bad", _r(measurements={"ok": 1, "bad": "x", "9": 1})),
    ]
    # Compact records (as devices send them): the JVM passes one through as its own canonical line
    # when nothing in it would be written otherwise; these pin each way a literal can differ.
    for name, literal in COMPACT_LITERALS:
        v.append((f"compact {name}", _t('{"device_id":"d-1","ts":%NOW,"temperature":' + literal
                                         + ',"pressure":5.5,"seq":3}')))
    v += [
        ("compact canonical", _t('{"device_id":"d-1","ts":%NOW,"temperature":67.025,"pressure":5.5,'
                                 '"vibration":0.0,"seq":3,"meta":{"fw":"1.2","t":[1,true,null]}}')),
        ("compact ts float", _t('{"device_id":"d-1","ts":%NOW.0,"temperature":1.5}')),
        ("compact ts iso", '{"device_id":"d-1","ts":"2025-11-25T07:59:59Z","temperature":1.5}'),
        ("compact space after colon", _t('{"device_id":"d-1","ts":%NOW,"temperature": 1.5}')),
        ("compact trailing newline", _t('{"device_id":"d-1","ts":%NOW,"temperature":1.5}\n')),
        ("compact escaped slash", _t('{"device_id":"d-1","ts":%NOW,"temperature":1.5,"n":"a\\/b"}')),
        ("compact escaped quote", _t('{"device_id":"d-1","ts":%NOW,"temperature":1.5,"n":"a\\"b"}')),
        ("compact non-ascii", _t('{"device_id":"d-1","ts":%NOW,"temperature":1.5,"n":"\u00e9"}')),
        ("compact delete char", _t('{"device_id":"d-1","ts":%NOW,"temperature":1.5,"n":"a\u007fb"}')),
        ("compact tilde", _t('{"device_id":"d-1","ts":%NOW,"temperature":1.5,"n":"~"}')),
        ("compact empty object and array", _t('{"device_id":"d-1","ts":%NOW,"temperature":1.5,"a":{},"b":[]}')),
    ]
    return v


# Number literals around the rule of StrictJson.canonicalNumber (as Python prints them, or not).
COMPACT_LITERALS = [
    ("int", "64"), ("negative int", "-64"), ("minus zero int", "-0"), ("zero", "0"),
    ("fraction", "67.025"), ("negative fraction", "-0.25"), ("integral float", "67.0"),
    ("zero float", "0.0"), ("minus zero float", "-0.0"), ("trailing zero", "67.50"),
    ("trailing zeros", "1.100"), ("two zeros", "67.00"), ("ten-thousandth", "0.0001"),
    ("below ten-thousandth", "0.00001"), ("three zeros", "0.00012"), ("four zeros", "0.000012"),
    ("exponent", "1e2"), ("exponent upper", "1E2"), ("exponent fraction", "1.5e3"),
    ("exponent as python", "1e-05"), ("15 digits", "123456789.012345"),
    ("16 digits", "1234567890.123456"), ("17 digits", "0.30000000000000004"),
    ("16 digits rounding", "0.1000000000000001"), ("15 digits small", "0.000123456789012345"),
    ("15 digit integer float", "100000000000000.0"), ("16 digit integer float", "1000000000000000.0"),
    ("near 2^53", "9007199254740993.0"), ("tiny", "5e-324"), ("over limit float", "1000000000000.5"),
]


# Records longer than this are stored as runs (``{"runs": [[text, count], ...]}``) and their dead
# letter (which repeats the record) is not stored: the file stays small.
LONG = 2000


def runs(text: str) -> list[list]:
    """``text`` as [[chunk, repeat], ...] (repeated characters folded)."""
    out: list[list] = []
    for ch in text:
        if out and out[-1][0] == ch:
            out[-1][1] += 1
        else:
            out.append([ch, 1])
    return out


def record_of(stored: object) -> str | None:
    """The record a vector stores (a string, null, or runs)."""
    if isinstance(stored, dict):
        return "".join(chunk * n for chunk, n in stored["runs"])
    return stored  # type: ignore[return-value]


def build() -> list[dict]:
    rows = []
    for name, record in inputs():
        exp = expected(record)
        stored: object = record
        if record is not None and len(record) > LONG:
            stored = {"runs": runs(record)}
            exp["dead_letter"] = None
            assert record_of(stored) == record
        rows.append({"name": name, "record": stored, "now_ms": NOW, "max_future_ms": MAX_FUTURE,
                     "expected": exp})
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names)), "vector names must be unique"
    return rows


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=True, separators=(",", ":")) + "\n" for r in rows)


if __name__ == "__main__":
    rows = build()
    PATH.write_text(render(rows), encoding="ascii")
    print(f"{len(rows)} vectors -> {PATH}")
