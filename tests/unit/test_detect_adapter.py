"""The detection adapter's pure parts: per-device batches and the keyed-state pickling."""

from __future__ import annotations

import math
import pickle
import random

from flink_job.core.detection.config import DetectionConfig, ThresholdConfig
from flink_job.pipeline.detect import _CONFIGS, READINGS, DeviceMonitors, detect_batch

DET, TH = DetectionConfig(), ThresholdConfig()
NAN = float("nan")


def _batch(rng: random.Random, start: int, n: int = 5) -> tuple[list[int], dict[str, list[float]]]:
    ts = [start + i * 1000 for i in range(n)]
    return ts, {
        "temperature": [65 + rng.gauss(0, 0.4) for _ in ts],
        "pressure": [5.5 + rng.gauss(0, 0.04) for _ in ts],
        "vibration": [NAN] * n,  # not reported by this device
    }


def test_a_critical_breach_in_a_batch_alerts_and_unreported_sensors_get_no_monitor():
    rng = random.Random(1)
    dev = DeviceMonitors("m-1")
    for w in range(40):  # normal readings: no alert
        assert not any(r[8] for r in detect_batch(dev, *_batch(rng, w * 5000), DET, TH))
    ts, cols = _batch(rng, 40 * 5000)
    cols["temperature"][2] = 120.0
    rows = detect_batch(dev, ts, cols, DET, TH)
    alerts = [r for r in rows if r[8]]
    assert [(r[1], r[2], r[5]) for r in alerts] == [("temperature", ts[2], "critical")]
    assert set(dev.monitors) == {"temperature", "pressure"}
    assert dev.last_ts == ts[-1]


def test_readings_mode_returns_every_reading_on_the_side_output():
    rng = random.Random(2)
    dev = DeviceMonitors("m-2")
    ts, cols = _batch(rng, 0)
    out = detect_batch(dev, ts, cols, DET, TH, with_readings=True)
    side = [row for tag, row in (o for o in out if isinstance(o, tuple))]
    assert all(tag is READINGS for tag, _ in (o for o in out if isinstance(o, tuple)))
    assert len(side) == 10  # 5 timestamps x 2 reported sensors
    assert not any(math.isnan(r[3]) for r in side)


def test_unsorted_batches_are_processed_in_event_time_order():
    rng = random.Random(3)
    a, b = DeviceMonitors("m-3"), DeviceMonitors("m-3")
    for w in range(30):
        ts, cols = _batch(rng, w * 5000)
        perm = list(reversed(range(len(ts))))
        detect_batch(a, ts, cols, DET, TH, with_readings=True)
        shuffled = {s: [v[i] for i in perm] for s, v in cols.items()}
        detect_batch(b, [ts[i] for i in perm], shuffled, DET, TH, with_readings=True)
    assert a.to_state() == b.to_state()


def test_keyed_state_pickles_as_a_versioned_dict_and_restores_identically():
    _CONFIGS.update(detection=DET, thresholds=TH)
    rng = random.Random(4)
    dev = DeviceMonitors("m-4")
    for w in range(50):
        detect_batch(dev, *_batch(rng, w * 5000), DET, TH)
    restored = pickle.loads(pickle.dumps(dev))
    assert restored.to_state() == dev.to_state()
    assert dev.__reduce__()[1][0]["v"] == 1
    nxt = _batch(random.Random(9), 50 * 5000)
    assert detect_batch(restored, *nxt, DET, TH, True) == detect_batch(dev, *nxt, DET, TH, True)
