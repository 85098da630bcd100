"""HTML evaluation report (flink_job/evaluation/report.py) from fake nab.json / tep.json."""

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from flink_job.evaluation import report

HOSTILE = 'realX/<img src=x onerror="alert(1)">&evil.csv'
FILES = ["realKnownCause/nyc_taxi.csv", HOSTILE]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _score(tp: int, fp: int, score: float) -> dict:
    entry = {"score": score, "detections": tp + fp, "tp": tp, "fn": 0, "fp": fp}
    return {"fixed": entry, "optimised": entry}


def write_nab(reports: Path, nab_dir: Path, n: int = 200) -> None:
    files = {}
    for i, name in enumerate(FILES):
        path = nab_dir / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["timestamp,value"] + [f"2014-07-01 00:{r // 60:02d}:{r % 60:02d},{(r * 7 + i) % 13}"
                                       for r in range(n)]
        path.write_text("\n".join(lines) + "\n")
        files[name] = {
            "rows": n, "probation": 30,
            "windows": [{"labels": ["2014-07-01 00:01:40", "2014-07-01 00:02:00"], "rows": [100, 120]}],
            "alerts": [{"row": 110, "timestamp": "2014-07-01T00:01:50", "score": 0.9, "detectors": ["z"]},
                       {"row": 150, "timestamp": "2014-07-01T00:02:30", "score": 0.7, "detectors": ["z"]}],
            "score": {p: _score(1, 1, 0.89) for p in report.PROFILES}}
    nab_json = {"standard": 58.72, "reward_low_FP_rate": 41.07, "reward_low_FN_rate": -3.5,
                "fixed_threshold": {"standard": 58.26, "reward_low_FP_rate": 40.16,
                                    "reward_low_FN_rate": 66.1},
                "threshold": {"fixed": 0.6, "method": "exact sweep",
                              "optimised": {p: {"theta": 0.61, "raw": 1.0, "candidates": 3}
                                            for p in report.PROFILES}},
                "config": {"alert_threshold": 0.6}, "timing": {"wall_seconds": 1.0, "rows": 2 * n},
                "files": files}
    (reports / "nab.json").write_text(json.dumps(nab_json))


def write_tep(reports: Path, series_faults: tuple[str, ...] = ("1", "3")) -> None:
    def faults(rate: float) -> dict:
        return {str(f): {"detection_rate": rate, "detection_delay": None if f == 3 else f,
                         "false_alarms_before_fault": 0.01} for f in range(1, 22)}

    series = {}
    for f in series_faults:
        score = [0.1] * 160 + [0.9] * 80
        series[f] = {"score": score, "anomalous": [0] * 160 + [1] * 80,
                     "pca_flag": [0] * 150 + [1] * 90}
    tep = {"mean_detection_rate": 0.93, "false_alarm_rate": 0.01, "false_alarm_rate_before_fault": 0.002,
           "customary_faults": [1, 2, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21],
           "faults": faults(0.9),
           "pca": {"components": 9, "statistic": "T2 or Q", "mean_detection_rate": 0.83,
                   "false_alarm_rate": 0.12, "false_alarm_rate_before_fault": 0.1, "faults": faults(0.8)},
           "config": {"k": "v"}, "timing": {"seconds": 1.0}, "series": series}
    (reports / "tep.json").write_text(json.dumps(tep))


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.srcs.append(dict(attrs)["src"])


def parse(index: Path) -> _Refs:
    p = _Refs()
    p.feed(index.read_text(encoding="utf-8"))
    return p


def assert_images_valid(index: Path, srcs: list[str]) -> None:
    assert srcs
    for src in srcs:
        assert not src.startswith("/") and "://" not in src, src  # relative: the folder can be copied
        path = index.parent / src
        assert path.is_file(), src
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and data[-8:-4] == b"IEND", src


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    reports, nab_dir = tmp_path / "reports", tmp_path / "NAB"
    reports.mkdir()
    return reports, nab_dir


def test_full_report(dirs: tuple[Path, Path]) -> None:
    reports, nab_dir = dirs
    write_nab(reports, nab_dir)
    write_tep(reports)
    index = report.write_report(reports, nab_dir)
    assert index == reports / "index.html"
    text = index.read_text(encoding="utf-8")
    refs = parse(index)
    assert_images_valid(index, refs.srcs)
    # Profile bar chart, TEP bar chart, one plot per NAB file and per TEP series.
    assert "img/nab_scores.png" in refs.srcs
    assert "img/tep_detection_rate.png" in refs.srcs
    assert len([s for s in refs.srcs if re.match(r"img/nab_\d{3}_", s)]) == len(FILES)
    assert len([s for s in refs.srcs if s.startswith("img/tep_series_")]) == 2
    # Every image on disk is referenced (no stale leftovers).
    assert {f"img/{p.name}" for p in (reports / "img").iterdir()} == set(refs.srcs)
    for needle in ("58.72", "58.26", "-3.50", "nyc_taxi.csv", "93.0%", "83.0%", "12.0%", "not detected",
                   "T2 or Q"):
        assert needle in text, needle
    assert "missing" not in text


def test_missing_tep_renders_nab_with_notice(dirs: tuple[Path, Path]) -> None:
    reports, nab_dir = dirs
    write_nab(reports, nab_dir)
    index = report.write_report(reports, nab_dir)
    text = index.read_text(encoding="utf-8")
    assert "tep.json</code> is missing" in text
    assert 'id="nab"' in text and 'id="tep"' not in text
    assert_images_valid(index, parse(index).srcs)


def test_missing_nab_and_data_dir(dirs: tuple[Path, Path]) -> None:
    reports, nab_dir = dirs
    write_tep(reports, series_faults=())
    index = report.write_report(reports, nab_dir / "absent")
    text = index.read_text(encoding="utf-8")
    assert "nab.json</code> is missing" in text and 'id="tep"' in text
    assert_images_valid(index, parse(index).srcs)


def test_nothing_at_all_still_writes_a_page(dirs: tuple[Path, Path]) -> None:
    reports, nab_dir = dirs
    (reports / "tep.json").write_text("{not json")
    text = report.write_report(reports, nab_dir).read_text(encoding="utf-8")
    assert "nab.json</code> is missing" in text and "tep.json</code> is unreadable" in text


def test_missing_series_data_file_is_reported_not_fatal(dirs: tuple[Path, Path]) -> None:
    reports, nab_dir = dirs
    write_nab(reports, nab_dir)
    (nab_dir / "data" / FILES[0]).unlink()
    index = report.write_report(reports, nab_dir)
    srcs = parse(index).srcs
    assert len([s for s in srcs if s.startswith("img/nab_0")]) == 1
    assert "data file not found" in index.read_text(encoding="utf-8")


def test_hostile_file_name_is_escaped(dirs: tuple[Path, Path]) -> None:
    reports, nab_dir = dirs
    write_nab(reports, nab_dir)
    index = report.write_report(reports, nab_dir)
    text = index.read_text(encoding="utf-8")
    assert HOSTILE not in text and "<img src=x" not in text and "onerror=\"" not in text
    assert html.escape(HOSTILE, quote=True) in text
    refs = parse(index)
    assert refs.tags.count("script") == 0
    # The hostile name still gets its plot, under a sanitised file name.
    assert_images_valid(index, refs.srcs)
    assert all(re.fullmatch(r"img/[A-Za-z0-9._-]+\.png", s) for s in refs.srcs)


def test_cli_prints_path(dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    reports, nab_dir = dirs
    write_tep(reports, series_faults=("2",))
    assert report.main(["--reports-dir", str(reports), "--nab-dir", str(nab_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(reports / "index.html")
    with pytest.raises(SystemExit):
        report.main(["--help"])
    assert "nab.json" in capsys.readouterr().out
