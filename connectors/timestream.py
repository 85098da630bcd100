"""Timestream for LiveAnalytics writer that enforces the service's limits on the client side.

The service takes at most 100 records per WriteRecords call and rejects records outside the
memory-store window (RejectedRecordsException, with a reason per record). The local emulator
accepts anything, so the limits are checked here before sending, and every record the service
or this check refuses comes back to the caller as ``(record, reason)`` for the dead letters.
Throttling, 5xx and connection errors are retried with backoff (connectors.aws); when the budget
is spent ``write`` raises, and the job restarts from its checkpoint. Rewriting a batch is safe:
Timestream accepts an identical record again as a no-op (same dimensions, time and measures).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

from connectors.aws import RetryPolicy, default_policy, is_transient

MAX_RECORDS_PER_WRITE = 100
MAX_FUTURE_MS = 15 * 60 * 1000  # Timestream rejects records more than 15 minutes ahead
MAX_DIMENSIONS = 128


def multi_measure(
    dimensions: dict[str, str], measure_name: str, time_ms: int, measures: dict[str, float | int | str | bool]
) -> dict:
    """One multi-measure record; None measures are left out (Timestream has no nulls)."""
    values = []
    for name, value in measures.items():
        if value is None:
            continue
        if isinstance(value, bool):
            values.append({"Name": name, "Value": str(value).lower(), "Type": "BOOLEAN"})
        elif isinstance(value, int):
            values.append({"Name": name, "Value": str(value), "Type": "BIGINT"})
        elif isinstance(value, float):
            values.append({"Name": name, "Value": repr(value), "Type": "DOUBLE"})
        else:
            values.append({"Name": name, "Value": str(value), "Type": "VARCHAR"})
    return {
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        "MeasureName": measure_name,
        "MeasureValueType": "MULTI",
        "MeasureValues": values,
        "Time": str(time_ms),
        "TimeUnit": "MILLISECONDS",
    }


def check_record(record: dict, now_ms: int, memory_retention_ms: int) -> str | None:
    """Why Timestream would reject ``record``, or None."""
    t = int(record["Time"])
    if t < now_ms - memory_retention_ms:
        return f"time {t} older than the memory store retention ({memory_retention_ms // 3_600_000} h)"
    if t > now_ms + MAX_FUTURE_MS:
        return f"time {t} more than 15 minutes in the future"
    if not record.get("MeasureValues"):
        return "no measure values"
    if len(record.get("Dimensions", ())) > MAX_DIMENSIONS:
        return f"more than {MAX_DIMENSIONS} dimensions"
    for mv in record["MeasureValues"]:
        if mv["Type"] == "DOUBLE" and not math.isfinite(float(mv["Value"])):
            return f"measure {mv['Name']} is not finite"
    return None


class TimestreamWriter:
    """Writes records to one table in batches of at most 100; returns what was rejected."""

    def __init__(  # noqa: ANN001 - boto3 client
        self,
        client,
        database: str,
        table: str,
        memory_retention_hours: int = 24,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._client = client
        self._policy = policy or default_policy()
        self._database = database
        self._table = table
        self._retention_ms = memory_retention_hours * 3_600_000
        self.written = 0

    def write(self, records: Sequence[dict], now_ms: int | None = None) -> list[tuple[dict, str]]:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        rejected: list[tuple[dict, str]] = []
        accepted: list[dict] = []
        for rec in records:
            reason = check_record(rec, now_ms, self._retention_ms)
            if reason:
                rejected.append((rec, reason))
            else:
                accepted.append(rec)
        for start in range(0, len(accepted), MAX_RECORDS_PER_WRITE):
            rejected.extend(self._write_batch(accepted[start : start + MAX_RECORDS_PER_WRITE]))
        return rejected

    def _write_batch(self, batch: list[dict]) -> Iterable[tuple[dict, str]]:
        exc_type = self._client.exceptions.RejectedRecordsException
        backoff = self._policy.start(f"Timestream WriteRecords to {self._database}.{self._table}")
        while True:
            try:
                self._client.write_records(DatabaseName=self._database, TableName=self._table, Records=batch)
            except exc_type as exc:
                # per-record verdicts: the others were written, these never will be
                refused = {
                    r["RecordIndex"]: r.get("Reason", "rejected")
                    for r in exc.response.get("RejectedRecords", [])
                }
                self.written += len(batch) - len(refused)
                return [(batch[i], f"rejected by Timestream: {reason}") for i, reason in refused.items()]
            except Exception as exc:
                if not is_transient(exc):
                    raise
                backoff.wait(exc)
                continue
            self.written += len(batch)
            return []
