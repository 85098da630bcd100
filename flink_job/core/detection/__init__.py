"""Pure-Python detection core (no PyFlink import): static thresholds, windowed detectors, alert policy.

The Flink job, backfills, NAB evaluation and notebooks all run `SeriesMonitor`.  ``localdev.native``
may compile its modules with mypyc (the same source, ~4x faster); a compiled module built from other
source than the file beside it refuses to import, so readings are never judged by code that is no
longer in the tree.
"""

from flink_job.core.compiled import stale_modules

_STALE = stale_modules()
if _STALE:
    raise ImportError(
        f"flink_job/core/detection: compiled modules were built from other sources than "
        f"{', '.join(_STALE)}: run `make native` (or `python -m localdev.native`; "
        "`python -m localdev.native --clean` runs pure Python)")


# after the check: a stale compiled module must not even load
from flink_job.core.detection.config import DetectionConfig, ThresholdConfig  # noqa: E402
from flink_job.core.detection.monitor import SeriesMonitor, Verdict  # noqa: E402

__all__ = ["DetectionConfig", "SeriesMonitor", "ThresholdConfig", "Verdict"]
