"""The archive's catalogue and named queries, run locally with DuckDB over an archive written with
the job's own record writers (canonical readings, anomaly events, dead letters)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flink_job.core.records import dead_letter, parse_reading
from flink_job.history import engine
from flink_job.history.catalog import BY_NAME, PARTITIONS, TABLES
from flink_job.history.cli import parse_time
from flink_job.history.queries import QUERIES
from localdev.cli import main as cli
from tests.conftest import anomaly_line, canonical_reading

DAY, T0 = "2026-12-02", parse_time("2026-12-02T08:00:00Z")
ALL = {"day_from": "0000-01-01", "day_to": "9999-12-31", "from_ms": 0, "to_ms": 2**62, "device": ""}


@pytest.fixture
def archive(tmp_path: Path, write_archive) -> Path:
    return write_archive(tmp_path, DAY, T0)


def test_the_catalogue_columns_are_the_fields_the_job_writes():
    reading = json.loads(canonical_reading("m-1", T0, temperature=1.0, pressure=2.0, vibration=3.0,
                                           measurements={"spindle_rpm": 1480.0}))
    assert {n for n, _ in BY_NAME["readings"].columns} == set(reading) - {"seq"}  # seq: the device's own
    assert [n for n, _ in BY_NAME["anomalies"].columns] == list(json.loads(anomaly_line("m-1", T0, True)))
    text = json.loads(dead_letter(parse_reading("x", T0), "x", "t"))
    binary = json.loads(dead_letter(parse_reading(b"\xff", T0), None, "t"))
    assert {n for n, _ in BY_NAME["dead_letters"].columns} == set(text) | set(binary)
    for table in TABLES:
        assert not {n for n, _ in table.columns} & {n for n, _ in PARTITIONS}


def test_named_measurements_are_a_map_column_of_the_readings_table(archive):
    con = engine.connect(archive)
    rows = con.execute("SELECT device_id, measurements['spindle_rpm'], pressure FROM readings "
                       "WHERE measurements IS NOT NULL").fetchall()
    assert rows == [("m-2", 1480.0, 5.0)]


def test_every_named_query_runs_and_answers(archive):
    con = engine.connect(archive)
    readings = engine.run(con, "device-readings", **{**ALL, "device": "m-1", "to_ms": T0 + 4000})
    assert [r[0] for r in readings.rows] == [T0 + i * 1000 for i in range(5)]  # ordered, in range, m-1 only
    assert readings.rows[0][1:] == (60.0, None, None)
    per_day = engine.run(con, "anomalies-per-device-day", **ALL)
    assert per_day.columns == ["day", "device_id", "anomalies", "alerts"]
    assert per_day.rows == [(DAY, "m-1", 2, 1), (DAY, "m-2", 1, 1)]
    one = engine.run(con, "anomalies-per-device-day", **{**ALL, "device": "m-2"})
    assert one.rows == [(DAY, "m-2", 1, 1)]
    reasons = engine.run(con, "dead-letters-by-reason", **ALL)
    assert reasons.rows[0] == ("missing field 'ts'", 3) and reasons.rows[1][1] == 1
    assert engine.run(con, "alert-rate-per-hour", **ALL).rows == [(DAY, "08", 1), (DAY, "09", 1)]
    # the dt= partitions bound what is read
    assert engine.run(con, "alert-rate-per-hour", **{**ALL, "day_to": "2026-12-01"}).rows == []


def test_an_empty_archive_answers_with_no_rows(tmp_path):
    con = engine.connect(tmp_path)
    for name in QUERIES:
        assert engine.run(con, name, **ALL).rows == []


def test_the_cli_runs_a_query_and_says_what_is_missing(archive, capsys):
    assert cli(["history", "anomalies-per-device-day", "--archive", str(archive), "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == {"day": DAY, "device_id": "m-1", "anomalies": 2, "alerts": 1}
    assert cli(["history", "device-readings", "--archive", str(archive), "--device", "m-1",
                "--from", f"{DAY}T08:00:01Z", "--to", f"{DAY}T08:00:02Z"]) == 0
    out = capsys.readouterr().out
    assert "61.0" in out and "62.0" in out and "60.0" not in out
    assert cli(["history", "device-readings", "--archive", str(archive)]) == 2
    assert "needs --device" in capsys.readouterr().err
    assert cli(["history", "alert-rate-per-hour", "--archive", str(archive / "nowhere")]) == 2
    assert "no archive folder" in capsys.readouterr().err
