"""Anomaly counts to CloudWatch (PutMetricData), for the dashboard's "anomalies by severity".

A batch of alert onsets becomes one datum per severity (Sum over the batch, stamped with the
newest onset's minute), so the call rate stays at one per flush however many alerts there are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

METRIC_NAME = "AnomaliesDetected"


class AnomalyMetrics:
    """Publishes ``(severity, ts_ms)`` items as counts; returns nothing refused (metrics are best kept)."""

    def __init__(self, client, namespace: str) -> None:  # noqa: ANN001 - boto3 CloudWatch client
        self._client = client
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
        self._client.put_metric_data(Namespace=self._namespace, MetricData=data)
        self.published += len(items)
        return []
