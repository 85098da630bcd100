"""The whole pipeline on real components: moto on loopback, our Kinesis source, a Flink minicluster.

One seeded simulation goes through Kinesis; the job archives to S3, writes Timestream and
publishes alerts to SNS (read back through an SQS subscription); the job is stopped with a
drained savepoint. Asserted from what the emulator holds, not from the job's own counters.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from flink_job.core.records import parse_reading
from localdev.demo import DemoSettings, run_pipeline

pytestmark = pytest.mark.e2e

SETTINGS = DemoSettings(devices=40, rate=400.0, duration_s=40.0, seed=7, anomalies=10, malformed_share=0.02)


@pytest.fixture(scope="module")
def result(tmp_path_factory, uber_jar, local_aws):
    return run_pipeline(local_aws, SETTINGS, tmp_path_factory.mktemp("e2e"))


def test_every_valid_event_is_archived_exactly_once(result):
    detail = result["_detail"]
    now = int(time.time() * 1000)
    valid = [line for line in detail["sent"] if parse_reading(line, now).ok]
    assert Counter(detail["raw"]) == Counter(valid)
    assert result["events_archived"] + result["dead_letters"] == result["events_sent"]


def test_every_malformed_record_is_a_dead_letter_with_its_reason(result):
    detail = result["_detail"]
    sent = Counter(detail["sent"])
    dead = [json.loads(x) for x in detail["dead"]]
    assert result["dead_letters"] == result["malformed_sent"] > 0
    for letter in dead:
        assert letter["reason"], letter
        assert sent[letter["record"]] >= 1, letter
    reasons = " ".join(d["reason"] for d in dead)
    for expected in ("invalid JSON", "missing field", "not a number", "not finite", "in the future"):
        assert expected in reasons


def test_every_injected_threshold_breach_was_published_to_sns(result):
    detail = result["_detail"]
    published = detail["published"]
    breaches = [a for a in detail["labels"] if a["threshold_breach"]]
    assert breaches
    for a in breaches:
        assert any(
            m["device_id"] == a["device_id"]
            and m["sensor"] == a["sensor"]
            and "threshold" in m["detectors"]
            and a["start_ms"] <= m["ts"] <= a["end_ms"] + SETTINGS.batch_window_ms
            for m in published
        ), f"no SNS alert for {a}"
    # SNS carries exactly the onsets the job archived as alerts
    assert Counter(json.dumps(m, sort_keys=True) for m in published) == Counter(
        json.dumps(m, sort_keys=True) for m in detail["alerts"]
    )


def test_alert_counts_by_severity_reach_cloudwatch(result):
    assert result["alerts_in_cloudwatch_metrics"] == result["alerts_raised"] > 0


def test_timestream_holds_aggregates_and_anomalies(result):
    tables = result["_detail"]["timestream"]
    aggregates, anomalies = tables["readings"], tables["anomalies"]
    assert len(anomalies) == result["anomaly_rows"] > 0
    assert aggregates and all(r["MeasureValueType"] == "MULTI" for r in aggregates)
    names = {mv["Name"] for mv in aggregates[0]["MeasureValues"]}
    assert {"count", "mean", "min", "max", "stddev"} <= names
    # every reading sent shows up in exactly one aggregate window
    counted = sum(int(mv["Value"]) for r in aggregates for mv in r["MeasureValues"] if mv["Name"] == "count")
    now = int(time.time() * 1000)
    sensors_reported = sum(len(parse_reading(x, now).reading.values()) for x in result["_detail"]["raw"])
    assert counted == sensors_reported


def test_the_flink_web_ui_was_served_on_loopback_while_the_job_ran(result):
    assert result["flink_web_ui"].startswith("http://127.0.0.1:")
    assert result["flink_web_ui_served"] is True


def test_alert_latency_is_measured_from_put_to_delivery(result):
    # every published reading alert is matched to its Kinesis put; the latency cannot be negative
    # (SQS delivery follows the put) and cannot exceed the run
    assert result["alert_latency_alerts"] > 0
    assert 0 < result["alert_latency_p50_s"] <= result["alert_latency_p99_s"] < result["run_seconds"]


def test_the_demo_archive_answers_the_named_queries_and_its_report_renders(result, local_aws, tmp_path):
    """What `make demo` leaves: a copy of the archive that `iot-anomaly history` queries (the Athena
    named queries' SQL, run by DuckDB) with the run's own counts, and a report Chromium draws."""
    import sys
    from pathlib import Path

    from flink_job.history import engine
    from flink_job.history.report import write_report
    from localdev.demo import keep_archive

    archive = keep_archive(local_aws, tmp_path / "archive")
    con = engine.connect(archive)
    every = {"day_from": "0000-01-01", "day_to": "9999-12-31", "from_ms": 0, "to_ms": 2**62, "device": ""}
    per_day = engine.run(con, "anomalies-per-device-day", **every).rows
    assert sum(r[2] for r in per_day) == result["anomaly_rows"]
    assert sum(r[3] for r in per_day) == result["alerts_raised"] > 0
    assert sum(r[2] for r in engine.run(con, "alert-rate-per-hour", **every).rows) == result["alerts_raised"]
    reasons = engine.run(con, "dead-letters-by-reason", **every).rows
    assert sum(r[1] for r in reasons) == result["dead_letters"] > 0
    device = json.loads(result["_detail"]["raw"][0])["device_id"]
    readings = engine.run(con, "device-readings", **{**every, "device": device}).rows
    assert len(readings) == sum(1 for x in result["_detail"]["raw"] if json.loads(x)["device_id"] == device)
    assert [r[0] for r in readings] == sorted(r[0] for r in readings)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
    from test_run_report import rendered

    summary = {k: v for k, v in result.items() if not k.startswith("_")}
    total, drawn = rendered(write_report(archive, tmp_path / "report.html", "e2e", summary))
    assert total == drawn >= 3
