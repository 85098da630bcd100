"""Bundle size and time per Python operator, not per job.

PyFlink hands elements to a Python worker, and takes its output back, in bundles: a bundle ends
after ``python.fn-execution.bundle.size`` elements or ``bundle.time`` ms.  One job-wide setting
cannot suit both of our Python operators: detection wants large bundles (each bundle end commits
the touched buckets' keyed state), while the SNS writer receives a few alert onsets a second, and
every millisecond an onset waits for its bundle to end is alert latency.

PyFlink gives each Python operator the environment's configuration when it builds the operator,
and at submission adds the environment's Python options on top (only those set explicitly).  So
the job leaves the bundle options out of the environment, and ``python_bundles`` hands every
Python operator built inside it a copy of that configuration with its own bundle options.
``tests/integration/test_python_bundles.py`` checks the built operators, so a PyFlink upgrade that
changes this fails there rather than silently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

BUNDLE_SIZE = "python.fn-execution.bundle.size"
BUNDLE_TIME = "python.fn-execution.bundle.time"


@contextlib.contextmanager
def python_bundles(size: int, time_ms: int) -> Iterator[None]:
    """Python operators built inside this block end a bundle after ``size`` elements or ``time_ms``."""
    if size < 1 or time_ms < 1:
        raise ValueError(f"bundle size and time must be >= 1, got {size} and {time_ms}")
    from pyflink.datastream import data_stream

    outer = data_stream.get_j_env_configuration

    def configuration(j_env):  # noqa: ANN001, ANN202 - Java objects
        conf = outer(j_env).clone()
        conf.setString(BUNDLE_SIZE, str(size))
        conf.setString(BUNDLE_TIME, str(time_ms))
        return conf

    data_stream.get_j_env_configuration = configuration
    try:
        yield
    finally:
        data_stream.get_j_env_configuration = outer
