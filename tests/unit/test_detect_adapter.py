"""The detection adapter's pure parts: per-device batches and the keyed-state pickling."""

from __future__ import annotations

import json
import logging
import math
import pickle
import random
from collections import Counter
from pathlib import Path

import pytest
from pyflink.common import Row

from flink_job.core.detection.config import DetectionConfig, ThresholdConfig
from flink_job.core.detection.device import DeviceMonitor
from flink_job.pipeline.detect import _CONFIGS, OUT_OF_ORDER, READINGS, DeviceMonitors
from tests.unit.batches import detect_batch

DET, TH = DetectionConfig(), ThresholdConfig()
NAN = float("nan")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "state"
VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _dev(device_id: str) -> DeviceMonitors:
    return DeviceMonitors(device_id, DeviceMonitor(device_id, DET, TH))


def _batch(rng: random.Random, start: int, n: int = 5) -> tuple[list[int], dict[str, list[float]]]:
    ts = [start + i * 1000 for i in range(n)]
    return ts, {
        "temperature": [65 + rng.gauss(0, 0.4) for _ in ts],
        "pressure": [5.5 + rng.gauss(0, 0.04) for _ in ts],
        "vibration": [NAN] * n,  # not reported by this device
    }


def test_a_critical_breach_in_a_batch_alerts_and_unreported_sensors_get_no_monitor():
    rng = random.Random(1)
    dev = _dev("m-1")
    for w in range(40):  # normal readings: no alert
        assert not any(r[8] for r in detect_batch(dev, *_batch(rng, w * 5000)))
    ts, cols = _batch(rng, 40 * 5000)
    cols["temperature"][2] = 120.0
    rows = detect_batch(dev, ts, cols)
    alerts = [r for r in rows if r[8]]
    assert [(r[1], r[2], r[5]) for r in alerts] == [("temperature", ts[2], "critical")]
    assert set(dev.monitors) == {"temperature", "pressure"}
    assert dev.last_ts == ts[-1]


def test_readings_mode_returns_every_reading_on_the_side_output():
    rng = random.Random(2)
    dev = _dev("m-2")
    ts, cols = _batch(rng, 0)
    out = detect_batch(dev, ts, cols, with_readings=True)
    side = [row for tag, row in (o for o in out if isinstance(o, tuple))]
    assert all(tag is READINGS for tag, _ in (o for o in out if isinstance(o, tuple)))
    assert len(side) == 10  # 5 timestamps x 2 reported sensors
    assert not any(math.isnan(r[3]) for r in side)


def _judged(rows: list) -> list:
    return [r for r in rows if not (isinstance(r, tuple) and r[0] is OUT_OF_ORDER)]


def test_a_reading_older_than_its_devices_newest_is_set_aside_not_judged():
    rng = random.Random(3)
    a, b = _dev("m-3"), _dev("m-3")
    for w in range(30):
        ts, cols = _batch(rng, w * 5000)
        assert not [r for r in detect_batch(a, ts, cols, with_readings=True) if isinstance(r, tuple)
                    and r[0] is OUT_OF_ORDER]
        # b gets the same readings plus, after the batch's last one, a copy of its second one
        swapped = [0, 1, 2, 3, 4, 1]
        out = detect_batch(b, [ts[i] for i in swapped], {s: [v[i] for i in swapped] for s, v in cols.items()},
                           with_readings=True)
        aside = [line for tag, line in (r for r in out if isinstance(r, tuple)) if tag is OUT_OF_ORDER]
        assert len(aside) == 1
        line = json.loads(aside[0])
        assert line["reason"].startswith(f"out of order: {ts[4] - ts[1]} ms older than its device's newest")
        assert json.loads(line["record"]) == {"device_id": "m-3", "ts": ts[1],
                                              "temperature": cols["temperature"][1],
                                              "pressure": cols["pressure"][1]}
    assert a.to_state() == b.to_state()  # the copies taught the detectors nothing


def test_verdicts_do_not_depend_on_where_the_micro_batches_were_cut():
    """Arrival order, not a sort per batch: a replay cut into other batches decides the same."""
    rng = random.Random(4)
    ts, cols = _batch(rng, 0, n=400)
    for i in range(7, 400, 37):  # 11 times a reading arrives two places early: the two it passed are late
        ts[i], ts[i - 2] = ts[i - 2], ts[i]
    cols["temperature"][7 + 37 * 3 - 2] = 125.0  # the early one: judged, a breach
    whole, cut = _dev("m-4"), _dev("m-4")
    rows_whole = detect_batch(whole, ts, cols)
    rows_cut: list = []
    for lo, hi in ((0, 6), (6, 43), (43, 120), (120, 400)):  # cuts inside the early-late triples
        rows_cut += detect_batch(cut, ts[lo:hi], {s: v[lo:hi] for s, v in cols.items()})
    assert len(rows_whole) - len(_judged(rows_whole)) == 2 * 11
    assert len(rows_cut) - len(_judged(rows_cut)) == 2 * 11
    assert [r[2] for r in _judged(rows_whole) if r[8]] == [ts[7 + 37 * 3 - 2]]
    assert _judged(rows_whole) == _judged(rows_cut)
    assert whole.to_state() == cut.to_state()


def test_keyed_state_pickles_as_a_versioned_dict_and_restores_identically():
    _CONFIGS.update(detection=DET, thresholds=TH)
    rng = random.Random(4)
    dev = _dev("m-4")
    for w in range(50):
        detect_batch(dev, *_batch(rng, w * 5000))
    restored = pickle.loads(pickle.dumps(dev))
    assert restored.to_state() == dev.to_state()
    assert dev.__reduce__()[1][0]["v"] == 2
    nxt = _batch(random.Random(9), 50 * 5000)
    assert detect_batch(restored, *nxt, True) == detect_batch(dev, *nxt, True)


def test_a_v1_state_is_migrated_its_sensors_keep_their_baselines(caplog):
    fx = json.loads((FIXTURES / "monitor_v1.json").read_text())
    v1 = {"v": 1, "device_id": "m-5", "last_ts": 80_000, "stall_timer": 0,
          "monitors": {"temperature": fx["state"]}}
    with caplog.at_level(logging.INFO, logger="flink_job.pipeline.detect"):
        dev = DeviceMonitors.from_state(v1, DET, TH)
    assert "migrated v1 state" in caplog.text
    assert dev.monitors["temperature"].n == fx["state"]["n"] and dev.core.model is None
    assert dev.to_state()["v"] == 2


def test_an_unreadable_state_starts_the_device_afresh_and_never_raises(caplog):
    with caplog.at_level(logging.WARNING, logger="flink_job.pipeline.detect"):
        for bad in ({"v": 99, "device_id": "m-6"}, {"v": 1, "device_id": "m-6", "monitors": {"x": {}}},
                    {"v": 2, "device_id": "m-6", "last_ts": 0, "device": {"v": 1, "series": 3}}):
            dev = DeviceMonitors.from_state(bad, DET, TH)
            assert dev.device_id == "m-6" and dev.monitors == {} and dev.last_ts == -1
    assert caplog.text.count("starts afresh") == 3


def test_a_relation_broken_between_sensors_raises_one_device_level_alert():
    """Pressure stops following temperature while both stay in their normal range."""
    rng = random.Random(5)
    dev = _dev("m-7")

    def batch(start: int, broken: bool) -> tuple[list[int], dict[str, list[float]]]:
        ts = [start + i * 1000 for i in range(5)]
        load = [math.sin(t / 20_000) for t in ts]
        return ts, {
            "temperature": [65 + 2 * x + rng.gauss(0, 0.1) for x in load],
            "pressure": [5.5 + (-0.2 if broken else 0.2) * x + rng.gauss(0, 0.01) for x in load],
            "vibration": [NAN] * 5,
        }

    # the relation breaks at a zero of the load (t = 440 s), so no sensor jumps
    quiet = [r for w in range(88) for r in detect_batch(dev, *batch(w * 5000, False)) if r[8]]
    assert quiet == []
    rows = [r for w in range(88, 108) for r in detect_batch(dev, *batch(w * 5000, True))]
    alerts = [r for r in rows if r[8]]
    assert [(r[1], r[6]) for r in alerts] == [("device", "multivariate")]
    assert "top: pressure" in alerts[0][9] or "top: temperature" in alerts[0][9]


def test_keyed_state_pickled_by_the_v1_job_restores_and_keeps_detecting():
    """The bytes a v1 job wrote into Flink keyed state (release a0cc1a8: 3 sensors, 300 readings)."""
    _CONFIGS.update(detection=DET, thresholds=TH)
    dev = pickle.loads((FIXTURES / "device_v1.pickle").read_bytes())
    assert isinstance(dev, DeviceMonitors) and dev.device_id == "machine-0042" and dev.last_ts == 299_000
    assert set(dev.monitors) == {"temperature", "pressure", "vibration"}
    assert all(m.commissioned for m in dev.monitors.values()) and dev.core.model is None
    # migrated sensors get the same per-device limits as a fresh 3-sensor device's
    fresh = DeviceMonitor("m", DET, TH)
    fresh.update(0, {"temperature": 65.0, "pressure": 5.5, "vibration": 2.5})
    assert dev.monitors["pressure"].detection == fresh.series["pressure"].detection != DET
    rng = random.Random(12)
    ts = [300_000 + i * 1000 for i in range(5)]
    cols = {"temperature": [65 + rng.gauss(0, 0.4) for _ in ts], "pressure": [5.5, 5.5, 9.6, 5.5, 5.5],
            "vibration": [2.5 + rng.gauss(0, 0.15) for _ in ts]}
    alerts = [(r[1], r[5]) for r in detect_batch(dev, ts, cols) if r[8]]
    assert alerts == [("pressure", "critical")]
    assert pickle.loads(pickle.dumps(dev)).to_state()["v"] == 2


def test_a_reading_after_a_silence_raises_the_silence_its_timer_would_have():
    """Catch-up: one watermark step can leap past the silence timer and the reading that ends the
    silence; the batch comes first and moves the timer. The batch raises the alert instead, the
    same row as the timer's, and only once whichever comes first."""
    from flink_job.pipeline.detect import silence_row

    rng = random.Random(5)
    timeout = DET.silence_timeout_ms
    late, early = _dev("m-5"), _dev("m-5")
    for dev in (late, early):
        for w in range(20):
            detect_batch(dev, *_batch(rng, w * 5000))
    last = late.last_ts
    resume = _batch(rng, last + timeout + 30_000)
    rows = detect_batch(late, *resume)
    silent = [r for r in rows if r[6] == "silence"]
    assert [(r[1], r[2], r[8], r[9]) for r in silent] == [
        ("device", last + timeout, True, "device silent: no reading for 60 s")
    ]
    timer_row = silence_row(early, last + timeout, "")  # the timer fired first: the batch adds nothing
    assert tuple(timer_row) == tuple(silent[0])
    assert not [r for r in detect_batch(early, *resume) if r[6] == "silence"]
    # a gap shorter than the timeout is no silence
    short_gap = detect_batch(late, *_batch(rng, late.last_ts + timeout - 1000))
    assert not [r for r in short_gap if r[6] == "silence"]


class _Bundled:
    """PyFlink's keyed state as it behaves: a write is pickled when the bundle commits, and the next read
    after a commit fetches and unpickles the bytes (a new object). One store per state, keyed by
    (Flink key, map key); a ValueState is the map key None."""

    def __init__(self, key: list) -> None:
        self.key, self.store, self.pending, self.reads, self.puts = key, {}, {}, 0, 0

    def get(self, map_key=None):
        k = (self.key[0], map_key)
        if k in self.pending:
            return self.pending[k]
        if k not in self.store:
            return None
        self.reads += 1
        return pickle.loads(self.store[k])

    def put(self, map_key, value) -> None:
        self.puts += 1
        self.pending[(self.key[0], map_key)] = value

    def remove(self, map_key=None) -> None:
        self.pending[(self.key[0], map_key)] = None

    def value(self):
        return self.get()

    def update(self, value) -> None:
        self.put(None, value)

    def clear(self) -> None:
        self.remove()

    def commit(self) -> None:
        for k, v in self.pending.items():
            if v is None:
                self.store.pop(k, None)
            else:
                self.store[k] = pickle.dumps(v)
        self.pending.clear()


class _Timers:
    def __init__(self, fired: list, watermark: int) -> None:
        self.fired, self.watermark = fired, watermark

    def register_processing_time_timer(self, t: int) -> None:
        self.fired.append(("processing", t))

    def register_event_time_timer(self, t: int) -> None:
        self.fired.append(("event", t))

    def current_watermark(self) -> int:
        return self.watermark


class _Context:
    def __init__(self, key: list, timers: list, domain=None, watermark: int = 0) -> None:
        self.key, self.timers, self.domain, self.watermark = key, timers, domain, watermark

    def get_current_key(self):
        return Row(self.key[0])  # PyFlink hands keys built in the JVM over as Rows

    def timer_service(self) -> _Timers:
        return _Timers(self.timers, self.watermark)

    def time_domain(self):
        return self.domain


class _Operator:
    """DetectAnomalies on stand-ins for its keyed states; ``bucket`` and ``commit`` as Flink would."""

    def __init__(self, cache_devices: int = 10_000, ttl_hours: int = 24, buckets: int | None = None,
                 thresholds: ThresholdConfig = TH, write_at_flush: bool = False) -> None:
        from flink_job.pipeline.detect import DetectAnomalies

        self.key: list = [0]
        self.devices, self.schedules, self.timers = _Bundled(self.key), _Bundled(self.key), []
        self.unflushed: dict[int, None] = {}  # buckets with a batch since the last flush (as the JVM)
        self.fn = DetectAnomalies(DET, thresholds, ttl_hours, cache_devices=cache_devices, buckets=buckets,
                                  write_at_flush=write_at_flush)
        states = self

        class Runtime:
            def get_map_state(self, _descriptor):
                return states.devices

            def get_state(self, _descriptor):
                return states.schedules

        self.fn.open(Runtime())  # type: ignore[arg-type]

    def process(self, bucket: int, batch: list[tuple[str, int, dict[str, float]]]) -> list:
        """One bucket's micro-batch of (device, ts, {sensor: value}) readings."""
        self.key[0] = bucket
        # as DeviceMicroBatcher lays a batch out: the names in first-seen order, one row per reading
        names = list(dict.fromkeys(s for r in batch for s in r[2]))
        flat = [r[2].get(s, NAN) for r in batch for s in names]
        value = Row([r[0] for r in batch], [r[1] for r in batch], names, flat)
        if batch:
            self.unflushed[bucket] = None
        return list(self.fn.process_element(value, _Context(self.key, self.timers)))

    def fire(self, bucket: int, timestamp: int, processing: bool = False) -> list:
        from pyflink.datastream import TimeDomain

        self.key[0] = bucket
        domain = TimeDomain.PROCESSING_TIME if processing else TimeDomain.EVENT_TIME
        return list(self.fn.on_timer(timestamp, _Context(self.key, self.timers, domain, timestamp)))

    def commit(self) -> None:
        self.devices.commit()
        self.schedules.commit()

    def checkpoint(self) -> None:
        """As MicroBatchBundleOperator before a barrier: a state flush (an empty batch) for every bucket
        with a batch since the last, then the bundle end."""
        for bucket in list(self.unflushed):
            assert self.process(bucket, []) == []
        self.unflushed.clear()
        self.commit()

    def checkpointed(self) -> dict:
        return {k: pickle.loads(v).to_state() for k, v in self.devices.store.items()}


def _readings(rng: random.Random, device: str, start: int, n: int = 5) -> list:
    ts, cols = _batch(rng, start, n)
    return [(device, t, {"temperature": cols["temperature"][i], "pressure": cols["pressure"][i]})
            for i, t in enumerate(ts)]


def _run_bundles(cache_devices: int, devices: int, bundles: int, buckets: int = 2) -> tuple[list, int, dict]:
    """Every device gets one batch per bundle; returns (rows, device state reads, checkpointed states)."""
    op = _Operator(cache_devices)
    rng, rows = random.Random(5), []
    for b in range(bundles):
        for bucket in range(buckets):
            batch = [r for d in range(bucket, devices, buckets) for r in _readings(rng, f"m-{d}", b * 5000)]
            if b == bundles - 1 and bucket == 0:
                batch[2][2]["temperature"] = 130.0  # a critical breach of m-0: one onset
            rows += op.process(bucket, batch)
        op.commit()
    states = {k: pickle.loads(v) for k, v in op.devices.store.items()}
    states = {k: v.to_state() for k, v in states.items()}
    return rows, op.devices.reads, states


def test_live_devices_are_kept_between_bundles_and_checkpoint_exactly_what_an_uncached_run_does():
    uncached = _run_bundles(cache_devices=0, devices=3, bundles=40)
    cached = _run_bundles(cache_devices=10, devices=3, bundles=40)
    assert uncached[1] == 3 * 39  # without the cache: one unpickle per device and bundle
    assert cached[1] == 0  # with it: none (the objects were made here)
    assert [r.alert for r in cached[0]] == [r.alert for r in uncached[0]] and any(r.alert for r in cached[0])
    assert [(r.device_id, r.ts_ms, r.score) for r in cached[0]] == [
        (r.device_id, r.ts_ms, r.score) for r in uncached[0]]
    assert cached[2] == uncached[2]
    assert {k[1] for k in cached[2]} == {"m-0", "m-1", "m-2"}


def test_beyond_its_size_the_least_recently_seen_device_is_read_back_from_state():
    uncached = _run_bundles(cache_devices=0, devices=3, bundles=12)
    small = _run_bundles(cache_devices=2, devices=3, bundles=12)
    assert 0 < small[1] <= 3 * 11  # round-robin over 3 devices evicts each before its next turn
    assert small[2] == uncached[2]
    assert [(r.device_id, r.ts_ms, r.score) for r in small[0]] == [
        (r.device_id, r.ts_ms, r.score) for r in uncached[0]]


def _run_checkpointed(write_at_flush: bool, cache_devices: int = 100, devices: int = 6, buckets: int = 2,
                      bundles: int = 30) -> tuple[list, list, _Operator, int]:
    """Every device one batch per bundle, a checkpoint every 7 bundles: (rows, each checkpoint's device
    states, the operator, the most live devices it held at a bundle end)."""
    op = _Operator(cache_devices, write_at_flush=write_at_flush)
    rng, rows, checkpoints, most = random.Random(5), [], [], 0
    for b in range(bundles):
        for bucket in range(buckets):
            batch = [r for d in range(bucket, devices, buckets) for r in _readings(rng, f"m-{d}", b * 5000)]
            if b == 20 and bucket == 1:
                batch[2][2]["temperature"] = 130.0  # a critical breach of m-1: one onset
            rows += op.process(bucket, batch)
        most = max(most, len(op.fn._devices))
        op.commit()
        if b % 7 == 6:
            op.checkpoint()
            checkpoints.append(op.checkpointed())
    return rows, checkpoints, op, most


def test_written_at_the_state_flushes_each_checkpoint_holds_what_writing_every_bundle_end_does():
    through_rows, through, through_op, _ = _run_checkpointed(write_at_flush=False)
    back_rows, back, back_op, _ = _run_checkpointed(write_at_flush=True)
    assert len(back) == 4 and back == through and all(len(c) == 6 for c in back)
    assert [tuple(r) for r in back_rows] == [tuple(r) for r in through_rows]
    assert any(r.alert for r in back_rows)
    assert through_op.devices.puts == 6 * 30  # every device at every bundle end
    assert back_op.devices.puts == 6 * 4  # every device once per checkpoint


def test_between_state_flushes_a_bundle_end_writes_no_device_and_a_flush_only_its_own_bucket():
    op = _Operator(write_at_flush=True)
    rng = random.Random(3)
    for w in range(5):
        op.process(0, _readings(rng, "a-1", w * 5000))
        op.process(1, _readings(rng, "b-2", w * 5000))
        op.commit()
    assert op.devices.store == {} and op.devices.puts == 0
    assert op.process(1, []) == []  # bucket 1's flush
    op.commit()
    assert set(op.devices.store) == {(1, "b-2")} and (1, None) in op.schedules.store
    op.checkpoint()
    assert set(op.devices.store) == {(0, "a-1"), (1, "b-2")} and op.devices.puts == 2


def test_written_at_flushes_a_cache_smaller_than_the_fleet_still_checkpoints_every_change():
    """Letting a device go writes it first (its bucket's changes, under its own key); a device of
    another bucket with unwritten changes stays live, beyond the cache size, until it can be."""
    fleet = {"cache_devices": 2, "devices": 9, "buckets": 3}
    through_rows, through, _, _ = _run_checkpointed(write_at_flush=False, **fleet)
    back_rows, back, back_op, most = _run_checkpointed(write_at_flush=True, **fleet)
    assert back == through and all(len(c) == 9 for c in back)
    assert [tuple(r) for r in back_rows] == [tuple(r) for r in through_rows]
    assert most <= 2 + 3 * 2  # the cache, and the unwritten devices of the two other buckets
    assert back_op.devices.reads > 0  # devices were let go and read back


def test_devices_sharing_a_bucket_and_a_batch_are_scored_as_if_each_had_its_own():
    """Interleaved readings of three devices in one bucket's batches give, per device, exactly the rows
    of that device's readings run alone through ``detect_batch``."""
    rng = random.Random(9)
    per_device: dict[str, list] = {d: [] for d in ("a-1", "b-2", "c-3")}
    batches = []
    for w in range(60):
        mixed = [r for d in per_device for r in _readings(rng, d, w * 5000)]
        if w == 50:
            mixed[4][2]["pressure"] = 9.9  # a breach of a-1
        rng.shuffle(mixed)
        mixed.sort(key=lambda r: (r[0], r[1]))  # each device in order; devices interleaved below
        mixed = [mixed[i] for i in sorted(range(len(mixed)), key=lambda i: (i % 5, i))]
        batches.append(mixed)
        for r in mixed:
            per_device[r[0]].append(r)
    op = _Operator()
    together = [row for batch in batches for row in op.process(7, batch)]
    for device in per_device:
        alone, dev = [], _dev(device)
        for w in range(60):
            mine = [r for r in batches[w] if r[0] == device]
            cols = {s: [r[2].get(s, NAN) for r in mine] for s in ("temperature", "pressure", "vibration")}
            alone += detect_batch(dev, [r[1] for r in mine], cols)
        assert [tuple(r) for r in together if r.device_id == device] == [tuple(r) for r in alone]
    assert any(r.alert and r.device_id == "a-1" for r in together)


def test_any_named_measurements_are_detected_by_name_in_a_mixed_batch():
    """Devices of one bucket report different measurement names (a batch's names are the union, NaN
    where a reading lacks one): each device's monitors are exactly its own names, a level configured
    for a named measurement alerts on it, and its statistics alert on a step."""
    th = ThresholdConfig.from_properties({"spindle_rpm.critical_high": "3000"})
    op = _Operator(thresholds=th)
    rng = random.Random(12)
    rows = []
    for i in range(400):
        ts = i * 1000
        rpm = 1500 + rng.gauss(0, 5) + (3200 if i == 300 else 0)
        current = 12 + rng.gauss(0, 0.1) + (4.0 if i >= 350 else 0.0)
        batch = [("lathe-1", ts, {"spindle_rpm": rpm, "motor_current_a": current}),
                 ("press-2", ts, {"temperature": 65 + rng.gauss(0, 0.3)}),
                 ("mill-3", ts, {f"m{j}": 1.0 + j + rng.gauss(0, 0.01) for j in range(64)})]
        rows += op.process(3, batch)
    alerts = [(r.device_id, r.sensor, r.ts_ms, r.severity) for r in rows if r.alert]
    assert ("lathe-1", "spindle_rpm", 300_000, "critical") in alerts
    assert any(d == "lathe-1" and s in ("motor_current_a", "device") and 350_000 <= t <= 360_000
               for d, s, t, _ in alerts)
    assert not any(d != "lathe-1" for d, *_ in alerts)
    state = {d: set(op.fn._device(d).core.series) for d in ("lathe-1", "press-2", "mill-3")}
    assert state["lathe-1"] == {"spindle_rpm", "motor_current_a"}
    assert state["press-2"] == {"temperature"}
    assert state["mill-3"] == {f"m{j}" for j in range(64)}


@pytest.mark.parametrize("write_at_flush", [False, True])
def test_one_timer_per_bucket_raises_each_silent_device_at_its_own_deadline_then_drops_its_state(
        write_at_flush: bool):
    timeout, ttl = DET.silence_timeout_ms, 3_600_000
    op = _Operator(ttl_hours=1, write_at_flush=write_at_flush)
    rng = random.Random(2)
    for w in range(30):  # a-1 stops after 100 s; b-2 goes on
        op.process(0, (_readings(rng, "a-1", w * 5000) if w < 20 else []) + _readings(rng, "b-2", w * 5000))
        op.commit()
    events = [t for kind, t in op.timers if kind == "event"]
    assert events == [4_000 + timeout]  # one check for the bucket, armed once
    last_a = 99_000
    assert op.fire(0, 4_000 + timeout) == []  # both reported since: re-armed at the earliest deadline
    assert op.timers[-1] == ("event", last_a + timeout)
    rows = op.fire(0, last_a + timeout)
    assert [(r.device_id, r.sensor, r.ts_ms, r.alert) for r in rows] == [
        ("a-1", "device", last_a + timeout, True)]
    assert op.timers[-1] == ("event", 149_000 + timeout)  # b-2's deadline next
    op.commit()
    assert op.fire(0, 149_000 + timeout)[0].device_id == "b-2"  # b-2 silent in its turn
    assert op.timers[-1] == ("event", last_a + ttl)  # then a-1's state expiry
    op.checkpoint()
    assert op.fire(0, last_a + ttl) == []
    op.checkpoint()
    assert set(op.devices.store) == {(0, "b-2")}  # a-1's state is gone, b-2's stays until its TTL
    assert op.fire(0, 149_000 + ttl) == []
    op.checkpoint()
    assert op.devices.store == {} and op.schedules.store == {}  # the bucket is empty: nothing kept


def test_a_stalled_input_raises_silence_once_per_device_from_the_processing_time_timer():
    import time

    op = _Operator()
    rng = random.Random(4)
    op.process(3, _readings(rng, "a-1", 0) + _readings(rng, "b-2", 0))
    now = int(time.time() * 1000)
    assert op.fire(3, now, processing=True) == []  # data flowed moments ago: not stalled
    op.fn._last_input_ms = now - DET.silence_timeout_ms - 1_000  # nothing for longer than the timeout
    rows = op.fire(3, now, processing=True)
    assert sorted(r.device_id for r in rows) == ["a-1", "b-2"] and all(r.alert for r in rows)
    assert "input stalled" in rows[0].reason
    timers = len(op.timers)
    assert op.fire(3, now + 1, processing=True) == []  # raised once; every device silent: no re-arm
    assert len(op.timers) == timers


@pytest.mark.parametrize("write_at_flush", [False, True])
def test_a_restored_operator_reads_its_buckets_back_and_goes_on_as_the_running_one(write_at_flush: bool):
    rng = random.Random(8)
    batches = [_readings(rng, "a-1", w * 5000) + _readings(rng, "b-2", w * 5000) for w in range(80)]
    running = _Operator(write_at_flush=write_at_flush)
    for w in range(40):
        running.process(1, batches[w])
        running.commit()
    running.checkpoint()
    restored = _Operator(write_at_flush=write_at_flush)
    restored.devices.store = dict(running.devices.store)
    restored.schedules.store = dict(running.schedules.store)
    rest_running = [tuple(r) for w in range(40, 80) for r in running.process(1, batches[w])]
    rest_restored = [tuple(r) for w in range(40, 80) for r in restored.process(1, batches[w])]
    assert rest_restored == rest_running and restored.devices.reads == 2


def test_a_device_bucket_is_the_one_the_jvm_batcher_computes():
    """tests/vectors/device_buckets.tsv was written by the JVM; DeviceMicroBatcherTest reads it too."""
    from flink_job.pipeline.detect import device_bucket

    rows = [line.split("\t") for line in (VECTORS / "device_buckets.tsv").read_text().splitlines()
            if not line.startswith("#")]
    assert len(rows) > 50 and any(int(b) != 0 for _, n, b in rows if int(n) > 1)
    assert [device_bucket(d, int(n)) for d, n, _ in rows] == [int(b) for _, _, b in rows]


def test_a_fleet_of_serial_numbered_devices_spreads_evenly_over_the_buckets():
    """Ids that differ only in their last characters (machine-0000, machine-0001, ...) used to crowd a
    few buckets (String.hashCode keeps them in its low bits): 1 to 38 devices per bucket of 64."""
    from flink_job.pipeline.detect import device_bucket

    for pattern, n in (("machine-{:04d}", 1_000), ("dev-{}", 10_000), ("press.{:05d}", 3_000)):
        counts = Counter(device_bucket(pattern.format(i), 64) for i in range(n))
        mean = n / 64
        spread = sorted(counts.values())
        assert len(counts) == 64 and spread[-1] < 1.7 * mean and spread[0] > 0.5 * mean, (pattern, spread)


def test_after_the_bucket_count_changes_a_moved_device_is_started_afresh_not_reported_silent():
    from flink_job.pipeline.detect import device_bucket

    rng = random.Random(6)
    names = [f"press-{i:04d}" for i in range(40)]
    old = _Operator(buckets=4)
    for w in range(20):
        for b in range(4):
            mine = [d for d in names if device_bucket(d, 4) == b]
            old.process(b, [r for d in mine for r in _readings(rng, d, w * 5000)])
        old.commit()
    new = _Operator(buckets=8)  # restored from the old checkpoint with pipeline.detection_buckets = 8
    new.devices.store, new.schedules.store = dict(old.devices.store), dict(old.schedules.store)
    stayed = {d for d in names if device_bucket(d, 8) == device_bucket(d, 4)}
    assert 0 < len(stayed) < len(names)
    silent_at = 99_000 + DET.silence_timeout_ms
    rows = [r for b in range(4) for r in new.fire(b, silent_at)]  # the old buckets' pending checks
    new.commit()
    assert sorted(r.device_id for r in rows) == sorted(stayed)  # a moved device raises nothing here
    assert {d for _, d in new.devices.store} == stayed  # and its old copy is gone
