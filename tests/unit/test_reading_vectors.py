"""The shared parser vectors (tests/vectors/readings.jsonl) are current and the Python reference meets
them; the JVM's ReadingsVectorsTest holds com.iotanomaly.records.Readings to the same file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vectors"))

import make_readings  # noqa: E402


def test_the_vectors_file_is_current():
    assert make_readings.PATH.read_text(encoding="ascii") == make_readings.render(make_readings.build()), (
        "tests/vectors/readings.jsonl is stale: run `python tests/vectors/make_readings.py`, review the diff"
    )


def test_every_vector_gives_its_expected_result_and_every_refusal_class_is_covered():
    classes = set()
    for line in make_readings.PATH.read_text(encoding="ascii").splitlines():
        v = json.loads(line)
        record = make_readings.record_of(v["record"])
        got = make_readings.expected(record, v["now_ms"], v["max_future_ms"])
        if v["expected"]["dead_letter"] is None:
            got["dead_letter"] = None
        assert got == v["expected"], v["name"]
        if got["error"]:
            classes.add(got["error"].split(":")[0])
    assert {"empty record", "not UTF-8", "invalid JSON", "duplicate key", "not finite", "number out of range",
            "missing field 'device_id'", "invalid 'device_id'", "missing field 'ts'", "invalid 'ts'",
            "'ts' before 2000-01-01", "'ts' in the future"} <= classes
