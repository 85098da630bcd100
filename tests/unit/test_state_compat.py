"""Keyed-state compatibility: a saved v1 snapshot keeps loading and keeps giving the same verdicts."""

import json
from pathlib import Path

import pytest

from flink_job.core.detection import DetectionConfig, SeriesMonitor, ThresholdConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "state"


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("monitor_v*.json")), ids=lambda p: p.name)
def test_saved_state_restores_and_replays(path):
    fx = json.loads(path.read_text())
    det = DetectionConfig.from_properties(fx["detection"])
    thr = ThresholdConfig.from_properties(fx["thresholds"])
    m = SeriesMonitor.from_state(fx["state"], fx["device_id"], fx["sensor"], det, thr)
    got = [m.update(t, v) for t, v in fx["next"]]
    for g, e in zip(got, fx["expected"], strict=True):
        assert g.score == pytest.approx(e["score"], abs=1e-6)
        assert (list(g.detectors), g.anomalous, g.alert, g.severity) == (
            e["detectors"], e["anomalous"], e["alert"], e["severity"])


def test_state_without_version_is_rejected():
    state = SeriesMonitor("d", "value", DetectionConfig(), ThresholdConfig()).to_state()
    state["v"] = 99
    with pytest.raises(ValueError, match="version"):
        SeriesMonitor.from_state(state, "d", "value", DetectionConfig(), ThresholdConfig())


def test_state_survives_a_detector_added_to_the_config():
    fx = json.loads((FIXTURES / "monitor_v1.json").read_text())
    det = DetectionConfig.from_properties({**fx["detection"], "detectors": "zscore,ewma"})
    m = SeriesMonitor.from_state(fx["state"], fx["device_id"], fx["sensor"], det, ThresholdConfig())
    assert [d.name for d in m.detectors] == ["zscore", "ewma"]
    m.update(*fx["next"][0])
