"""What the protected baseline still learns: the first outlier of an episode, a change that lasts past
episode_adapt_ms, a flat run that ended by itself; and per-detector novelty gates."""

from __future__ import annotations

import random

from flink_job.core.detection import DetectionConfig, SeriesMonitor, ThresholdConfig
from flink_job.core.detection.flatline import FlatlineDetector

BASE = DetectionConfig(baseline_readings=200, detectors=("zscore", "ewma", "roc", "flatline"))


def feed(m: SeriesMonitor, values: list[float], start: int = 0, step: int = 60_000) -> list:
    return [m.update((start + i) * step, x) for i, x in enumerate(values)]


def spiky(n: int, rng: random.Random, every: int = 100, height: float = 30.0) -> list[float]:
    return [50 + rng.gauss(0, 1) + (height if i % every == every - 1 else 0.0) for i in range(n)]


def test_routine_spikes_teach_their_spread_through_the_first_outlier():
    def spike_scores(**kw):
        m = SeriesMonitor("d", "value", DetectionConfig(**{**vars(BASE), **kw}), ThresholdConfig())
        out = feed(m, spiky(6000, random.Random(1)))
        return [v for i, v in enumerate(out) if i % 100 == 99 and i > 300]

    learnt = spike_scores()
    frozen = spike_scores(learn_first_outlier=False)
    # with the first outlier learnt the spread grows with every spike; without it it never does
    assert max(v.score for v in learnt[-10:]) < min(v.score for v in frozen[-10:])
    assert m_alerts(learnt) < m_alerts(frozen)


def m_alerts(verdicts: list) -> int:
    return sum(v.alert for v in verdicts)


def test_a_sustained_shift_is_not_learnt_from_its_first_reading_alone():
    m = SeriesMonitor("d", "value", BASE, ThresholdConfig())
    rng = random.Random(2)
    feed(m, [50 + rng.gauss(0, 1) for _ in range(400)])
    shifted = feed(m, [58 + rng.gauss(0, 1) for _ in range(1500)], 400)
    assert sum(v.alert for v in shifted) == 1 and all(v.anomalous for v in shifted[5:])


def test_an_episode_older_than_episode_adapt_ms_becomes_the_new_normal():
    rng = random.Random(3)
    normal = [50 + rng.gauss(0, 1) for _ in range(400)]
    shifted = [58 + rng.gauss(0, 1) for _ in range(3000)]  # 50 h at one reading a minute
    adapting = SeriesMonitor("d", "value", DetectionConfig(**{**vars(BASE), "episode_adapt_ms": 86_400_000}),
                             ThresholdConfig())
    held = SeriesMonitor("d", "value", DetectionConfig(**{**vars(BASE), "episode_adapt_ms": 0}),
                         ThresholdConfig())
    for m in (adapting, held):
        feed(m, normal)
    a = feed(adapting, shifted, 400)
    h = feed(held, shifted, 400)
    day = 1440  # readings
    assert all(v.anomalous for v in a[5:day])  # a day: still the same episode
    assert not a[-1].anomalous and sum(v.alert for v in a) == 1  # then learnt, without a new alert
    assert all(v.anomalous for v in h[5:])  # 0: the episode lasts until the signal returns


def test_one_detectors_routine_peak_does_not_mute_anothers_first_finding():
    def stuck_alert_at(scope: str) -> int | None:
        cfg = DetectionConfig(**{**vars(BASE), "novelty_scope": scope, "flatline_min_run": 20})
        m = SeriesMonitor("d", "value", cfg, ThresholdConfig())
        rng = random.Random(4)
        # huge z-scores: the z-score gate's peak is ~1 (the last spike is 100 readings before the stuck
        # sensor alerts: out of the cooldown)
        feed(m, spiky(2050, rng, every=150, height=80.0))
        out = feed(m, [50.0] * 200, 2050)  # then the sensor sticks
        return next((i for i, v in enumerate(out) if v.alert and "flatline" in v.detectors), None)

    at = stuck_alert_at("detector")
    assert at is not None and at <= 30  # at the limit (a run of 20 scores 0.5, 0.6 a few readings on)
    late = stuck_alert_at("series")  # one gate on the max: only once the run's score beats the spikes'
    assert late is None or late > 2 * at  # measured: 25 vs 62 readings


def test_a_flat_run_that_ended_by_itself_raises_the_limit_to_its_length():
    det = FlatlineDetector(min_run=10, factor=2.0, min_points=20)
    rng = random.Random(5)

    def run(xs):
        out = []
        for x in xs:
            out.append(det.score_one(x))
            if out[-1] >= 0.6:
                det.track_one(x)  # abnormal: the monitor only tracks it
            else:
                det.learn_one(x)
        return out

    run([10 + rng.gauss(0, 1) for _ in range(50)])
    assert max(run([7.0] * 30)) > 0.6  # stuck for 30: over the limit of 10
    run([10 + rng.gauss(0, 1) for _ in range(20)])  # moves again: the run ended by itself
    assert det.limit() >= 29
    assert max(run([7.0] * 30)) < 0.6  # the same idle period again: no alarm
    run([10 + rng.gauss(0, 1) for _ in range(20)])
    assert max(run([7.0] * 80)) > 0.6  # a longer one still alarms
