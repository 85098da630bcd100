"""The typed records detection hands to the sinks (pure Python, 3.8-safe).

Between the detector and every sink a record travels as a Flink row whose field names are these
records' fields (``flink_job.pipeline.outputs`` makes the row types from them), and every sink
reads it back by name, never by position.
"""

from __future__ import annotations

from typing import NamedTuple

from flink_job.core.events import anomaly_event


class Anomaly(NamedTuple):
    """A reading (or a device) a detector flagged, or one inside an open episode."""

    device_id: str
    sensor: str  # a sensor name, or "device" for the multivariate model and silence
    ts_ms: int
    value: float | None  # None for a silence
    score: float
    severity: str  # ok | warning | critical
    detectors: str  # comma-separated, e.g. "zscore,ewma"; "silence"
    anomalous: bool  # inside an episode
    alert: bool  # the onset (or an escalation): what goes to SNS
    reason: str

    def event(self) -> dict:
        """The JSON object archived and published (``flink_job.core.events``)."""
        return anomaly_event(*self)


class ScoredReading(NamedTuple):
    """Every reading with its verdict (time-series store in ``timestream.mode = readings``)."""

    device_id: str
    sensor: str
    ts_ms: int
    value: float
    score: float
    severity: str
    anomalous: bool
    alert: bool


class WindowStats(NamedTuple):
    """Per-series statistics of one aggregate window (the store's default content)."""

    device_id: str
    sensor: str
    start_ms: int
    n: int
    mean: float
    min_value: float
    max_value: float
    stddev: float
