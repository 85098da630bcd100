"""Pure-Python detection core (no PyFlink import): static thresholds, windowed detectors, alert policy.

The Flink job, backfills, NAB evaluation and notebooks all run `SeriesMonitor`.  ``localdev.native``
may compile its modules with mypyc (the same source, ~4x faster); a compiled module built from other
source than the file beside it refuses to import, so readings are never judged by code that is no
longer in the tree. Compiled modules that cannot load here (another CPU, an older C library) leave
the sources to run; ``CORE`` says which runs, and why.
"""

from flink_job.core.compiled import import_sources, load_failure, stale_modules

_STALE = stale_modules()
if _STALE:
    raise ImportError(
        f"flink_job/core/detection: compiled modules were built from other sources than "
        f"{', '.join(_STALE)}: run `make native` (or `python -m localdev.native`; "
        "`python -m localdev.native --clean` runs pure Python)")

_FAILURE = load_failure()
if _FAILURE:
    import_sources()

# after the check: a stale compiled module must not even load
from flink_job.core.detection import monitor as _monitor  # noqa: E402
from flink_job.core.detection.config import DetectionConfig, ThresholdConfig  # noqa: E402
from flink_job.core.detection.monitor import SeriesMonitor, Verdict  # noqa: E402

#: which detection core runs in this process, for the job's start-up line
CORE = "compiled (mypyc)" if not _monitor.__file__.endswith(".py") else (
    f"pure Python (the compiled modules did not load: {_FAILURE})" if _FAILURE else "pure Python")

__all__ = ["CORE", "DetectionConfig", "SeriesMonitor", "ThresholdConfig", "Verdict"]
