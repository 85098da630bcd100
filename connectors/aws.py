"""boto3 clients for the job's sinks, and the one retry policy every sink writer follows.

Retry policy (SNS, Timestream, CloudWatch, InfluxDB): a failure is either *permanent* for an
item (validation, rejected record, too large: the writer hands the item back as a dead letter)
or *transient* (throttling, HTTP 5xx, connection reset or refused, timeouts, SNS entries failed
with SenderFault=false). Transient failures are retried with exponential backoff and full jitter
(sleep uniform(0, min(cap, base * 2**attempt))) until the attempt or time budget of the batch is
spent; then the writer raises :class:`RetriesExhausted`, the Flink task fails, and the job restarts
from its last checkpoint with the sink's buffer restored, so the batch is written again instead of
being dropped. Batch-level errors that no retry can fix (unknown table or topic, access denied)
raise at once: they are configuration faults, and failing loudly loses nothing either.

botocore's own retries are switched off for these clients (one attempt per call), so this loop is
the single place that decides, and the time to give up is bounded by ``deadline_s`` plus one call.
"""

from __future__ import annotations

import http.client
import os
import random
import socket
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# One attempt per call: RetryPolicy below retries (and bounds) everything.
_CONNECT_TIMEOUT_S = 5
_READ_TIMEOUT_S = 30

# Error codes that mean "try again later", across the services the sinks write to.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "KMSThrottlingException",
    }
)

# Local/testing knobs (MSF cannot set environment variables): shrink the budget so tests see it run out.
DEADLINE_ENV = "IOT_SINK_RETRY_DEADLINE_S"
ATTEMPTS_ENV = "IOT_SINK_RETRY_ATTEMPTS"


class RetriesExhausted(RuntimeError):
    """A batch could not be written within the retry budget; the task must fail (and restart)."""


class TransientError(Exception):
    """Raised inside a writer's attempt for a retryable condition that is not an exception (e.g. SNS
    entries failed with SenderFault=false)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by attempts and by total time per batch."""

    base_s: float = 0.2
    cap_s: float = 10.0
    deadline_s: float = 45.0
    max_attempts: int = 25

    def start(self, what: str) -> Backoff:
        return Backoff(self, what)


def default_policy() -> RetryPolicy:
    """45 s / 25 attempts per batch, unless the local/testing environment variables say otherwise."""
    policy = RetryPolicy()
    deadline = os.environ.get(DEADLINE_ENV)
    attempts = os.environ.get(ATTEMPTS_ENV)
    return RetryPolicy(
        base_s=min(policy.base_s, float(deadline) / 10) if deadline else policy.base_s,
        cap_s=policy.cap_s,
        deadline_s=float(deadline) if deadline else policy.deadline_s,
        max_attempts=int(attempts) if attempts else policy.max_attempts,
    )


class Backoff:
    """One batch's retry budget: call :meth:`wait` after each transient failure."""

    def __init__(self, policy: RetryPolicy, what: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self.policy = policy
        self.what = what
        self.attempts = 1  # the first attempt is under way
        self._started = time.monotonic()
        self._sleep = sleep

    def wait(self, cause: BaseException | str) -> None:
        """Sleep before the next attempt, or raise RetriesExhausted when the budget is spent."""
        p = self.policy
        elapsed = time.monotonic() - self._started
        delay = random.uniform(0.0, min(p.cap_s, p.base_s * 2 ** (self.attempts - 1)))
        if self.attempts >= p.max_attempts or elapsed + delay > p.deadline_s:
            msg = (
                f"{self.what}: gave up after {self.attempts} attempts in {elapsed:.1f} s; last error: {cause}"
            )
            if isinstance(cause, BaseException):
                raise RetriesExhausted(msg) from cause
            raise RetriesExhausted(msg)
        self._sleep(delay)
        self.attempts += 1


def call_with_retries(call: Callable[[], T], what: str, policy: RetryPolicy | None = None) -> T:
    """``call()`` under the retry policy: transient failures retried, anything else raised at once."""
    backoff = (policy or default_policy()).start(what)
    while True:
        try:
            return call()
        except Exception as exc:
            if not is_transient(exc):
                raise
            backoff.wait(exc)


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying (throttling, 5xx, connection trouble, timeouts)."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code == 429 or exc.code >= 500
    if isinstance(exc, (urllib.error.URLError, ConnectionError, TimeoutError, socket.timeout)):
        return True
    if isinstance(exc, http.client.HTTPException):  # RemoteDisconnected, BadStatusLine, IncompleteRead
        return True
    try:
        from botocore import exceptions as bex
    except ImportError:  # pragma: no cover - InfluxDB-only environments
        return False
    if isinstance(exc, (bex.HTTPClientError, bex.ConnectionError, bex.ResponseStreamingError)):
        return True
    if isinstance(exc, bex.ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return err.get("Code") in TRANSIENT_CODES or status >= 500 or status == 429
    return False


def client(service: str, region: str, endpoint: str = ""):  # noqa: ANN201 - boto3 clients are untyped
    """A client for ``service`` without SDK retries (see the module docstring); ``endpoint`` set only
    for local runs (dummy credentials then)."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=_CONNECT_TIMEOUT_S,
        read_timeout=_READ_TIMEOUT_S,
    )
    if endpoint:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )
    return boto3.client(service, region_name=region, config=config)
