"""Pure-Python detection core (no PyFlink import): static thresholds, windowed detectors, alert policy.

The Flink job, backfills, NAB evaluation and notebooks all run `SeriesMonitor`.
"""

from flink_job.core.detection.config import DetectionConfig, ThresholdConfig
from flink_job.core.detection.monitor import SeriesMonitor, Verdict

__all__ = ["DetectionConfig", "SeriesMonitor", "ThresholdConfig", "Verdict"]
