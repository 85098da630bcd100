"""Integration: our Kinesis source fails the job fast, and without restarts, on what retrying
cannot fix.

Each job runs on a minicluster whose restart strategy would restart it 1,000 times (fixed delay):
the job can only end within the bound if the source suppresses restarts. The failure must carry the
one readable line starting with "Kinesis source: ".
"""

from __future__ import annotations

import socket
import time

import pytest

pytestmark = pytest.mark.integration

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
CREDENTIALS = ("testing", "testing")
BOUND_S = 60  # the spec's correctness bound for "fails at once"
RESTARTS = {
    "restart-strategy.type": "fixed-delay",
    "restart-strategy.fixed-delay.attempts": "1000",
    "restart-strategy.fixed-delay.delay": "500 ms",
}


def _source(endpoint: str, stream_arn: str):  # noqa: ANN202 - a PyFlink Source
    from connectors.kinesis import KinesisStreamsSource

    return (
        KinesisStreamsSource.builder()
        .set_stream_arn(stream_arn)
        .set_endpoint(endpoint)
        .set_static_credentials(*CREDENTIALS)
        .set_initial_position("TRIM_HORIZON")
        .set_shard_discovery_interval_ms(1000)
        .build()
    )


def _run_expecting_failure(env, source) -> tuple[float, str]:  # noqa: ANN001 - PyFlink objects
    """Runs the job; returns (seconds until it failed, the failure's full text). Fails the test when
    the job is still running after twice the bound (then it is cancelled)."""
    from pyflink.common import Types, WatermarkStrategy
    from pyflink.java_gateway import get_gateway

    env.from_source(source, WatermarkStrategy.no_watermarks(), "kinesis", Types.STRING()).print()
    started = time.monotonic()
    client = env.execute_async("kinesis-failfast-test")
    seconds = get_gateway().jvm.java.util.concurrent.TimeUnit.SECONDS
    try:
        client._j_job_client.getJobExecutionResult().get(2 * BOUND_S, seconds)
    except Exception as exc:  # noqa: BLE001 - a Py4JJavaError around the job's failure
        elapsed = time.monotonic() - started
        text = str(exc)
        if "TimeoutException" in text and "Kinesis source: " not in text:
            client.cancel().result()
            pytest.fail(f"job still running after {2 * BOUND_S} s: restarts not suppressed?")
        return elapsed, text
    client.cancel().result()
    pytest.fail("the job finished instead of failing")


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_missing_stream_fails_at_once_without_restarts(flink_env, moto_endpoint):
    env = flink_env(RESTARTS, parallelism=1)
    arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/does-not-exist-{int(time.time())}"
    elapsed, text = _run_expecting_failure(env, _source(moto_endpoint, arn))

    assert elapsed < BOUND_S, f"took {elapsed:.1f} s"
    assert f"Kinesis source: stream {arn} does not exist (ResourceNotFoundException" in text, text[-3000:]
    assert "SuppressRestartsException" in text


def test_unreachable_endpoint_fails_after_the_budget_without_restarts(flink_env):
    env = flink_env(RESTARTS, parallelism=1)
    endpoint = f"http://127.0.0.1:{_free_loopback_port()}"
    arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/anything"
    elapsed, text = _run_expecting_failure(env, _source(endpoint, arn))

    assert elapsed < BOUND_S, f"took {elapsed:.1f} s"
    expected = f"Kinesis source: endpoint {endpoint} unreachable for 30 s: Connection refused"
    assert expected in text, text[-3000:]


def test_invalid_arn_is_rejected_when_the_source_is_built(flink_env):
    flink_env(parallelism=1)  # puts the connector jar on the gateway's classpath
    started = time.monotonic()
    with pytest.raises(Exception, match="Kinesis source: invalid stream ARN arn:aws:kinesis:us-east-1:42:s"):
        _source("http://127.0.0.1:1", "arn:aws:kinesis:us-east-1:42:s")
    assert time.monotonic() - started < 5
