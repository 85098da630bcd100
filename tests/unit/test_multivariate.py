"""The multivariate model and the device monitor: commissioning, protected baseline, episodes, relearn."""

from __future__ import annotations

import json
import math
import random

import pytest

from flink_job.core.detection.config import BaselineConfig, DetectionConfig, ThresholdConfig
from flink_job.core.detection.device import DeviceMonitor
from flink_job.core.detection.multivariate import MultivariateDetector, _invert, chi2_quantile
from flink_job.core.errors import ConfigError

CH = ("a", "b", "c")


def correlated(rng: random.Random, shift: float = 0.0, broken: bool = False) -> list[float]:
    """Three channels driven by one load; `broken` flips c's relation to it (c stays in range)."""
    load = rng.gauss(0, 1)
    return [10 + 2 * load + rng.gauss(0, 0.2) + shift, 5 + load + rng.gauss(0, 0.1),
            1 + (-load if broken else load) * 0.5 + rng.gauss(0, 0.05)]


def commissioned(n: int = 200, seed: int = 1) -> tuple[MultivariateDetector, random.Random]:
    rng = random.Random(seed)
    m = MultivariateDetector(CH, baseline_readings=n)
    for i in range(n):
        assert m.score_one(correlated(rng)) == 0.0  # commissioning never scores
        m.learn_one(correlated(rng), i)
    assert not m.commissioning and m.limit is not None
    return m, rng


def test_chi2_quantile_matches_known_values():
    assert chi2_quantile(3, 2.326) == pytest.approx(11.34, rel=0.02)
    assert chi2_quantile(52, 2.326) == pytest.approx(78.6, rel=0.01)


def test_normal_readings_rarely_cross_the_limit_and_a_broken_relation_does():
    m, rng = commissioned()
    normal = [m.score_one(correlated(rng)) for _ in range(3000)]
    assert sum(s >= 0.6 for s in normal) / len(normal) < 0.03
    assert sorted(normal)[len(normal) // 2] < 0.3  # a typical reading scores low, whatever the dimension
    broken = [m.score_one(correlated(rng, broken=True)) for _ in range(200)]
    assert sum(s >= 0.6 for s in broken) / len(broken) > 0.5
    m.score_one(correlated(rng, broken=True))
    assert m.contributions()[0][0] in ("c", "b")


def test_the_rank_one_inverse_stays_the_inverse_of_the_covariance():
    m, rng = commissioned()
    for _ in range(2500):
        m.learn_one(correlated(rng))
    direct = _invert(m.cov)
    pairs = [(a, b) for ra, rb in zip(m.inv, direct, strict=True) for a, b in zip(ra, rb, strict=True)]
    assert max(abs(a - b) for a, b in pairs) < 1e-6 * max(abs(b) for _, b in pairs)


def test_learning_a_reading_just_scored_matches_learning_it_cold():
    """learn_one(x) reuses score_one(x)'s deviation and inverse product: bit for bit the same model as
    a twin that learns without scoring first, through a re-inversion and a refused rank-one step."""
    m, rng = commissioned()
    twin = MultivariateDetector.from_state(m.to_state(), baseline_readings=200)
    for i in range(1200):
        x = correlated(rng, broken=i % 50 == 0)
        m.score_one(x)
        if i % 7 == 0:
            m.score_one(correlated(rng))  # a later score of another reading: no reuse for x
        m.learn_one(x)
        twin.learn_one(x)
    assert (m.mean, m.cov, m.inv) == (twin.mean, twin.cov, twin.inv)
    d = [1.0, -2.0, 0.5]
    w = [sum(r[j] * d[j] for j in range(3)) for r in m.inv]
    assert 1.0 - 1e4 * sum(a * b for a, b in zip(d, w, strict=True)) < 0
    m._rank_one(d, -1e4, 0.9)  # a refused Sherman-Morrison step (denominator < 0): re-inverted, then scaled
    cov = [[v - 1e4 * a * b for v, b in zip(row, d, strict=True)] for row, a in zip(twin.cov, d, strict=True)]
    assert m.cov == [[v * 0.9 for v in row] for row in cov]
    assert m.inv == [[v / 0.9 for v in row] for row in _invert(cov)]


def test_state_round_trips_through_json_with_identical_scores():
    m, rng = commissioned()
    twin = MultivariateDetector.from_state(json.loads(json.dumps(m.to_state())), baseline_readings=200)
    for _ in range(50):
        x = correlated(rng, broken=rng.random() < 0.2)
        assert twin.score_one(x) == pytest.approx(m.score_one(x), abs=1e-9)
        m.learn_one(x)
        twin.learn_one(x)


def test_a_constant_channel_does_not_divide_by_zero():
    m = MultivariateDetector(("x", "flat"), baseline_readings=50)
    rng = random.Random(2)
    for i in range(50):
        m.learn_one([rng.gauss(0, 1), 7.0], i)
    assert m.score_one([0.0, 7.0]) < 0.6
    assert m.score_one([0.0, 7.5]) > 0.9  # a channel that never moved now moves
    assert all(math.isfinite(v) for row in m.inv for v in row)


DET = DetectionConfig(baseline_readings=200)


def feed(dev: DeviceMonitor, rng: random.Random, n: int, t0: int, **kw) -> list:
    return [dev.update(t0 + i * 1000, dict(zip(CH, correlated(rng, **kw), strict=True))) for i in range(n)]


def test_a_long_fault_stays_one_episode_and_is_not_learnt():
    dev = DeviceMonitor("m", DET, ThresholdConfig())
    rng = random.Random(3)
    assert not any(v.alert for v in feed(dev, rng, 400, 0))
    mean_before = list(dev.model.mean)
    fault = feed(dev, rng, 2000, 400_000, broken=True)  # half an hour of a broken relation
    assert sum(v.alert for v in fault) == 1 and fault[0].model is not None
    onset = next(i for i, v in enumerate(fault) if v.anomalous)
    assert onset < 10 and all(v.model.anomalous for v in fault[onset:])  # anomalous for the whole fault
    assert dev.model.mean == mean_before  # nothing of the fault was learnt
    after = feed(dev, rng, 100, 2_400_000)
    assert not after[-1].anomalous and not any(v.alert for v in after)  # a real recovery ends it


def test_a_sensor_alert_is_not_repeated_by_the_model():
    dev = DeviceMonitor("m", DET, ThresholdConfig())
    rng = random.Random(4)
    feed(dev, rng, 300, 0)
    out = feed(dev, rng, 30, 300_000, shift=30.0)  # channel a jumps: its own detectors alert
    alerts = [(s, v.detectors) for r in out for s, v in r.parts.items() if v.alert]
    assert [s for s, _ in alerts] == ["a"]


def test_relearn_property_commissions_the_device_once():
    baseline = BaselineConfig.from_properties({"relearn.m": "1970-01-01T00:10:00Z"})
    assert baseline.relearn_at("m") == 600_000
    dev = DeviceMonitor("m", DET, ThresholdConfig(), baseline)
    rng = random.Random(5)
    feed(dev, rng, 300, 0)
    assert not dev.model.commissioning
    # after maintenance the relation is different for good: the relearn makes it the new baseline
    v = feed(dev, rng, 250, 600_000, broken=True)
    assert not any(x.alert for x in v) and not dev.model.commissioning
    state = json.loads(json.dumps(dev.to_state()))
    again = DeviceMonitor.from_state(state, "m", DET, ThresholdConfig(), baseline)
    assert again.baseline_since == 600_000  # restored: the same request does not relearn twice
    feed(again, rng, 5, 900_000, broken=True)
    assert not again.model.commissioning


@pytest.mark.parametrize("key,value,message", [
    ("relearn.m", "yesterday", "cannot parse"),
    ("relearn.m", "2026-01-01T00:00:00", "no time zone"),
    ("class.press-*.readings", "1", ">= 2"),
    ("class.press-*.hours", "3", "expected"),
    ("something", "1", "expected"),
])
def test_baseline_group_errors_name_the_key(key, value, message):
    with pytest.raises(ConfigError, match=message) as err:
        BaselineConfig.from_properties({key: value})
    assert key in str(err.value)


def test_device_classes_set_their_own_commissioning():
    baseline = BaselineConfig.from_properties({"class.press-*.readings": "500", "class.*.readings": "50",
                                               "class.press-7*.ms": "60000"})
    assert baseline.for_device("press-1", DET).baseline_readings == 500
    assert baseline.for_device("press-71", DET).baseline_ms == 60000
    assert baseline.for_device("pump-1", DET).baseline_readings == 50
    assert BaselineConfig().for_device("pump-1", DET) is DET


def test_per_sensor_limits_rise_with_the_number_of_sensors():
    from flink_job.core.detection.device import for_channels
    assert for_channels(DET, 1) is DET
    wide = for_channels(DET, 52)
    assert wide.ewma_z50 == pytest.approx(math.sqrt(DET.ewma_z50**2 + 2 * math.log(52)))
    assert wide.zscore_z50 > for_channels(DET, 3).zscore_z50 > DET.zscore_z50
    assert wide.flatline_min_run == DET.flatline_min_run


def test_a_level_shift_is_one_episode_until_the_signal_returns():
    from flink_job.core.detection.monitor import SeriesMonitor
    m = SeriesMonitor("d", "value", DetectionConfig(baseline_readings=200), ThresholdConfig())
    rng = random.Random(6)
    normal = [m.update(i * 1000, 50 + rng.gauss(0, 1)) for i in range(400)]
    assert not any(v.alert for v in normal)
    shifted = [m.update((400 + i) * 1000, 58 + rng.gauss(0, 1)) for i in range(1500)]
    assert sum(v.alert for v in shifted) == 1 and all(v.anomalous for v in shifted[5:])
    back = [m.update((1900 + i) * 1000, 50 + rng.gauss(0, 1)) for i in range(100)]
    assert not back[-1].anomalous and not any(v.alert for v in back)


def test_a_numerically_broken_model_is_reset_not_raised(caplog):
    dev = DeviceMonitor("m", DET, ThresholdConfig())
    rng = random.Random(7)
    feed(dev, rng, 250, 0)
    assert dev.model is not None and not dev.model.commissioning
    dev.model.h = 0.0  # a degenerate fit: scoring divides by zero (no monkeypatch: the core may be compiled)
    with caplog.at_level("WARNING"):
        v = feed(dev, rng, 1, 250_000)[0]
    assert v.model is None and dev.model is None and "commissions afresh" in caplog.text
    assert feed(dev, rng, 1, 251_000)[0].model is not None  # a fresh model commissions from here
