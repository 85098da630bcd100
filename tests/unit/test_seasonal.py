"""The time-of-day baseline: silent until it knows the hour, catches the right value at the wrong time,
and measures spread from day to day (a slow process's hour-long agreement is not its normal spread)."""

from __future__ import annotations

import json
import math
import random

from flink_job.core.detection.seasonal import SeasonalDetector

STEP = 300_000  # 5 min: 288 readings a day, 12 per hourly bucket
DAY = 288


def daily(i: int, rng: random.Random) -> float:
    """Low at night, high in the day shift."""
    return 50 + 20 * math.sin(2 * math.pi * i / DAY) + rng.gauss(0, 1)


def feed(det: SeasonalDetector, values: list[float], start: int = 0) -> list[float]:
    out = []
    for i, x in enumerate(values):
        t = (start + i) * STEP
        out.append(det.score_one(x, t))
        det.learn_one(x, t)
    return out


def test_silent_until_each_hour_has_been_seen_on_min_days_days():
    rng = random.Random(1)
    det = SeasonalDetector(min_days=5)
    scores = feed(det, [daily(i, rng) for i in range(5 * DAY)])
    assert max(scores) == 0.0  # day 5 is still learning (the 5th day of an hour folds when it ends)
    assert max(feed(det, [daily(i, rng) for i in range(5 * DAY, 6 * DAY)])) > 0.0


def test_the_day_shift_level_at_night_is_an_anomaly_a_global_z_score_cannot_see():
    rng = random.Random(2)
    det = SeasonalDetector(min_days=5)
    feed(det, [daily(i, rng) for i in range(10 * DAY)])
    night = 10 * DAY + 3 * DAY // 4  # 18:00 of day 10: the trough of the cycle, level ~30
    assert det.score_one(daily(night, rng), night * STEP) < 0.3
    assert det.score_one(68.0, night * STEP) > 0.9  # a day-shift value (in the series' range) at night
    assert "usual level" in det.explain() and "18:00 UTC" in det.explain()


def test_the_spread_is_the_day_to_day_spread_of_an_hour_not_the_jitter_within_it():
    # each day sits at its own level (sd 3) with tiny jitter (sd 0.1), as slow processes do: consecutive
    # readings of an hour agree closely, days do not.  A level one day-sd away is normal; seven is not.
    rng = random.Random(3)
    det = SeasonalDetector(min_days=5)
    for day in range(12):
        level = 50 + rng.gauss(0, 3)
        feed(det, [level + rng.gauss(0, 0.1) for _ in range(DAY)], day * DAY)
    t = 12 * DAY * STEP
    assert det.score_one(det.level[0] + 3.0, t) < 0.1
    assert det.score_one(det.level[0] + 21.0, t) > 0.6


def test_state_round_trip_and_a_changed_bucket_count_starts_afresh():
    rng = random.Random(4)
    det = SeasonalDetector(min_days=2)
    feed(det, [daily(i, rng) for i in range(3 * DAY + 7)])
    twin = SeasonalDetector.from_state(json.loads(json.dumps(det.to_state())), min_days=2)
    tail = [daily(i, rng) for i in range(3 * DAY + 7, 4 * DAY)]
    assert feed(det, tail, 3 * DAY + 7) == feed(twin, tail, 3 * DAY + 7)
    fresh = SeasonalDetector.from_state(det.to_state(), buckets=12, min_days=2)
    assert fresh.days == [0] * 12
