"""score-csv: one output row per input row, combined and per-column scores, clear input errors."""

import csv
import json

import pytest

from flink_job.evaluation.cli import main
from flink_job.evaluation.csv_scoring import InputError, score_csv


def write(path, rows):
    path.write_text("\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return path


def sample(tmp_path, n=120):
    rows = [["timestamp", "temperature", "pressure"]]
    for i in range(n):
        rows.append([f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}", 60 + (i % 5) * 0.1, 5.0 + (i % 3) * 0.01])
    rows[101][1] = 105.0  # critical temperature at data row 100
    rows[60][2] = ""  # a missing pressure reading
    return write(tmp_path / "in.csv", rows)


def test_scores_every_row(tmp_path):
    out = tmp_path / "out.csv"
    counts = score_csv(sample(tmp_path), out)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 120 == counts["rows"]
    assert list(rows[0]) == ["timestamp", "score", "anomalous", "alert", "model_score", "top_sensors",
                             "temperature_score", "pressure_score", "note"]
    assert rows[100]["alert"] == "1" and rows[100]["anomalous"] == "1" and float(rows[100]["score"]) == 1.0
    assert counts["alerts"] == sum(int(r["alert"]) for r in rows) >= 1
    assert {r["alert"] for r in rows} <= {"0", "1"}


def test_cli_and_config_file(tmp_path):
    cfg = tmp_path / "props.json"
    levels = {"temperature.critical_high": "200", "temperature.warning_high": "150"}
    cfg.write_text(json.dumps([{"PropertyGroupId": "thresholds", "PropertyMap": levels}]))
    out = tmp_path / "out.csv"
    assert main(["score-csv", str(sample(tmp_path)), str(out), "--config", str(cfg)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert float(rows[100]["score"]) < 1.0  # no threshold breach any more


@pytest.mark.parametrize("rows,message", [
    ([["timestamp", "value"], ["2024-01-01T00:00:00", "abc"]], "row 2, column 'value'"),
    ([["timestamp", "value"], ["yesterday", "1.0"]], "row 2, column 'timestamp'"),
    ([["time", "value"], ["2024-01-01T00:00:00", "1.0"]], "no timestamp column 'timestamp'"),
    ([["timestamp", "value"], ["2024-01-01T00:00:00", "1.0", "2"]], "row 2: expected 2 fields"),
])
def test_input_errors_name_row_and_column(tmp_path, rows, message):
    with pytest.raises(InputError, match=message):
        score_csv(write(tmp_path / "bad.csv", rows), tmp_path / "out.csv")


def test_cli_reports_errors_with_exit_code_2(tmp_path, capsys):
    bad = write(tmp_path / "bad.csv", [["ts", "v"], ["1700000000", "x"]])
    assert main(["score-csv", str(bad), str(tmp_path / "o.csv"), "--timestamp-column", "ts"]) == 2
    assert "row 2, column 'v'" in capsys.readouterr().err


def test_epoch_timestamps(tmp_path):
    src = write(tmp_path / "e.csv", [["timestamp", "v"]] + [[1_700_000_000 + i, i % 3] for i in range(30)])
    assert score_csv(src, tmp_path / "o.csv")["rows"] == 30


def related(tmp_path, n=460, broken_from=330):
    """temperature and pressure follow one load; from `broken_from` (a zero of the load, so nothing
    jumps) pressure mirrors it, staying in its normal range."""
    import math
    import random
    rng = random.Random(3)
    rows = [["timestamp", "temperature", "pressure"]]
    for i in range(n):
        load = math.sin(i / 15)
        p_load = -load if i >= broken_from else load
        rows.append([1_700_000_000 + i, round(65 + 3 * load + rng.gauss(0, 0.1), 3),
                     round(5.5 + 0.3 * p_load + rng.gauss(0, 0.01), 4)])
    return write(tmp_path / "related.csv", rows)


def test_device_mode_catches_a_broken_relation_that_per_column_mode_misses(tmp_path):
    src = related(tmp_path)
    device, per_col = tmp_path / "device.csv", tmp_path / "per_column.csv"
    assert main(["score-csv", str(src), str(device), "--baseline-rows", "200"]) == 0
    assert main(["score-csv", str(src), str(per_col), "--baseline-rows", "200", "--per-column"]) == 0
    d = list(csv.DictReader(device.open()))
    p = list(csv.DictReader(per_col.open()))
    assert not any(r["anomalous"] == "1" for r in d[:330])  # commissioning and normal: quiet
    assert sum(r["anomalous"] == "1" for r in d[330:]) > 60
    assert "pressure" in next(r["top_sensors"] for r in d[330:] if r["alert"] == "1")
    assert sum(r["anomalous"] == "1" for r in p[330:]) < 20
    assert all(r["top_sensors"] == "" and float(r["model_score"]) == 0 for r in p)


def test_baseline_rows_must_be_at_least_two(tmp_path):
    with pytest.raises(InputError, match="--baseline-rows"):
        score_csv(sample(tmp_path), tmp_path / "o.csv", baseline_rows=1)


def test_a_row_older_than_an_earlier_one_is_set_aside_as_the_job_does(tmp_path, capsys):
    rows = [["timestamp", "temperature", "pressure"]]
    for i in range(120):
        rows.append([f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}", 60 + (i % 5) * 0.1, 5.0 + (i % 3) * 0.01])
    # a clock stepped back 3 s at data row 100, carrying a critical temperature: not judged, no alert
    late = [["2024-01-01T00:01:36", 105.0, 5.0]]  # after 00:01:39
    src = write(tmp_path / "in.csv", rows[:101] + late + rows[101:])
    out = tmp_path / "out.csv"
    assert main(["score-csv", str(src), str(out)]) == 0
    got = list(csv.DictReader(out.open()))
    assert len(got) == 121
    assert got[100]["note"].startswith("out of order: 3000 ms older than its device's newest reading")
    assert (got[100]["score"], got[100]["alert"], got[100]["temperature_score"]) == (
        "0.000000", "0", "0.000000")
    assert [r["note"] for r in got if r["note"]] == [got[100]["note"]]
    assert all(r["alert"] == "0" for r in got)
    assert "1 rows older than an earlier row were set aside" in capsys.readouterr().err
    # the rows around it are scored as if it had never been there
    plain = tmp_path / "plain.csv"
    score_csv(write(tmp_path / "plain_in.csv", rows), plain)
    expected = list(csv.DictReader(plain.open()))
    assert [r for i, r in enumerate(got) if i != 100] == expected
