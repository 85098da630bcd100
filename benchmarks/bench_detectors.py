"""Pure-Python detector throughput, events/s on one core.

Measures `SeriesMonitor.update_many` with the default DetectionConfig, `DeviceMonitor.update` for a
3-sensor device (the job's hot path: three monitors + the multivariate model; reported per sensor
reading) and each windowed detector's `score_learn_one` alone, on synthetic series with a daily cycle.
Also reports the bytes the job keeps per 3-sensor device after the run (its keyed state, pickled as the
job pickles it).  Prints one JSON line.
Usage: python benchmarks/bench_detectors.py [--events 200000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flink_job.core.detection import DetectionConfig, SeriesMonitor, ThresholdConfig  # noqa: E402
from flink_job.core.detection.config import DETECTOR_CLASSES  # noqa: E402
from flink_job.core.detection.device import DeviceMonitor  # noqa: E402


def series(n: int, seed: int = 7) -> tuple[list[int], list[float]]:
    rng = random.Random(seed)
    ts = [1_700_000_000_000 + i * 1000 for i in range(n)]
    values = [65.0 + 8.0 * math.sin(2 * math.pi * i / 86_400) + rng.gauss(0, 0.8) for i in range(n)]
    for i in range(5000, n, 20_000):  # a few spikes so the alert path runs too
        values[i] += 40.0
    return ts, values


def bench_monitor(ts: list[int], values: list[float], batch: int) -> float:
    cfg = DetectionConfig()
    monitor = SeriesMonitor("bench-device", "temperature", cfg, ThresholdConfig())
    t0 = time.perf_counter()
    for i in range(0, len(ts), batch):
        monitor.update_many(ts[i:i + batch], values[i:i + batch])
    return len(ts) / (time.perf_counter() - t0)


def bench_device(ts: list[int], values: list[float]) -> tuple[float, int]:
    """(sensor readings/s through a 3-sensor DeviceMonitor, its keyed-state bytes after the run);
    pressure and vibration follow temperature."""
    import pickle

    from flink_job.pipeline.detect import DeviceMonitors

    dev = DeviceMonitor("bench-device", DetectionConfig(), ThresholdConfig())
    rng = random.Random(3)
    readings = [{"temperature": v, "pressure": 5.5 + 0.05 * (v - 65.0) + rng.gauss(0, 0.04),
                 "vibration": 2.5 + rng.gauss(0, 0.15)} for v in values]
    update = dev.update
    t0 = time.perf_counter()
    for t, r in zip(ts, readings, strict=True):
        update(t, r)
    rate = 3 * len(ts) / (time.perf_counter() - t0)
    state = DeviceMonitors("bench-device", dev)
    state.last_ts = ts[-1]
    return rate, len(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def bench_detector(name: str, ts: list[int], values: list[float]) -> float:
    det = DetectionConfig().build_detector(name)
    step = det.score_learn_one
    t0 = time.perf_counter()
    for t, x in zip(ts, values, strict=True):
        step(x, t)
    return len(values) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=1000, help="micro-batch size for update_many")
    args = p.parse_args(argv)
    ts, values = series(args.events)
    bench_monitor(ts[:5000], values[:5000], args.batch)  # warm-up
    device_rate, device_bytes = bench_device(ts, values)
    result = {
        "benchmark": "bench_detectors",
        "events": args.events,
        "python": sys.version.split()[0],
        "monitor_default_events_per_s": round(bench_monitor(ts, values, args.batch)),
        "device_monitor_sensor_readings_per_s": round(device_rate),
        "device_state_bytes": device_bytes,
        "detectors_events_per_s": {
            name: round(bench_detector(name, ts, values)) for name in DETECTOR_CLASSES},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
