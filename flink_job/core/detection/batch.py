"""One device's readings of a micro-batch, judged in arrival order: the per-reading loop of the job.

The JVM's micro-batches carry, per reading, a time and one value per sensor name of the batch (NaN:
not reported). ``judge_batch`` runs a device's share of such a batch through its `DeviceMonitor`
and appends what the job must emit to ``out``, as tagged tuples, in reading order:

- ``(ASIDE, ts, values, behind_ms, newest_ms)``: a reading older than the device's newest, set
  aside unjudged (``order``);
- ``(SILENCE, verdict, last_ts)``: a silence onset that the reading ends before its event-time timer
  raised it (in catch-up one watermark step can leap past both);
- ``(PART, sensor, verdict)``: a sensor's (or ``device``: the multivariate model's) verdict worth a
  row downstream (`reportable`);
- ``(READING, sensor, verdict)``: every sensor verdict, when asked for (every reading is stored).

It lives in the core, compiled with the detectors, because it runs once per reading: as adapter
code it cost a quarter of the Python worker's time around a detection that costs three.
"""

from __future__ import annotations

from typing import Any, Final

from flink_job.core.detection.device import DEVICE, DeviceMonitor
from flink_job.core.detection.monitor import Verdict
from flink_job.core.detection.order import behind_ms

ASIDE: Final = 0
SILENCE: Final = 1
PART: Final = 2
READING: Final = 3


def reportable(v: Verdict) -> bool:
    """A verdict worth a row downstream: anything a detector flagged, or an open episode."""
    return v.anomalous or v.alert or bool(v.detectors)


def silence_verdict(device: DeviceMonitor, now_ms: int) -> Verdict | None:
    """The device's silence verdict at ``now_ms`` (the first silent sensor's; its alert only at
    the onset), or None while no sensor has been silent for the timeout. Every sensor is checked:
    each keeps its own silence episode."""
    verdicts = [v for m in device.series.values() if (v := m.check_silence(now_ms)) is not None]
    return verdicts[0] if verdicts else None


def judge_batch(
    device: DeviceMonitor,
    last_ts: int,
    ts_list: list[int],
    names: list[str],
    flat: list[float],
    positions: list[int] | None,
    silence_timeout_ms: int,
    with_readings: bool,
    out: list[tuple[Any, ...]],
) -> int:
    """Judge the readings at ``positions`` of a batch (None: all of them) for ``device``, whose newest
    judged reading is at ``last_ts`` (-1: none); ``flat`` holds ``len(names)`` values per reading.
    Appends the tagged tuples described above to ``out``; returns the device's new newest time."""
    k = len(names)
    count = len(ts_list) if positions is None else len(positions)
    for p in range(count):
        i = p if positions is None else positions[p]
        ts = ts_list[i]
        values: dict[str, float] = {}
        base = i * k
        for j in range(k):
            x = flat[base + j]
            if x == x:  # NaN: not reported
                values[names[j]] = x
        if not values:
            continue
        behind = behind_ms(last_ts, ts)
        if behind:
            out.append((ASIDE, ts, values, behind, last_ts))
            continue
        if 0 <= last_ts <= ts - silence_timeout_ms:
            v = silence_verdict(device, last_ts + silence_timeout_ms)
            if v is not None and v.alert:
                out.append((SILENCE, v, last_ts))
        last_ts = ts
        verdict = device.update(ts, values)
        for sensor, v in verdict.sensors.items():
            if reportable(v):
                out.append((PART, sensor, v))
        model = verdict.model
        if model is not None and reportable(model):
            out.append((PART, DEVICE, model))
        if with_readings:
            for sensor, v in verdict.sensors.items():
                out.append((READING, sensor, v))
    return last_ts
