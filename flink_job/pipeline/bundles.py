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

Detection also ends its bundles sooner than either limit (``prompt_keyed_process``): PyFlink checks
the bundle time at a fixed rate from the last end, so an element could wait up to twice that before
the Python worker even received it (the runner buffers a bundle's input), then for the whole bundle
to be processed before its output came back.  Detection's elements are micro-batches the JVM has
already held for up to ``batch_window_ms``, arriving in waves (one per flush of each upstream
batcher, or an urgent batch at once), so its bundle ends ``detection_bundle_linger_ms`` after the
first of them (``connectors/java/.../MicroBatchBundleOperator``), bounded by
``detection_bundle_gap_ms`` between ends. An urgent batch (a static threshold breach) ends its bundle
at once: it must not wait for the gap, nor join the next flush's wave and wait for all of it. Those
ends are bounded apart too (a burst of three, then one per gap), so a plant-wide excursion that makes
every batch urgent cannot multiply the bundle ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pyflink.common.typeinfo import TypeInformation
from pyflink.datastream import DataStream, KeyedProcessFunction
from pyflink.datastream.data_stream import KeyedStream

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


PROMPT_OPERATOR = "com.iotanomaly.batching.MicroBatchBundleOperator"


def prompt_keyed_process(keyed: KeyedStream, func: KeyedProcessFunction, output_type: TypeInformation,
                         linger_ms: int, min_gap_ms: int) -> DataStream:
    """``keyed.process(func, output_type)`` whose bundles end ``linger_ms`` after their first element
    (no sooner than ``min_gap_ms`` after the previous end; ``MicroBatchBundleOperator``), for inputs
    that arrive in waves of batches the JVM already held back: PyFlink's own bundle timer would hold
    each batch again, for up to twice the bundle time, and its output until the whole bundle is done."""
    if linger_ms < 0 or min_gap_ms < 0:
        raise ValueError(f"linger and gap must be >= 0, got {linger_ms} and {min_gap_ms}")
    from pyflink.datastream import data_stream
    from pyflink.fn_execution import flink_fn_execution_pb2
    from pyflink.java_gateway import get_gateway

    # PyFlink's own construction (KeyedStream.process), then the same operator with prompt bundle ends
    j_built, j_output_type = data_stream._get_one_input_stream_operator(
        keyed, func, flink_fn_execution_pb2.UserDefinedDataStreamFunction.KEYED_PROCESS, output_type)
    operator_class = get_gateway().jvm
    for part in PROMPT_OPERATOR.split("."):
        operator_class = getattr(operator_class, part)
    j_operator = operator_class.of(j_built, int(linger_ms), int(min_gap_ms))
    return DataStream(keyed._j_data_stream.transform("KEYED PROCESS", j_output_type, j_operator))
