"""Anomaly events as they leave the job: archive JSON, SNS message, Timestream record fields."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone


def alert_id(device_id: str, sensor: str, ts_ms: int, severity: str) -> str:
    """Deterministic id of an alert: the same reading alerting at the same severity always gets the
    same id, so a replay after a restore can be recognised (the SNS sink skips ids it already sent)."""
    key = f"{device_id}|{sensor}|{ts_ms}|{severity}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def anomaly_event(
    device_id: str,
    sensor: str,
    ts_ms: int,
    value: float | None,
    score: float,
    severity: str,
    detectors: str,
    anomalous: bool,
    alert: bool,
    reason: str,
) -> dict:
    """The JSON object archived to S3 and published to SNS for one anomalous reading.

    ``alert_id`` is set on alerts only (onsets and escalations), None otherwise.
    """
    return {
        "alert_id": alert_id(device_id, sensor, ts_ms, severity) if alert else None,
        "device_id": device_id,
        "sensor": sensor,
        "ts": ts_ms,
        "time": datetime.fromtimestamp(ts_ms / 1000, timezone.utc).isoformat(timespec="milliseconds"),
        "value": value,
        "score": round(score, 4),
        "severity": severity,
        "detectors": detectors.split(",") if detectors else [],
        "anomalous": anomalous,
        "alert": alert,
        "reason": reason,
    }


def alert_message(event: dict) -> tuple[str, str, dict[str, str]]:
    """(subject, body, message attributes) for SNS; attributes let subscribers filter by severity."""
    subject = f"[{event['severity'].upper()}] {event['device_id']} {event['sensor']}: {event['reason']}"
    attrs = {"severity": event["severity"], "device_id": event["device_id"], "sensor": event["sensor"]}
    if event.get("alert_id"):
        attrs["alert_id"] = event["alert_id"]
    return subject[:100], json.dumps(event, separators=(",", ":")), attrs
