"""The backtest note's Python runs against the small archived sample, and fails soft when it cannot import."""

from __future__ import annotations

import json
import math
import subprocess

import pytest
from notebook_support import BACKTEST_NOTE, PYTHON38, SAMPLE, run_note

from flink_job.core.detection.config import DetectionConfig

SAMPLE_SETTINGS = {
    "ARCHIVE_PATH": str(SAMPLE / "raw"),
    "LABELS_PATH": str(SAMPLE / "labels.json"),
    "PARTITIONS": ["dt=2026-11-02/hr=10"],
    "PROJECT_ZIP": "",
}


@pytest.fixture(scope="module")
def ran():
    return run_note.run_note(BACKTEST_NOTE, SAMPLE_SETTINGS)


def test_backtest_runs_the_projects_detectors_on_the_sample(ran):
    assert ran["DETECTION_ERROR"] == ""
    assert ran["DETECTION"].SeriesMonitor.__module__ == "flink_job.core.detection.monitor"
    assert len(ran["READINGS"]) == 800 * 3  # 800 records x 3 sensors
    results = ran["RESULTS"]
    assert list(results["candidate"]) == list(ran["CANDIDATES"])
    labels = json.loads((SAMPLE / "labels.json").read_text())
    for row in results.to_dict("records"):
        assert row["alerts"] >= 1, row
        assert row["episodes"] == len(labels)
        assert 0 <= row["detected"] <= row["episodes"]
        for key in ("nab_standard", "nab_reward_low_FP_rate", "nab_reward_low_FN_rate"):
            assert math.isfinite(row[key]) and row[key] <= 100.0, (key, row)
        assert row["nab_standard_optimised"] >= row["nab_standard"] - 1e-9


def test_backtest_alert_count_matches_a_direct_run_of_the_monitor(ran):
    """The note adds no logic of its own: the job-defaults row equals SeriesMonitor run directly."""
    from flink_job.core.detection import SeriesMonitor, ThresholdConfig

    readings = ran["READINGS"]
    direct = 0
    for (device, sensor), g in readings.groupby(["device_id", "sensor"]):
        mon = SeriesMonitor(device, sensor, DetectionConfig(), ThresholdConfig())
        direct += sum(v.alert for v in mon.update_many(g["ts"].tolist(), g["value"].tolist()))
    defaults = ran["RESULTS"].set_index("candidate").loc["job defaults"]
    assert defaults["alerts"] == direct
    # the sample is labelled with spikes and drifts across critical levels: the job's defaults catch them
    assert defaults["detected"] >= 2


@pytest.mark.skipif(PYTHON38 is None, reason="no python3.8 interpreter on this machine")
def test_on_python38_without_numpy_the_import_paragraph_explains_and_the_backtest_skips():
    """Studio's Python version. The core itself runs on 3.8 (tests/unit/test_core_py38.py); this bare
    3.8 lacks numpy (Studio ships it), so the scorer's import fails and the note says why."""
    paras = dict(run_note.python_paragraphs(run_note.json.loads(BACKTEST_NOTE.read_text())))
    settings = next(src for title, src in paras.items() if title.startswith("Settings"))
    importer = next(src for title, src in paras.items() if title.startswith("Import"))
    script = (
        "import sys\nsys.path.insert(0, sys.argv[1])\n"
        "OVERRIDES = {'PROJECT_ZIP': ''}\n" + settings + "\n" + importer + "\n"
        "assert DETECTION is None and DETECTION_ERROR, DETECTION_ERROR\n"
    )
    done = subprocess.run([PYTHON38, "-c", script, str(SAMPLE.parents[1])], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "numpy" in done.stdout and "PROJECT_ZIP" in done.stdout and "run_note.py" in done.stdout
