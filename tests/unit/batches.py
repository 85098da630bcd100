"""Test helper: one device's readings as columns (sensor -> values, NaN = not reported), run through
the job's ``detect_batch``, which takes them as the JVM's micro-batch carries them (names, a flat
row of values per reading)."""

from __future__ import annotations

from flink_job.pipeline import detect
from flink_job.pipeline.detect import DeviceMonitors


def detect_batch(dev: DeviceMonitors, ts_list: list[int], columns: dict[str, list[float]],
                 with_readings: bool = False) -> list:
    names = list(columns)
    flat = [columns[name][i] for i in range(len(ts_list)) for name in names]
    return detect.detect_batch(dev, ts_list, names, flat, None, with_readings)
