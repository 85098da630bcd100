"""Anomaly counts to CloudWatch (PutMetricData), for the dashboard's "anomalies by severity".

A batch of alert onsets becomes one datum per severity (Sum over the batch, stamped with the
newest onset's minute), so the call rate stays at one per flush however many alerts there are.
Throttling, 5xx and connection errors are retried with backoff (connectors.aws), then raised, so the
job restarts from its checkpoint and the counts are sent again (at least once: a call whose answer
was lost is counted twice). A call CloudWatch refuses as invalid hands its items back as refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from connectors.aws import RetryPolicy, default_policy, is_transient

METRIC_NAME = "AnomaliesDetected"
# Alert onsets per call: they become one datum per severity, so this only bounds the writer's buffer.
MAX_ITEMS_PER_CALL = 1_000


class AnomalyMetrics:
    """Publishes ``(severity, ts_ms)`` items as counts; returns the items of a call refused as invalid."""

    def __init__(self, client, namespace: str, policy: RetryPolicy | None = None) -> None:  # noqa: ANN001
        self._client = client
        self._policy = policy or default_policy()
        self._namespace = namespace
        self.published = 0

    def publish(self, items: Sequence[tuple[str, int]]) -> list[tuple[tuple[str, int], str]]:
        if not items:
            return []
        counts = Counter(severity for severity, _ts in items)
        stamp = datetime.fromtimestamp(max(ts for _s, ts in items) / 1000, UTC)
        data = [
            {
                "MetricName": METRIC_NAME,
                "Dimensions": [{"Name": "Severity", "Value": severity}],
                "Timestamp": stamp,
                "Value": float(n),
                "Unit": "Count",
            }
            for severity, n in sorted(counts.items())
        ]
        backoff = self._policy.start(f"CloudWatch PutMetricData to {self._namespace}")
        while True:
            try:
                self._client.put_metric_data(Namespace=self._namespace, MetricData=data)
            except Exception as exc:
                if is_transient(exc):
                    backoff.wait(exc)
                    continue
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
                if code in ("InvalidParameterValue", "InvalidParameterCombination", "MissingParameter"):
                    return [(item, f"refused by CloudWatch: {exc}") for item in items]
                raise
            self.published += len(items)
            return []
