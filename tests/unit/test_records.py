"""The record parser under hostile input: every input is a reading or a dead letter, never an error."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flink_job.core.records import (
    BINARY_PREFIX,
    MAX_ABS_VALUE,
    MAX_RECORD_BYTES,
    ParseResult,
    dead_letter,
    parse_reading,
)

NOW = 1_764_057_600_000
GOOD = {"device_id": "press-0007", "ts": NOW - 1000, "temperature": 64.2}


def parse(raw: str | bytes | None) -> ParseResult:
    return parse_reading(raw, NOW)


def line(**fields: object) -> str:
    return json.dumps({**GOOD, **fields})


def test_a_valid_reading_is_parsed_and_canonical():
    res = parse(line(pressure=5, seq=3))
    assert res.ok and res.error is None
    assert res.reading.values() == {"temperature": 64.2, "pressure": 5.0}
    assert res.canonical == json.dumps({**GOOD, "pressure": 5, "seq": 3}, separators=(",", ":"))


def test_pretty_printed_json_is_archived_on_one_line():
    res = parse(json.dumps({**GOOD, "meta": {"fw": "1.2", "tags": ["a", "b"]}}, indent=4))
    assert res.ok
    assert "\n" not in res.canonical and json.loads(res.canonical)["meta"]["tags"] == ["a", "b"]


def test_canonical_form_is_ascii_even_for_lone_surrogates():
    # a lone surrogate cannot be encoded as UTF-8: the canonical line must escape it
    res = parse(
        '{"device_id": "d-1", "ts": %d, "temperature": 1, "note": "\\ud800 \u00e9"}'.replace("%d", str(NOW))
    )
    assert res.ok
    assert res.canonical.isascii()
    res.canonical.encode("utf-8")  # would raise on a raw surrogate


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty record"),
        ("", "empty record"),
        ("   \n", "empty record"),
        ("{", "invalid JSON"),
        ('{"device_id": "d"} trailing', "invalid JSON"),
        ("[1, 2]", "JSON list instead of an object"),
        ('"text"', "JSON str instead of an object"),
        ("42", "JSON int instead of an object"),
        ("null", "JSON NoneType instead of an object"),
        ("\ufeff" + json.dumps(GOOD), "invalid JSON"),
        (json.dumps({"ts": NOW, "temperature": 1}), "missing field 'device_id'"),
        (line(device_id="d-1\n"), "invalid 'device_id'"),
        (line(device_id="d 1"), "invalid 'device_id'"),
        (line(device_id="d\u0000"), "invalid 'device_id'"),
        (line(device_id="\u00e9t\u00e9"), "invalid 'device_id'"),
        (line(device_id="x" * 65), "invalid 'device_id'"),
        (line(device_id=7), "invalid 'device_id'"),
        (json.dumps({"device_id": "d", "temperature": 1}), "missing field 'ts'"),
        (line(ts=True), "invalid 'ts'"),
        (line(ts="yesterday"), "invalid 'ts'"),
        (line(ts="2026-12-01T10:00:00"), "invalid 'ts'"),  # no zone
        (line(ts="9" * 70), "invalid 'ts'"),
        (line(ts=[1]), "invalid 'ts'"),
        (line(ts=-1), "before 2000-01-01"),
        (line(ts=10**400), "in the future"),
        (line(ts=1e300), "in the future"),
        (line(ts=NOW + 3_600_000), "in the future"),
        (line(temperature="hot"), "'temperature' is str, not a number"),
        (line(temperature=True), "'temperature' is bool, not a number"),
        (line(temperature=10**400), "out of range"),
        (line(temperature=-1e13), "out of range"),
        (line(temperature=None), "no sensor value"),
        ('{"device_id": "d", "ts": %d, "temperature": NaN}'.replace("%d", str(NOW)), "not finite"),
        ('{"device_id": "d", "ts": %d, "temperature": -Infinity}'.replace("%d", str(NOW)), "not finite"),
        (
            '{"device_id": "d", "ts": %d, "temperature": 1, "x": Infinity}'.replace("%d", str(NOW)),
            "not finite",
        ),
        ('{"device_id": "d", "ts": %d, "temperature": 1e400}'.replace("%d", str(NOW)), "number out of range"),
        (
            '{"device_id": "d", "ts": %d, "temperature": 1, "x": [-1e999]}'.replace("%d", str(NOW)),
            "number out of range",
        ),
        (
            '{"device_id": "d", "ts": %d, "temperature": 1, "x": "a\tb"}'.replace("%d", str(NOW)),
            "invalid JSON",
        ),
        (
            '{"device_id": "a", "device_id": "b", "ts": %d, "temperature": 1}'.replace("%d", str(NOW)),
            "duplicate key",
        ),
        (
            '{"device_id": "a", "ts": %d, "temperature": 1, "m": {"k": 1, "k": 2}}'.replace("%d", str(NOW)),
            "duplicate key",
        ),
        ("[" * 50_000 + "]" * 50_000, "record larger than"),
        ("[" * 30_000 + "]" * 30_000, "invalid JSON"),  # nesting deeper than the parser's stack
        ('{"a":' * 10_000 + "1" + "}" * 10_000, "invalid JSON"),
        ('{"device_id": "d", "ts": 1%s, "temperature": 1}' % ("0" * 5000), "invalid JSON"),
        (json.dumps({**GOOD, "pad": "x" * MAX_RECORD_BYTES}), "record larger than"),
        (json.dumps({**GOOD, "pad": "\u20ac" * (MAX_RECORD_BYTES // 3 + 1)}, ensure_ascii=False), "larger"),
        ("\u0000" + json.dumps(GOOD), "invalid JSON"),
    ],
)
def test_hostile_input_is_a_dead_letter_with_its_reason(raw, reason):
    res = parse(raw)
    assert not res.ok and res.canonical is None
    assert reason in res.error, res.error
    assert len(res.error) < 400


def test_duplicate_keys_with_equal_values_are_still_refused():
    # policy: any duplicate key is a dead letter; parsers disagree on which value wins
    dup = '{"device_id":"d","ts":%d,"ts":%d,"temperature":1}'.replace("%d", str(NOW))
    assert 'duplicate key: "ts"' in parse(dup).error


def test_iso_timestamps_with_a_zone_are_accepted():
    assert parse(line(ts="2025-11-25T07:59:59.500Z")).reading.ts_ms == NOW - 500
    assert parse(line(ts="2025-11-25T08:59:59+01:00")).reading.ts_ms == NOW - 1000
    # archived with ts in epoch ms, the one type of the archive's ts column
    assert json.loads(parse(line(ts="2025-11-25T07:59:59.500Z")).canonical)["ts"] == NOW - 500


def test_values_at_the_range_limit_are_accepted():
    assert parse(line(temperature=MAX_ABS_VALUE)).ok
    assert parse(line(temperature=-int(MAX_ABS_VALUE))).ok


def test_bytes_that_are_not_utf8_keep_their_base64():
    raw = b'{"device_id": "d", "ts": 1, "temperature": \xff}'
    res = parse(raw)
    assert res.error == "not UTF-8"
    assert base64.b64decode(res.raw_base64) == raw


def test_the_sources_binary_framing_is_decoded():
    raw = b"\xc0\xaf\x00 garbage \xed\xa0\x80"  # overlong '/', NUL, CESU-8 surrogate
    res = parse(BINARY_PREFIX + base64.b64encode(raw).decode())
    assert res.error == "not UTF-8" and base64.b64decode(res.raw_base64) == raw
    letter = json.loads(dead_letter(res, BINARY_PREFIX + "ignored", "2026-12-01T00:00:00Z"))
    assert letter == {
        "reason": "not UTF-8",
        "record_base64": res.raw_base64,
        "received_at": "2026-12-01T00:00:00Z",
    }


def test_framed_utf8_text_starting_with_nul_is_parsed_as_text():
    text = "\u0000" + json.dumps(GOOD)
    framed = BINARY_PREFIX + base64.b64encode(text.encode()).decode()
    res = parse(framed)
    assert "invalid JSON" in res.error and res.raw_base64 is None
    assert json.loads(dead_letter(res, framed, "t"))["record"] == text


def test_a_prefix_without_valid_base64_is_just_bad_text():
    res = parse(BINARY_PREFIX + "!!! not base64")
    assert "invalid JSON" in res.error and res.raw_base64 is None


def test_dead_letters_of_text_records_keep_the_record_verbatim():
    raw = '{"device_id": "d\\n", "x": "\u00e9"}\n'
    letter = json.loads(dead_letter(parse(raw), raw, "t"))
    assert letter["record"] == raw and letter["reason"].startswith("invalid 'device_id'")


# Any text, any bytes, any JSON-ish value: a result, never an exception.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
reading_like = st.fixed_dictionaries(
    {},
    optional={
        "device_id": st.one_of(st.text(max_size=70), st.integers(), st.sampled_from(["d-1", "d-1\n"])),
        "ts": st.one_of(st.integers(), st.floats(), st.text(max_size=40), st.booleans(), json_values),
        "temperature": st.one_of(st.integers(), st.floats(), st.text(max_size=5), json_values),
        "pressure": st.one_of(st.integers(min_value=-(10**30), max_value=10**30), st.floats()),
        "extra": json_values,
    },
)


def check_total(res: ParseResult) -> None:
    assert isinstance(res, ParseResult)
    assert res.ok != (res.error is not None)
    if res.ok:
        assert res.canonical.isascii() and "\n" not in res.canonical
        assert json.loads(res.canonical)["device_id"] == res.reading.device_id
    dead_letter(res, "r", "t").encode("utf-8")  # always serialisable


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=300) | st.binary(max_size=300))
def test_fuzz_arbitrary_text_and_bytes_never_raise(raw):
    check_total(parse(raw))
    if isinstance(raw, bytes):
        check_total(parse(BINARY_PREFIX + base64.b64encode(raw).decode()))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(reading_like, st.booleans())
def test_fuzz_reading_shaped_objects_never_raise(obj, pretty):
    text = json.dumps(obj, indent=2 if pretty else None, allow_nan=True)
    check_total(parse(text))
    check_total(parse(text.encode("utf-8", "surrogatepass")))


def test_a_reason_up_to_its_colon_is_a_class_that_groups_alike_records():
    """The archive's dead-letters-by-reason query groups by that class: details come after the colon."""
    pairs = [
        (line(ts=NOW + 3_600_000), line(ts=NOW + 7_200_000)),
        (line(ts=-1), line(ts=5)),
        ('{"ts": 1, "ts": 2}', '{"device_id": "a", "device_id": "b"}'),
        (line(temperature=1e13), line(temperature=-1e14)),
    ]
    for a, b in pairs:
        ra, rb = parse(a).error, parse(b).error
        assert ra != rb and ra.split(":")[0] == rb.split(":")[0], (ra, rb)
