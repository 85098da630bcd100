"""Each Python operator of the built job keeps the bundle settings it was built with
(``flink_job.pipeline.bundles``), also after the configuration step PyFlink runs at submission.

The graph is built in the gateway JVM, as ``flink_job.main`` builds it, and then read back through
the Java transformations: the settings that would reach the Python workers, not our intentions.
"""

from __future__ import annotations

import pytest

from flink_job import config as c
from flink_job.pipeline.bundles import BUNDLE_SIZE, BUNDLE_TIME, python_bundles

pytestmark = pytest.mark.integration

TOPIC = "arn:aws:sns:eu-central-1:000000000000:alerts"


def python_operator_bundles(j_env) -> dict[str, tuple[str, str]]:  # noqa: ANN001 - Java object
    """(bundle size, bundle time) of every Python operator among ``j_env``'s transformations, by name,
    after PyFlink's submission step (``PythonConfigUtil.configPythonOperator``)."""
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    jvm.org.apache.flink.python.util.PythonConfigUtil.configPythonOperator(j_env)
    api = jvm.org.apache.flink.streaming.api
    one_input = api.transformations.OneInputTransformation._java_lang_class
    simple = api.operators.SimpleOperatorFactory._java_lang_class
    python_op = api.operators.python.AbstractPythonFunctionOperator._java_lang_class
    out = {}
    for t in j_env.getTransformations():
        if not one_input.isInstance(t) or not simple.isInstance(t.getOperatorFactory()):
            continue
        op = t.getOperatorFactory().getOperator()
        if python_op.isInstance(op):
            conf = op.getConfiguration().toMap()
            out[t.getName()] = (conf.get(BUNDLE_SIZE), conf.get(BUNDLE_TIME))
    return out


def built_job(tmp_path, uber_jar, pipeline: dict[str, str], sinks: dict[str, str] | None = None):  # noqa: ANN001, ANN201
    """The job's graph built in the gateway JVM on an empty recording; its Java environment."""
    from flink_job.pipeline.environment import create_environment
    from flink_job.pipeline.graph import build_graph

    recording = tmp_path / "empty.jsonl"
    recording.write_text("")
    cfg = c.from_groups(
        {
            "source": {"kind": "file", "file_path": str(recording)},
            "sinks": {"timeseries.store": "none", "s3.archive_path": (tmp_path / "archive").as_uri() + "/",
                      **(sinks or {})},
            "pipeline": pipeline,
            "local": {"jars": uber_jar.as_uri()},
        },
        local=True,
    )
    env = create_environment(cfg)
    build_graph(env, cfg)
    return env._j_stream_execution_environment


def test_detection_keeps_the_configured_bundles_and_the_sns_writer_sends_each_alert_at_once(
    tmp_path, uber_jar
):
    j_env = built_job(tmp_path, uber_jar, {"python_bundle_size": "5000", "python_bundle_time_ms": "700"},
                      {"sns.alerts_topic_arn": TOPIC})
    bundles = python_operator_bundles(j_env)
    assert bundles["detect-anomalies"] == ("5000", "700")
    assert bundles["anomaly-json"] == ("5000", "700")
    assert bundles["sns-alerts-writer"] == ("1", "700")
    # left out of the environment: set there, PyFlink's submission step would overwrite the above
    assert not j_env.getConfiguration().toMap().containsKey(BUNDLE_SIZE)


def test_detection_bundles_end_soon_after_their_batches(tmp_path, uber_jar):
    """Detection runs in ``MicroBatchBundleOperator`` with the configured linger and gap, also after
    PyFlink's chaining optimizer (which would fuse a following Python function in through ``copy``;
    the Java test checks that a copy keeps the class)."""
    from pyflink.java_gateway import get_gateway

    from flink_job.pipeline.bundles import PROMPT_OPERATOR

    j_env = built_job(tmp_path, uber_jar,
                      {"detection_bundle_linger_ms": "35", "detection_bundle_gap_ms": "450"})
    get_gateway().jvm.org.apache.flink.python.chain.PythonOperatorChainingOptimizer.apply(j_env)
    detect = [t for t in j_env.getTransformations() if t.getName().startswith("detect-anomalies")]
    assert len(detect) == 1
    op = detect[0].getOperatorFactory().getOperator()
    assert op.getClass().getName() == PROMPT_OPERATOR
    assert (op.getLingerMs(), op.getMinGapMs()) == (35, 450)


def test_linger_minus_one_leaves_the_bundle_ends_to_pyflink(tmp_path, uber_jar):
    j_env = built_job(tmp_path, uber_jar, {"detection_bundle_linger_ms": "-1"})
    detect = [t for t in j_env.getTransformations() if t.getName() == "detect-anomalies"]
    assert detect[0].getOperatorFactory().getOperator().getClass().getSimpleName() == (
        "ExternalPythonKeyedProcessOperator")


def test_bundles_refuse_nonsense():
    with pytest.raises(ValueError, match="must be >= 1"), python_bundles(0, 1000):
        pass
