"""The alert path's Python parts: detection's alert side output and the SNS writer without a buffer."""

from __future__ import annotations

import json
import random

from pyflink.common import Row

from flink_job.core.detection.config import DetectionConfig, ThresholdConfig
from flink_job.core.detection.device import DeviceMonitor
from flink_job.pipeline.detect import ALERTS, READINGS, DetectAnomalies, DeviceMonitors
from flink_job.pipeline.outputs import SINK_KEYS, bucket_of
from flink_job.pipeline.sinks import REJECTED, BatchingSink
from tests.unit.batches import detect_batch

DET, TH = DetectionConfig(), ThresholdConfig()


def _rows_with_an_alert() -> list:
    rng = random.Random(3)
    dev = DeviceMonitors("press-9", DeviceMonitor("press-9", DET, TH))
    rows: list = []
    for w in range(40):
        ts = [w * 5000 + i * 1000 for i in range(5)]
        temps = [65 + rng.gauss(0, 0.4) for _ in ts]
        if w == 39:
            temps[2] = 130.0  # a critical breach: one onset
        rows += detect_batch(dev, ts, {"temperature": temps, "pressure": [5.5] * 5, "vibration": [7.0] * 5},
                             with_readings=True)
    return rows


def test_every_alert_onset_follows_its_row_on_the_alert_output_with_its_sink_bucket():
    rows = _rows_with_an_alert()
    out = list(DetectAnomalies(DET, TH, 24, with_readings=True, with_alerts=True)._out(rows))
    pairs = [x[1] for x in out if isinstance(x, tuple) and x[0] is ALERTS]
    onsets = [r for r in rows if isinstance(r, Row) and r.alert]
    assert onsets and [p[1] for p in pairs] == onsets
    assert all(p[0] == bucket_of(p[1].device_id) and 0 <= p[0] < SINK_KEYS for p in pairs)
    for i, x in enumerate(out):  # each pair comes right after its row; everything else passes unchanged
        if isinstance(x, tuple) and x[0] is ALERTS:
            assert out[i - 1] is x[1][1]
    assert [x for x in out if not (isinstance(x, tuple) and x[0] is ALERTS)] == rows
    assert any(isinstance(x, tuple) and x[0] is READINGS for x in out)


def test_without_alert_consumers_nothing_goes_to_the_alert_output():
    rows = _rows_with_an_alert()
    assert list(DetectAnomalies(DET, TH, 24, with_alerts=False)._out(rows)) == rows


def test_with_no_flush_interval_each_item_is_written_as_it_arrives_and_refusals_are_reported():
    written: list[list] = []

    def writer(items):
        written.append(list(items))
        return [(i, "too large") for i in items if i == "big"]

    class Untouchable:  # the state handles: nothing is buffered, so none may be used
        def __getattr__(self, name):
            raise AssertionError(f"state used: {name}")

    class Context:
        def get_list_state(self, _descriptor):
            return Untouchable()

        get_state = get_list_state

    sink = BatchingSink("sns-alerts", lambda: writer, lambda r: r.text, batch_size=10, flush_interval_ms=0)
    sink.open(Context())  # type: ignore[arg-type]
    assert list(sink.process_element(Row(text="a"), None)) == []  # type: ignore[arg-type]
    refused = list(sink.process_element(Row(text="big"), None))  # type: ignore[arg-type]
    assert written == [["a"], ["big"]]
    assert refused[0][0] is REJECTED and json.loads(refused[0][1]) == {
        "sink": "sns-alerts", "reason": "too large", "item": "big"}
