"""Windowed detectors: one generic conformance check over all of them, then known answers."""

import json
import math
import random

import pytest

from flink_job.core.detection.base import squash, unsquash
from flink_job.core.detection.ewma import EWMADetector
from flink_job.core.detection.flatline import FlatlineDetector
from flink_job.core.detection.mad import MADDetector
from flink_job.core.detection.monitor import DETECTOR_CLASSES
from flink_job.core.detection.rate_of_change import RateOfChangeDetector
from flink_job.core.detection.silence import SilenceCheck
from flink_job.core.detection.stats import EWMeanVar, RollingMeanVar, RollingMedianMAD, kth_distance
from flink_job.core.detection.zscore import ZScoreDetector


def noisy(n, seed=3, level=10.0, sd=1.0):
    rng = random.Random(seed)
    return [level + rng.gauss(0, sd) for _ in range(n)]


def run(det, xs):
    return [det.score_learn_one(x) for x in xs]


@pytest.mark.parametrize("cls", list(DETECTOR_CLASSES.values()), ids=lambda c: c.name)
def test_conformance(cls):
    params = cls._unit_test_params()
    xs = noisy(200) + [50.0] + [10.0] * 40 + noisy(50, seed=4)
    det = cls(**params)
    scores = run(det, xs[:120])
    assert scores[0] == 0.0  # warm-up scores 0
    assert all(0.0 <= s <= 1.0 for s in scores)
    # score_one has no side effect; score_learn_one == score_one then learn_one
    twin = cls.from_state(json.loads(json.dumps(det.to_state())), **params)
    for x in xs[120:]:
        s1 = det.score_one(x)
        assert det.score_one(x) == s1
        det.learn_one(x)
        s2 = twin.score_learn_one(x)
        assert s1 == pytest.approx(s2, abs=1e-12)
        assert 0.0 <= s1 <= 1.0
        assert isinstance(det.explain(), str)


def test_squash():
    assert squash(0.0, 4.0) == 0.0
    assert squash(4.0, 4.0) == pytest.approx(0.5)
    assert squash(8.0, 4.0) == pytest.approx(0.8)
    assert unsquash(squash(7.0, 4.0), 4.0) == pytest.approx(7.0)


def test_spike_scores_high_only_at_the_spike():
    for det in (ZScoreDetector(window=100, z50=4.0, min_points=30),
                MADDetector(window=101, z50=4.0, min_points=30),
                RateOfChangeDetector(window=100, z50=4.0, min_points=30)):
        xs = noisy(150)
        xs[120] = 30.0  # 20 sigma
        scores = run(det, xs)
        assert scores[120] > 0.9, det.name
        assert max(scores[:120]) < 0.5, det.name


def test_level_shift_and_drift_are_caught_by_the_ewma_chart():
    det = EWMADetector(lambda_=0.2, baseline_alpha=0.01, z50=4.0, min_points=30)
    base = run(det, noisy(300))
    assert max(base) < 0.5
    shifted = run(det, noisy(30, seed=5, level=12.0))  # +2 sigma: invisible to a one-reading 4-sigma test
    assert max(shifted) > 0.5
    det = EWMADetector(lambda_=0.2, baseline_alpha=0.01, z50=4.0, min_points=30)
    run(det, noisy(300))
    drift = run(det, [x + 0.05 * i for i, x in enumerate(noisy(100, seed=6))])
    assert max(drift[:10]) < 0.5 and max(drift) > 0.5


def test_flatline_fires_when_stuck_longer_than_normal_runs():
    det = FlatlineDetector(min_run=10, factor=2.0, min_points=20)
    xs = noisy(100) + [10.0] * 30
    scores = run(det, xs)
    assert max(scores[:100]) == 0.0
    assert scores[100 + 9] < 0.5 <= scores[100 + 19]  # run of 20 (limit = min_run 10 vs 2*longest)
    # quantised signal, 8 equal readings in a row (7 flat steps) learnt in warm-up: the limit becomes 14
    det = FlatlineDetector(min_run=5, factor=2.0, min_points=20)
    pattern = ([1.0] * 8 + [2.0] * 8) * 10
    assert max(run(det, pattern)[20:]) < 0.5
    assert det.limit() == 14
    assert max(run(det, [3.0] * 20)) > 0.5


def test_silence_check_onset_once_and_recovery():
    s = SilenceCheck(timeout_ms=60_000)
    assert s.check(10**9) == (False, False)  # never seen: not silent
    s.seen(0)
    assert s.check(59_999) == (False, False)
    assert s.check(60_000) == (True, True)
    assert s.check(120_000) == (True, False)
    s.seen(130_000)
    assert s.check(150_000) == (False, False)


def test_running_stats_match_brute_force():
    rng = random.Random(0)
    xs = [rng.choice([rng.random(), float(rng.randint(0, 3))]) for _ in range(300)]
    rm, md = RollingMeanVar(25), RollingMedianMAD(25)
    for i, x in enumerate(xs):
        rm.update(x)
        md.update(x)
        w = xs[max(0, i - 24): i + 1]
        mean = sum(w) / len(w)
        assert rm.mean == pytest.approx(mean)
        assert rm.var == pytest.approx(sum((v - mean) ** 2 for v in w) / len(w), abs=1e-12)
        srt = sorted(w)
        med = srt[(len(w) - 1) // 2]
        assert md.median == med
        assert md.mad == sorted(abs(v - med) for v in w)[(len(w) - 1) // 2]
    for _ in range(200):
        a = sorted(rng.randint(0, 5) + rng.random() * rng.randint(0, 1) for _ in range(rng.randint(1, 12)))
        m = a[(len(a) - 1) // 2]
        for k in range(len(a)):
            assert kth_distance(a, m, k) == sorted(abs(v - m) for v in a)[k]


def test_ew_stats_start_as_running_mean():
    ew = EWMeanVar(0.01)
    for x in (1.0, 2.0, 3.0):
        ew.update(x)
    assert ew.mean == pytest.approx(2.0)
    assert ew.var == pytest.approx(2 / 3)
    assert math.isfinite(ew.std)
