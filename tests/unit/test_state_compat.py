"""Keyed-state compatibility: saved snapshots keep loading and keep giving the same verdicts.

A v1 snapshot predates the protected baseline and the EWMA chart's measured spread: under v1's learning
rule (``protect_baseline=false``) it replays with the same verdicts (flags, detectors, severity) and scores
within 0.15, and it is past its commissioning once it had passed the detectors' warm-up.  v1 and v2
snapshots predate the per-detector novelty gates and first-outlier learning: they replay under the rules
they were written with (``novelty_scope=series``, ``learn_first_outlier=false``, ``ewma_lambda=0.2``).
"""

import json
from pathlib import Path

import pytest

from flink_job.core.detection import DetectionConfig, SeriesMonitor, ThresholdConfig
from flink_job.core.detection.monitor import STATE_VERSION

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "state"


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("monitor_v*.json")), ids=lambda p: p.name)
def test_saved_state_restores_and_replays(path):
    fx = json.loads(path.read_text())
    props = dict(fx["detection"])
    if fx["state"]["v"] == 1:
        props["protect_baseline"] = "false"
    if fx["state"]["v"] <= 2:
        props.update(novelty_scope="series", learn_first_outlier="false", ewma_lambda="0.2")
    det = DetectionConfig.from_properties(props)
    thr = ThresholdConfig.from_properties(fx["thresholds"])
    m = SeriesMonitor.from_state(fx["state"], fx["device_id"], fx["sensor"], det, thr)
    got = [m.update(t, v) for t, v in fx["next"]]
    tolerance = 0.15 if fx["state"]["v"] == 1 else 1e-6
    for g, e in zip(got, fx["expected"], strict=True):
        assert g.score == pytest.approx(e["score"], abs=tolerance)
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


def test_v1_state_is_past_commissioning_and_protected_by_default():
    fx = json.loads((FIXTURES / "monitor_v1.json").read_text())
    det = DetectionConfig.from_properties(fx["detection"])
    m = SeriesMonitor.from_state(fx["state"], fx["device_id"], fx["sensor"], det, ThresholdConfig())
    assert m.commissioned and m.to_state()["v"] == STATE_VERSION
    assert any(v.score > 0 for v in (m.update(t, x) for t, x in fx["next"]))
