"""Flink adapter: detection keyed by a bucket of devices, over micro-batches in arrival order.

The JVM groups readings into micro-batches per bucket of devices (``DeviceMicroBatcher``: at most
``batch_window_ms`` of processing time; a watermark waits for the readings before it, and no batch
spans a checkpoint barrier), so one call into Python carries every reading of every device of that
bucket in the batch: PyFlink's per-element cost and its keyed-state commit at each bundle end are paid
once per bucket, not once per device (at 10,000 devices a device has about one reading per batch).
Detection does not wait for event time: the watermark only drives the silence checks. Each device's
readings are judged in arrival order; one older than its device's newest is set aside on
``OUT_OF_ORDER`` (archived under late/), as ``score-csv`` does (``flink_job.core.detection.order``).

The pure-Python ``DeviceMonitor`` does the detection. A bucket's devices live in one MapState (device
-> monitors; PyFlink writes a map's changes in one request per bundle), checkpointed; its schedule
(each device's newest reading time and whether it is silent) is a small ValueState beside it.
Between bundles the live objects stay in the worker (``detector_cache_devices``). Behind the JVM's
``MicroBatchBundleOperator`` (``write_at_flush``) a changed device is written to state only when
that operator sends its bucket's state flush, ahead of each checkpoint barrier, or when the cache
must let it go: at 10,000 devices a device has about one reading per bundle, and pickling its state
at every bundle end cost more than detecting the reading. One
event-time timer per bucket, at the earliest deadline of its devices (re-armed lazily when it fires,
not moved per batch), raises a device's silence check and, much later, drops the state of a device
that has disappeared (TTL done with a timer: PyFlink's state TTL bypasses its state cache and costs
~3x). A reading that ends a silence the timer has not raised yet raises it first (``detect_batch``):
in catch-up one watermark step can leap past both, and the reading's batch reaches the operator
before the watermark does.

Event time stops when every shard stops (a fleet-wide outage, a dead gateway): no watermark, no
event-time timer, no silence alert. So each bucket also keeps one processing-time timer, every
``silence_timeout_ms`` of wall-clock time; it raises silence only when this subtask has received
nothing at all for that long (the input is stalled), never while data flows or a backlog is read.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction, OutputTag, RuntimeContext, TimeDomain
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from flink_job.core.detection.batch import ASIDE, PART, READING, judge_batch, silence_verdict
from flink_job.core.detection.config import BaselineConfig, DetectionConfig, ThresholdConfig
from flink_job.core.detection.device import DEVICE, DeviceMonitor
from flink_job.core.detection.monitor import SeriesMonitor, Verdict
from flink_job.core.detection.order import aside_reason
from flink_job.core.outputs import Anomaly, ScoredReading
from flink_job.pipeline.outputs import ALERT_PAIR_TYPE, READING_TYPE, bucket_of, to_row
from flink_job.pipeline.state_commit import pipeline_commits

LOG = logging.getLogger(__name__)
END_OF_TIME = 2**63 - 1
# v2: the core DeviceMonitor (sensors + multivariate model); v1 (sensors only) is migrated on restore
DEVICE_STATE_VERSION = 2

# Every reading with its verdict, when the time-series store keeps readings (timestream.mode=readings).
READINGS = OutputTag("readings", READING_TYPE)
# Every alert onset again, as (sink bucket, row), when alerts are published (SNS, CloudWatch): keyed
# in the JVM straight into their writers, not filtered out of the anomalies by another Python operator
# (each Python operator on the way holds a row for up to one bundle: alert latency).
ALERTS = OutputTag("alerts", ALERT_PAIR_TYPE)
# Readings set aside as out of order for their device, as late/ lines (JSON: reason, record, received_at).
OUT_OF_ORDER = OutputTag("out-of-order", Types.STRING())

# Configs for restoring pickled state on a worker; set in DetectAnomalies.open().
_CONFIGS: dict[str, Any] = {}


class DeviceMonitors:
    """One device's core `DeviceMonitor` and its newest reading time.

    Pickles as a versioned plain dict (``to_state``), so a checkpoint survives code changes that
    keep the state format; between bundles `DetectAnomalies` keeps the live object (its timers are
    the bucket's: ``stall_timer`` and ``silence_timer`` of older states are ignored).  A state
    this code cannot read never fails the job: v1 is migrated (its sensors keep their baselines, the
    multivariate model commissions afresh), anything else starts the device afresh; both are logged.
    """

    __slots__ = ("device_id", "core", "last_ts")

    def __init__(self, device_id: str, core: DeviceMonitor) -> None:
        self.device_id = device_id
        self.core = core
        self.last_ts = -1

    @property
    def monitors(self) -> dict[str, SeriesMonitor]:
        return self.core.series

    def to_state(self) -> dict:
        return {
            "v": DEVICE_STATE_VERSION,
            "device_id": self.device_id,
            "last_ts": self.last_ts,
            "device": self.core.to_state(),
        }

    @classmethod
    def from_state(
        cls, state: dict, detection: DetectionConfig, thresholds: ThresholdConfig,
        baseline: BaselineConfig | None = None,
    ) -> DeviceMonitors:
        device_id = str(state.get("device_id", "?"))
        try:
            version = state.get("v")
            if version == 1:  # the sensors' states, no model: a fresh device around them
                fresh = DeviceMonitor(device_id, detection, thresholds, baseline).to_state()
                core = DeviceMonitor.from_state(
                    {**fresh, "series": state["monitors"]}, device_id, detection, thresholds, baseline)
                LOG.info("device %s: migrated v1 state (sensor baselines kept; multivariate model "
                         "commissions afresh)", device_id)
            elif version == DEVICE_STATE_VERSION:
                core = DeviceMonitor.from_state(state["device"], device_id, detection, thresholds, baseline)
            else:
                raise ValueError(f"unsupported device state version {version!r}")
            dev = cls(device_id, core)
            dev.last_ts = int(state["last_ts"])
            return dev
        except Exception as exc:  # noqa: BLE001 - a state we cannot read must not fail the job
            LOG.warning("device %s: unreadable detector state (%s); its baseline starts afresh",
                        device_id, exc)
            return cls(device_id, DeviceMonitor(device_id, detection, thresholds, baseline))

    def __reduce__(self) -> tuple:
        return (_restore, (self.to_state(),))


def _restore(state: dict) -> DeviceMonitors:
    return DeviceMonitors.from_state(
        state, _CONFIGS["detection"], _CONFIGS["thresholds"], _CONFIGS.get("baseline"))


def anomaly_row(device_id: str, sensor: str, v: Verdict) -> Row:
    return to_row(Anomaly(device_id, sensor, v.ts_ms, v.value, float(v.score), v.severity,
                          ",".join(v.detectors), v.anomalous, v.alert, v.reason))


def silence_row(dev: DeviceMonitors, now_ms: int, why: str) -> Row | None:
    """The device-level silence row at ``now_ms`` (its alert set at the onset only), or None while
    no sensor of the device has been silent for the timeout."""
    v = silence_verdict(dev.core, now_ms)
    return None if v is None else _silence_row(dev.device_id, v, dev.last_ts, why)


def _silence_row(device_id: str, v: Verdict, last_ts: int, why: str) -> Row:
    reason = f"device silent: no reading for {(v.ts_ms - last_ts) / 1000:.0f} s{why}"
    return to_row(Anomaly(device_id, DEVICE, v.ts_ms, None, 1.0, v.severity, "silence", True, v.alert,
                          reason))


def aside_line(device_id: str, ts_ms: int, values: dict[str, float], behind: int, newest_ms: int) -> str:
    """The late/ line of a reading set aside as out of order (as the JVM lists readings behind the
    watermark: reason, the reading, when it was seen)."""
    record = json.dumps({"device_id": device_id, "ts": ts_ms, **values}, separators=(",", ":"))
    now = time.time()  # as the JVM's late lines give it: CAST(CURRENT_TIMESTAMP AS STRING), in ms
    received = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}"
    return json.dumps({"reason": aside_reason(behind, newest_ms), "record": record,
                       "received_at": received}, separators=(",", ":"))


def detect_batch(
    dev: DeviceMonitors,
    ts_list: list[int],
    names: list[str],
    flat: list[float],
    positions: list[int] | None = None,
    with_readings: bool = False,
) -> list:
    """Run one device's share of a micro-batch through its monitor, in arrival order
    (``flink_job.core.detection.batch.judge_batch``: ``flat`` holds a value per name per reading,
    NaN = not reported; ``positions``: the device's readings, None: all).

    Returns anomaly rows (per sensor, and ``device`` for the multivariate model), ``(OUT_OF_ORDER,
    line)`` for each reading older than the device's newest (not judged) and, with ``with_readings``,
    ``(READINGS, row)`` for every sensor reading judged.
    """
    found: list = []
    device_id = dev.device_id
    dev.last_ts = judge_batch(dev.core, dev.last_ts, ts_list, names, flat, positions,
                              dev.core.detection.silence_timeout_ms, with_readings, found)
    rows: list = []
    for f in found:
        tag = f[0]
        if tag == PART:
            rows.append(anomaly_row(device_id, f[1], f[2]))
        elif tag == READING:
            v = f[2]
            rows.append((READINGS, to_row(ScoredReading(
                device_id, f[1], v.ts_ms, v.value, float(v.score), v.severity, v.anomalous, v.alert))))
        elif tag == ASIDE:
            rows.append((OUT_OF_ORDER, aside_line(device_id, f[1], f[2], f[3], f[4])))
        else:  # SILENCE
            rows.append(_silence_row(device_id, f[1], f[2], ""))
    return rows


class DetectAnomalies(KeyedProcessFunction):
    """Input: Row(device_list, ts_list, name_list, value_list, urgent) per bucket and micro-batch: one
    device and time per reading, the batch's sensor names and, per reading, one value per name (NaN:
    not reported); ``urgent`` (sent early for a static threshold breach) only steers the JVM's bundle
    ends. The key is the bucket (``DeviceMicroBatcher.bucketOf``)."""

    def __init__(
        self,
        detection: DetectionConfig,
        thresholds: ThresholdConfig,
        state_ttl_hours: int,
        with_readings: bool = False,
        baseline: BaselineConfig | None = None,
        with_alerts: bool = False,
        cache_devices: int = 10_000,
        buckets: int | None = None,
        write_at_flush: bool = False,
    ) -> None:
        self._detection = detection
        self._thresholds = thresholds
        self._baseline = baseline or BaselineConfig()
        self._ttl_ms = state_ttl_hours * 3_600_000
        self._with_readings = with_readings
        self._with_alerts = with_alerts
        self._cache_devices = cache_devices
        self._buckets = buckets  # pipeline.detection_buckets; None: keys are not device buckets (tests)
        self._devices_state = None
        self._schedule_state = None
        self._devices: OrderedDict[str, DeviceMonitors] = OrderedDict()
        self._schedules: dict[Any, Schedule] = {}
        # Write-back (needs the cache to hold the changed devices): the JVM operator sends each bucket's
        # state flush (an empty batch) before every checkpoint barrier, see the module docstring.
        self._write_at_flush = write_at_flush and cache_devices > 0
        self._unwritten: dict[Any, dict[str, DeviceMonitors]] = {}  # bucket -> devices changed since
        self._unwritten_ids: set[str] = set()
        self._unwritten_schedules: set = set()

    def open(self, runtime_context: RuntimeContext) -> None:
        _CONFIGS.update(detection=self._detection, thresholds=self._thresholds, baseline=self._baseline)
        if not pipeline_commits(getattr(runtime_context, "_keyed_state_backend", None)):
            LOG.warning("detection: PyFlink's keyed state backend is not the one state_commit knows; "
                        "its bundle ends commit state one request at a time")
        self._devices_state = runtime_context.get_map_state(
            MapStateDescriptor("devices", Types.STRING(), Types.PICKLED_BYTE_ARRAY()))
        self._schedule_state = runtime_context.get_state(
            ValueStateDescriptor("schedule", Types.PICKLED_BYTE_ARRAY()))
        # Wall-clock time of the last input at this subtask; a (re)start counts as input, so the
        # processing-time timers restored from a checkpoint do not fire silence while catching up.
        self._last_input_ms = _wall_ms()
        self._devices = OrderedDict()
        self._schedules = {}
        self._unwritten, self._unwritten_ids, self._unwritten_schedules = {}, set(), set()

    def _schedule(self, key: Any) -> Schedule | None:
        """The current bucket's schedule: the live object written to state (as for devices, below)."""
        sched = self._schedules.get(key)
        if sched is None:
            sched = self._schedule_state.value()
            if sched is not None:
                self._schedules[key] = sched
                self._forget_moved(key, sched)
        return sched

    def _forget_moved(self, key: Any, sched: Schedule) -> None:
        """Drop the devices restored into a bucket that is no longer theirs (``detection_buckets``
        changed): their readings now go to another key, which starts them afresh, so here they would
        only look silent and raise a false alert. The caller writes the schedule back (or clears it)."""
        if self._buckets is None:
            return
        bucket = key[0] if isinstance(key, Row) else key
        moved = [d for d in sched.devices if device_bucket(d, self._buckets) != bucket]
        for device_id in moved:
            del sched.devices[device_id]
            self._devices_state.remove(device_id)  # the live object, if any, is the new bucket's
        if moved:
            LOG.warning("detection bucket %s: %d restored devices (e.g. %s) belong to another bucket now "
                        "(pipeline.detection_buckets=%d changed?): their baselines start afresh",
                        bucket, len(moved), moved[0], self._buckets)

    def _device(self, device_id: str) -> DeviceMonitors | None:
        """The live device, else its state in the current bucket. PyFlink drops a state's object when a
        bundle commits and unpickles it again on the next read (~0.5 ms, more than detecting a reading):
        with many devices and few readings each per bundle that was most of the cost. The objects kept
        here are the ones written to state, so a checkpoint holds exactly them; a restore reopens with
        none."""
        dev = self._devices.get(device_id)
        if dev is not None:
            self._devices.move_to_end(device_id)
            return dev
        dev = self._devices_state.get(device_id)
        if dev is not None:
            self._keep(dev)
        return dev

    def _keep(self, dev: DeviceMonitors) -> None:
        if self._cache_devices > 0:
            self._devices[dev.device_id] = dev
            if len(self._devices) > self._cache_devices and not self._write_at_flush:
                self._devices.popitem(last=False)  # the least recently seen; its state is written

    def _changed(self, key: Any, dev: DeviceMonitors) -> None:
        """``dev`` (of bucket ``key``, the current key) changed: written now, or at the bucket's flush."""
        if self._write_at_flush:
            self._unwritten.setdefault(key, {})[dev.device_id] = dev
            self._unwritten_ids.add(dev.device_id)
        else:
            self._devices_state.put(dev.device_id, dev)

    def _write_now(self, key: Any, dev: DeviceMonitors) -> None:
        """Writes ``dev`` (of bucket ``key``, the current key) to state at once (timers: rare)."""
        self._devices_state.put(dev.device_id, dev)
        self._drop_unwritten(key, dev.device_id)

    def _drop_unwritten(self, key: Any, device_id: str) -> None:
        pending = self._unwritten.get(key)
        if pending is not None and pending.pop(device_id, None) is not None:
            self._unwritten_ids.discard(device_id)

    def _write_unwritten(self, key: Any) -> None:
        """Writes bucket ``key``'s changed devices and schedule (the current key's) to state."""
        pending = self._unwritten.pop(key, None)
        if pending:
            for device_id, dev in pending.items():
                self._devices_state.put(device_id, dev)
            self._unwritten_ids.difference_update(pending)
        if key in self._unwritten_schedules:
            self._unwritten_schedules.discard(key)
            sched = self._schedules.get(key)
            if sched is not None:
                self._schedule_state.update(sched)

    def _trim(self, key: Any) -> None:
        """Back to ``cache_devices`` live devices (write-back): the current bucket's changes are written
        first; a device of another bucket with unwritten changes stays until its bucket's next batch."""
        if len(self._devices) <= self._cache_devices:
            return
        self._write_unwritten(key)
        for _ in range(len(self._devices)):
            if len(self._devices) <= self._cache_devices:
                return
            device_id = next(iter(self._devices))
            if device_id in self._unwritten_ids:
                self._devices.move_to_end(device_id)
            else:
                del self._devices[device_id]

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context):
        self._last_input_ms = _wall_ms()
        key = ctx.get_current_key()
        device_list, ts_list, names, flat = value[0], value[1], value[2], value[3]
        if not device_list:  # the bucket's state flush (MicroBatchBundleOperator, before a checkpoint)
            self._write_unwritten(key)
            return
        sched = self._schedule(key)
        if sched is None:
            sched = self._schedules[key] = Schedule()
        rows: list = []
        timeout = self._detection.silence_timeout_ms
        earliest = END_OF_TIME
        for device_id, idx in _by_device(device_list).items():
            dev = self._device(device_id)
            if dev is None:
                dev = DeviceMonitors(device_id, DeviceMonitor(
                    device_id, self._detection, self._thresholds, self._baseline))
                self._keep(dev)
            before = dev.last_ts
            # one row of len(names) values per reading (DeviceMicroBatcher); idx None: all are this device's
            rows += detect_batch(dev, ts_list, names, flat, idx, self._with_readings)
            self._changed(key, dev)
            # readings set aside (out of order) neither end a silence nor move its deadline
            if dev.last_ts >= 0 and (dev.last_ts != before or device_id not in sched.devices):
                sched.devices[device_id] = [dev.last_ts, False]
                earliest = min(earliest, dev.last_ts + timeout)
        timers = ctx.timer_service()
        if sched.stall_timer == 0:
            sched.stall_timer = self._last_input_ms + timeout
            timers.register_processing_time_timer(sched.stall_timer)
        if earliest < END_OF_TIME and (sched.silence_timer == 0 or earliest < sched.silence_timer):
            # A reading only moves its device's deadline later, so the pending check stands unless
            # this one is earlier (a new device): not a timer deleted and registered per batch.
            sched.silence_timer = earliest
            timers.register_event_time_timer(earliest)
        if self._write_at_flush:
            self._unwritten_schedules.add(key)
            self._trim(key)
        else:
            self._schedule_state.update(sched)
        yield from self._out(rows)

    def _out(self, rows: Any):
        """The rows, each alert onset followed by its (bucket, row) pair on ``ALERTS``."""
        if not self._with_alerts:
            yield from rows
            return
        for row in rows:
            yield row
            if isinstance(row, Row) and row.alert:  # not a (READINGS, row) pair
                yield ALERTS, Row(bucket_of(row.device_id), row)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        yield from self._out(self._on_timer(timestamp, ctx))

    def _on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        key = ctx.get_current_key()
        sched = self._schedule(key)
        if sched is None:
            return
        if ctx.time_domain() == TimeDomain.PROCESSING_TIME:
            yield from self._on_stall_timer(sched, ctx)
        # A drained stop (or the end of a replay) pushes the watermark to the end of time: every
        # device would look silent at once, so that is not a silence.
        elif ctx.timer_service().current_watermark() < END_OF_TIME:
            yield from self._on_silence_timer(timestamp, sched, ctx)
        self._unwritten_schedules.discard(key)
        if sched.devices:
            self._schedule_state.update(sched)
        else:  # every device of the bucket is gone
            self._schedule_state.clear()
            self._schedules.pop(key, None)
        if self._write_at_flush:
            self._trim(key)

    def _on_silence_timer(self, timestamp: int, sched: Schedule,
                          ctx: KeyedProcessFunction.OnTimerContext):
        """Every device due by ``timestamp``: a silence row at its deadline, or (silent for longer than
        the state TTL) its state dropped; then the check is re-armed at the next deadline."""
        if timestamp == sched.silence_timer:
            sched.silence_timer = 0
        timeout = self._detection.silence_timeout_ms
        key = ctx.get_current_key()
        for device_id, entry in list(sched.devices.items()):
            last_ts, silent = entry
            if not silent and last_ts + timeout <= timestamp:
                dev = self._device(device_id)
                if dev is None:  # no state to check (cannot happen unless state was lost): forget it
                    del sched.devices[device_id]
                    continue
                row = silence_row(dev, last_ts + timeout, "")
                self._write_now(key, dev)
                entry[1] = silent = True
                if row is not None:
                    yield row
            if silent and last_ts + self._ttl_ms <= timestamp:  # gone for longer than the state TTL
                self._devices_state.remove(device_id)
                self._devices.pop(device_id, None)
                self._drop_unwritten(key, device_id)
                del sched.devices[device_id]
        nxt = sched.next_deadline(timeout, self._ttl_ms)
        if nxt is not None and (sched.silence_timer == 0 or nxt < sched.silence_timer):
            sched.silence_timer = nxt
            ctx.timer_service().register_event_time_timer(nxt)

    def _on_stall_timer(self, sched: Schedule, ctx: KeyedProcessFunction.OnTimerContext):
        """Processing-time fallback: silence while the whole input is stalled (event time stopped)."""
        now = _wall_ms()
        timeout = self._detection.silence_timeout_ms
        stalled_for = now - self._last_input_ms
        all_silent = all(silent for _, silent in sched.devices.values())
        if stalled_for >= timeout:
            why = f"; input stalled for {stalled_for / 1000:.0f} s (no data from any shard)"
            all_silent = True
            for device_id, (_, silent) in sched.devices.items():
                dev = None if silent else self._device(device_id)
                if dev is None:
                    continue
                row = silence_row(dev, now, why)
                self._write_now(ctx.get_current_key(), dev)
                all_silent &= all(m.silence.silent for m in dev.monitors.values())
                if row is not None and row.alert:  # the onset only; open until a reading arrives
                    yield row
        if all_silent:
            sched.stall_timer = 0  # silent already: the bucket's next reading restarts the timer
        else:
            sched.stall_timer = max(now, self._last_input_ms + timeout)
            ctx.timer_service().register_processing_time_timer(sched.stall_timer)


class Schedule:
    """A bucket's devices (device -> [newest reading time, silent]) and its pending timers.

    Pickles as a versioned plain dict, like `DeviceMonitors`."""

    __slots__ = ("devices", "silence_timer", "stall_timer")

    def __init__(self) -> None:
        self.devices: dict[str, list] = {}
        self.silence_timer = 0  # the pending event-time check (ms), 0: none
        self.stall_timer = 0  # the pending processing-time timer (wall-clock ms), 0: none

    def next_deadline(self, timeout_ms: int, ttl_ms: int) -> int | None:
        """The earliest silence check (or, for a silent device, state expiry) of the bucket."""
        return min((t + (ttl_ms if silent else timeout_ms) for t, silent in self.devices.values()),
                   default=None)

    def __reduce__(self) -> tuple:
        return (_schedule_from_state, ({"v": 1, "devices": self.devices, "silence_timer": self.silence_timer,
                                        "stall_timer": self.stall_timer},))


def _schedule_from_state(state: dict) -> Schedule:
    sched = Schedule()
    sched.devices = {str(d): [int(t), bool(s)] for d, (t, s) in state.get("devices", {}).items()}
    sched.silence_timer = int(state.get("silence_timer", 0))
    sched.stall_timer = int(state.get("stall_timer", 0))
    return sched


def _by_device(device_list: list[str]) -> dict[str, list[int] | None]:
    """Each device's positions in a bucket's batch, in arrival order (None: the whole batch)."""
    first = device_list[0] if device_list else None
    if all(d == first for d in device_list):
        return {first: None} if first is not None else {}
    out: dict[str, list[int] | None] = {}
    for i, d in enumerate(device_list):
        out.setdefault(d, []).append(i)  # type: ignore[union-attr]
    return out


def device_bucket(device_id: str, buckets: int) -> int:
    """The device's detection bucket as the JVM batcher computes it (``DeviceMicroBatcher.bucketOf``):
    Java's String.hashCode over UTF-16 code units, mixed by murmur3's 32-bit finaliser, floor-modulo
    ``buckets``."""
    h = 0
    units = device_id.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + (units[i] << 8 | units[i + 1])) & 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return (h - (1 << 32) if h >> 31 else h) % buckets


def _wall_ms() -> int:
    return int(time.time() * 1000)
