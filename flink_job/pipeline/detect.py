"""Flink adapter: per-series detection over event-time micro-batches.

The JVM groups each (device, sensor) series into short tumbling windows (``batch_window_ms``), so
one call into Python carries several readings; the pure-Python ``SeriesMonitor`` does the work and
its state lives in Flink keyed state (checkpointed, with a TTL for series that disappear). An
event-time timer per series raises the silent-device check.
"""

from __future__ import annotations

from pyflink.common import Row, Types
from pyflink.common.time import Time
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor

from flink_job.core.detection.config import DetectionConfig, ThresholdConfig
from flink_job.core.detection.monitor import SeriesMonitor, Verdict

END_OF_TIME = 2**63 - 1

ANOMALY_FIELDS = [
    "device_id",
    "sensor",
    "ts_ms",
    "value",
    "score",
    "severity",
    "detectors",
    "anomalous",
    "alert",
    "reason",
]
ANOMALY_TYPE = Types.ROW_NAMED(
    ANOMALY_FIELDS,
    [
        Types.STRING(),
        Types.STRING(),
        Types.LONG(),
        Types.DOUBLE(),
        Types.DOUBLE(),
        Types.STRING(),
        Types.STRING(),
        Types.BOOLEAN(),
        Types.BOOLEAN(),
        Types.STRING(),
    ],
)


def anomaly_row(device_id: str, sensor: str, v: Verdict) -> Row:
    return Row(
        device_id,
        sensor,
        v.ts_ms,
        v.value,
        float(v.score),
        v.severity,
        ",".join(v.detectors),
        v.anomalous,
        v.alert,
        v.reason,
    )


def is_reportable(v: Verdict) -> bool:
    """Readings worth a row downstream: anything a detector flagged, or an open episode."""
    return v.anomalous or v.alert or bool(v.detectors)


class DetectAnomalies(KeyedProcessFunction):
    """Input: Row(device_id, sensor, ts_list, values) per series and window; output: anomaly rows."""

    def __init__(self, detection: DetectionConfig, thresholds: ThresholdConfig, state_ttl_hours: int) -> None:
        self._detection = detection
        self._thresholds = thresholds
        self._ttl_hours = state_ttl_hours
        self._state = None
        self._deadline = None

    def open(self, runtime_context: RuntimeContext) -> None:
        ttl = (
            StateTtlConfig.new_builder(Time.hours(self._ttl_hours))
            .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
            .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
            .build()
        )
        desc = ValueStateDescriptor("monitor", Types.PICKLED_BYTE_ARRAY())
        desc.enable_time_to_live(ttl)
        self._state = runtime_context.get_state(desc)
        deadline = ValueStateDescriptor("silence_deadline", Types.LONG())
        deadline.enable_time_to_live(ttl)
        self._deadline = runtime_context.get_state(deadline)

    def _monitor(self, device_id: str, sensor: str) -> SeriesMonitor:
        saved = self._state.value()
        if saved is None:
            return SeriesMonitor(device_id, sensor, self._detection, self._thresholds)
        return SeriesMonitor.from_state(saved, device_id, sensor, self._detection, self._thresholds)

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context):
        device_id, sensor = value[0], value[1]
        pairs = sorted(zip(value[2], value[3], strict=True))
        monitor = self._monitor(device_id, sensor)
        verdicts = monitor.update_many([p[0] for p in pairs], [p[1] for p in pairs])
        self._state.update(monitor.to_state())
        for v in verdicts:
            if is_reportable(v):
                yield anomaly_row(device_id, sensor, v)
        # One pending silence check per series: move it past the newest reading.
        deadline = pairs[-1][0] + self._detection.silence_timeout_ms
        old = self._deadline.value()
        if old is not None and old != deadline:
            ctx.timer_service().delete_event_time_timer(old)
        ctx.timer_service().register_event_time_timer(deadline)
        self._deadline.update(deadline)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        device_id, sensor = ctx.get_current_key()
        # A drained stop (or the end of a replay) pushes the watermark to the end of time: every
        # series would look silent at once, so that is not a silence.
        if ctx.timer_service().current_watermark() >= END_OF_TIME or self._state.value() is None:
            return
        monitor = self._monitor(device_id, sensor)
        verdict = monitor.check_silence(timestamp)
        self._state.update(monitor.to_state())
        self._deadline.clear()
        if verdict is not None:
            yield anomaly_row(device_id, sensor, verdict)
