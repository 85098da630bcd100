"""SeriesMonitor: verdicts, alert semantics end to end, silence, micro-batches, state round-trip."""

import json
import math
import random

import pytest

from flink_job.core.detection import DetectionConfig, SeriesMonitor, ThresholdConfig, Verdict

SMALL = DetectionConfig(min_points=20, zscore_window=100, mad_window=51, roc_window=50, cooldown_readings=20,
                        detectors=("zscore", "ewma", "mad", "roc", "flatline"))


def temperature(n, seed=1):
    rng = random.Random(seed)
    return [65 + rng.gauss(0, 0.5) for _ in range(n)]


def run(monitor, values, t0=0, dt=1000):
    return monitor.update_many([t0 + i * dt for i in range(len(values))], values)


def test_critical_threshold_breach_alerts_once_then_recovers():
    m = SeriesMonitor("pump-1", "temperature", SMALL, ThresholdConfig())
    xs = temperature(200)
    xs[150:155] = [104.2, 105.0, 106.0, 105.5, 104.0]
    xs[155:] = [65.0 + 0.3 * math.sin(i) for i in range(45)]
    out = run(m, xs)
    v = out[150]
    assert isinstance(v, Verdict)
    assert v.alert and v.anomalous and v.severity == "critical" and v.score == 1.0
    assert v.detectors[0] == "threshold"
    assert "critical_high 100" in v.reason
    assert [i for i, x in enumerate(out) if x.alert] == [150]
    assert all(x.anomalous for x in out[150:155])
    assert not out[-1].anomalous and out[-1].severity == "ok"


def test_critical_breach_inside_a_warning_episode_escalates_once():
    m = SeriesMonitor("pump-1", "temperature", SMALL, ThresholdConfig())
    out = run(m, temperature(100) + [92.0, 93.0, 101.0, 102.0, 93.0])
    assert [(v.alert, v.severity) for v in out[100:]] == [
        (True, "warning"), (False, "warning"), (True, "critical"), (False, "critical"), (False, "warning")]


def test_warning_breach_is_warning():
    m = SeriesMonitor("pump-1", "vibration", SMALL, ThresholdConfig())
    out = run(m, [2.0 + 0.01 * (i % 7) for i in range(50)] + [7.5])
    assert out[-1].alert and out[-1].severity == "warning" and "warning_high" in out[-1].reason


def test_statistical_spike_without_thresholds():
    m = SeriesMonitor("nab", "value", SMALL, ThresholdConfig())
    xs = temperature(300)
    xs[250] = 85.0  # far outside the noise, no static levels for "value"
    out = run(m, xs)
    assert out[250].alert and {"zscore", "mad"} <= set(out[250].detectors)
    assert all(0.0 <= v.score <= 1.0 for v in out)
    assert not any(v.anomalous for v in out[:20])  # warm-up


def test_new_alert_after_recovery_and_cooldown():
    m = SeriesMonitor("d", "temperature", SMALL, ThresholdConfig())
    xs = temperature(400)
    for i in (200, 205, 300):
        xs[i] = 101.0
    out = run(m, xs)
    assert [i for i, v in enumerate(out) if v.alert] == [200, 300]  # 205 is inside the cooldown
    assert out[205].anomalous


def test_update_many_equals_update():
    xs = temperature(300)
    xs[200] = 99.0
    a = SeriesMonitor("d", "temperature", SMALL, ThresholdConfig())
    b = SeriesMonitor("d", "temperature", SMALL, ThresholdConfig())
    assert run(a, xs) == [b.update(i * 1000, x) for i, x in enumerate(xs)]


def test_silence_verdict_onset_then_recovery():
    m = SeriesMonitor("d", "pressure", DetectionConfig(silence_timeout_ms=60_000), ThresholdConfig())
    assert m.check_silence(10**9) is None  # never seen
    m.update(0, 5.0)
    assert m.check_silence(59_999) is None
    v = m.check_silence(60_000)
    assert v is not None and v.detectors == ("silence",) and v.alert and v.value is None and v.anomalous
    again = m.check_silence(90_000)
    assert again is not None and not again.alert and again.anomalous
    m.update(95_000, 5.0)
    assert m.check_silence(100_000) is None


def test_non_finite_reading_is_ignored():
    m = SeriesMonitor("d", "temperature", SMALL, ThresholdConfig())
    run(m, temperature(50))
    v = m.update(60_000, float("nan"))
    assert v.score == 0.0 and not v.alert and m.n == 50


def test_state_round_trip_gives_identical_verdicts():
    xs = temperature(500, seed=9)
    xs[300] = 90.0
    xs[400:430] = [70.0] * 30
    m = SeriesMonitor("d", "temperature", SMALL, ThresholdConfig())
    run(m, xs[:250])
    state = json.loads(json.dumps(m.to_state()))
    assert state["v"] == 3
    twin = SeriesMonitor.from_state(state, "d", "temperature", SMALL, ThresholdConfig())
    rest_a = run(m, xs[250:], t0=250_000)
    rest_b = run(twin, xs[250:], t0=250_000)
    assert rest_a == rest_b
    assert any(v.alert for v in rest_a)


def test_mismatched_batch_lengths_raise():
    m = SeriesMonitor("d", "value", SMALL, ThresholdConfig())
    with pytest.raises(ValueError):
        m.update_many([1, 2], [1.0])
