"""Sink faults lose nothing: the real job, with every sink's traffic through the fault proxy.

The same seeded recording (file source, so each run ends by itself; 108,000 readings, enough for
checkpoints to complete while the job runs) goes through the job on the minicluster twice,
against one moto server: once straight to moto (the reference), once with ``local.aws_endpoint``
pointed at ``localdev.faultproxy``, which injects every fault kind (500, 503, throttling in the
service's format, connection resets, lost answers, 2 s delays) into SNS, Timestream, CloudWatch
and S3 (the archive, through Flink's S3A plugin; no lost answers there, see S3_KINDS) from the
faulty run's first completed checkpoint on. Then SNS, Timestream and CloudWatch also go down for longer than
the writers' retry budget (shrunk to 3 s / 4 attempts here by IOT_SINK_RETRY_DEADLINE_S and
IOT_SINK_RETRY_ATTEMPTS; 45 s by default), so the writers give up, the task fails and the job
restarts from that checkpoint, with the sinks' buffered items restored from keyed state. Timed
flushes are off (``flush_interval_ms`` 10 min), so partly filled batches are in that state.
Kinesis is not faulted (the file source does not use it).

Then, against the reference run:
- S3 raw archive, dead letters, late readings and anomalies archive: identical multisets (the file
  sink is exactly once: files commit on checkpoints, so a restart leaves no duplicates).
- SNS alerts read back from SQS: every reference alert is there. Duplicates are allowed: SNS
  delivery is at least once (a batch whose answer was lost, or published after the checkpoint the
  job restarted from, is published again; the topic is not FIFO).
- Timestream (moto's backend): every record of the reference is written (same values) or refused
  as in the reference. Duplicates are allowed (real Timestream ignores an identical record; moto
  keeps it). Window statistics are compared to a relative 1e-6: floating-point sums in another order.
- CloudWatch alert counts: at least the reference's (at least once).
- The proxy's counters: faults were injected into each of the four services and every fault kind
  happened; the job log shows a restart from a checkpoint.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from localdev.demo import PLUGINS, anomaly_metrics, archive_lines, drain_alert_queue, timestream_records
from localdev.faultproxy import FaultProxy

pytestmark = pytest.mark.integration

FAULTED = ("sns", "timestream", "monitoring", "s3")
ALL_KINDS = ("500", "503", "throttle", "reset", "drop", "delay")
# S3 through S3A: no lost answers ("drop"): a re-sent CompleteMultipartUpload after a lost answer
# is a NoSuchUpload error that S3A does not reconcile outside recovery.
S3_KINDS = ("500", "503", "throttle", "reset", "delay")
RATES = {"sns": 0.6, "timestream": 0.2, "monitoring": 0.6, "s3": 0.1}
# After the faulty run's first completed checkpoint: 10 s of 503s, longer than the budget below, so
# the writers give up and the job restarts from that checkpoint with their buffers restored.
OUTAGE_S = 10.0
OUTAGE_SERVICES = ("timestream", "monitoring", "sns")


def _tables(aws, prefix: str) -> tuple[str, str]:
    ts = aws.client("timestream-write")
    retention = {"MemoryStoreRetentionPeriodInHours": 24, "MagneticStoreRetentionPeriodInDays": 1}
    names = (f"{prefix}_readings", f"{prefix}_anomalies")
    for name in names:
        ts.create_table(DatabaseName=aws.timestream_database, TableName=name, RetentionProperties=retention)
    return names


def _groups(aws, uber_jar: Path, recording: Path, prefix: str, endpoint: str, work: Path) -> dict:
    readings, anomalies = _tables(aws, prefix)
    return {
        "source": {"kind": "file", "file_path": str(recording)},
        "sinks": {
            "s3.archive_path": f"s3://{aws.archive_bucket}/{prefix}/",
            "timeseries.store": "timestream",
            # no timed flushes: full batches mid-run, the rest at the end of the stream, so the
            # partly filled batches sit in checkpointed state when the outage begins
            "flush_interval_ms": "600000",
            "timestream.database": aws.timestream_database,
            "timestream.readings_table": readings,
            "timestream.anomalies_table": anomalies,
            "sns.alerts_topic_arn": aws.alerts_topic_arn,
            "cloudwatch.namespace": f"Faults{prefix.title()}",
            "aws.region": aws.region,
        },
        "local": {
            "aws_endpoint": endpoint,
            "jars": uber_jar.as_uri(),
            "plugins_dir": str(PLUGINS),
            "checkpoint_interval_ms": "1000",
            "checkpoint_dir": (work / "checkpoints").as_uri(),
            "restart_attempts": "25",
            "restart_delay_ms": "500",
        },
    }


def _without_receipt_time(line: str) -> str:
    """Dead letters and late readings carry the processing time they were seen at (``received_at``,
    and "is N s ahead of the clock" in a reason): not comparable between runs, so left out."""
    try:
        obj = json.loads(line)
    except ValueError:
        return line
    if isinstance(obj, dict):
        obj.pop("received_at", None)
        if isinstance(obj.get("reason"), str):
            obj["reason"] = re.sub(r"is \d+ s ahead of the clock", "is N s ahead of the clock", obj["reason"])
    return json.dumps(obj, sort_keys=True)


def _archive(aws, prefix: str) -> dict[str, Counter]:
    return {
        part: Counter(
            _without_receipt_time(line) if part in ("dead-letters", "late") else line
            for line in archive_lines(aws, f"{prefix}/{part}/")
        )
        for part in ("raw", "dead-letters", "sink-rejects", "anomalies", "late")
    }


def _slot(r: dict) -> str:
    """What a Timestream record is about: measure name, time and dimensions."""
    return json.dumps([r["MeasureName"], r["Time"], r["Dimensions"]], sort_keys=True)


def _values(r: dict) -> dict[str, object]:
    """Measure values, doubles as floats (compared with :func:`_same`)."""
    return {m["Name"]: float(m["Value"]) if m["Type"] == "DOUBLE" else m["Value"] for m in r["MeasureValues"]}


def _same(a: dict, b: dict) -> bool:
    """Equal, doubles to a relative 1e-6: window statistics are running sums whose order can
    differ between runs (a restore replays a window's readings into a partial one), so their last
    digits can; the stddev, near 0 for a flat series, is compared to an absolute 1e-6 x |mean|."""
    if a.keys() != b.keys():
        return False
    scale = abs(a["mean"]) if isinstance(a.get("mean"), float) and math.isfinite(a["mean"]) else 0.0
    return all(
        math.isclose(x, b[k], rel_tol=1e-6, abs_tol=max(1e-9, 1e-6 * scale if k == "stddev" else 0.0))
        if isinstance(x, float) else x == b[k]
        for k, x in a.items()
    )


def _timestream_view(stored: list[dict], rejects: Counter, sink: str) -> dict[str, list[dict]]:
    """slot -> values of every record written or refused (a refusal is a verdict, not a loss)."""
    view: dict[str, list[dict]] = {}
    for r in stored:
        view.setdefault(_slot(r), []).append(_values(r))
    for line in rejects:
        rej = json.loads(line)
        if rej["sink"] == sink:
            view.setdefault(_slot(rej["item"]), []).append({"refused": rej["reason"]})
    return view


def _restarts(log_dir: Path) -> tuple[int, int]:
    """(restarts, restores from a checkpoint) in the job's log."""
    text = "".join(p.read_text(errors="replace") for p in log_dir.glob("*.log"))
    return (
        len(re.findall(r"switched from state RUNNING to RESTARTING", text)),
        len(re.findall(r"Restoring job \S+ from Checkpoint", text)),
    )


def _outage_after_first_checkpoint(proxy: FaultProxy, checkpoints: Path, stop: threading.Event) -> None:
    """Faults start once a checkpoint has completed, with the outage: a restart must have one to
    restore from. (Faults from the first second failed the sinks before any checkpoint completed,
    once episodes held longer and the sinks carried more anomaly rows: the job then restarted from
    scratch only, and the outage never hit a restored job.)"""
    while not stop.wait(0.2):
        if any(checkpoints.glob("*/chk-*/_metadata")):
            proxy.resume()
            for svc in OUTAGE_SERVICES:
                proxy.start_outage(svc, OUTAGE_S)
            return


def test_no_data_lost_under_sink_faults(
    tmp_path, uber_jar, local_aws, record_simulation, run_job, monkeypatch
):
    aws = local_aws
    recording = tmp_path / "recording.jsonl"
    # 40 devices x 4,000 s = 160,000 readings: the first checkpoint's barrier waits behind the
    # in-flight backlog of the Python operators (~7 s), so the run must last well beyond it for the
    # faults and the outage to hit a job that has a checkpoint to restore, and enough alerts must come
    # after them for SNS to see several fault kinds (with 2,700 s and 12 anomalies, a faster detection
    # core published all but a couple before the faults began)
    record_simulation(recording, devices=40, duration_s=4000, seed=17, anomalies=18, malformed_share=0.002)
    drain_alert_queue(aws)

    ref_work, fault_work = tmp_path / "ref", tmp_path / "fault"
    for work in (ref_work, fault_work):
        (work / "log").mkdir(parents=True)
    monkeypatch.setenv("FLINK_LOG_DIR", str(ref_work / "log"))
    run_job(_groups(aws, uber_jar, recording, "ref", aws.endpoint, ref_work), ref_work, timeout_s=600)
    ref_alerts = drain_alert_queue(aws)
    ref_archive = _archive(aws, "ref")
    ref_metrics = anomaly_metrics(aws, "FaultsRef")

    # A small retry budget (the job's default is 45 s per batch): faults and the outage exhaust it.
    monkeypatch.setenv("IOT_SINK_RETRY_DEADLINE_S", "3")
    monkeypatch.setenv("IOT_SINK_RETRY_ATTEMPTS", "4")
    monkeypatch.setenv("FLINK_LOG_DIR", str(fault_work / "log"))
    kinds = {svc: ALL_KINDS for svc in FAULTED} | {"s3": S3_KINDS}
    started = time.monotonic()
    stop = threading.Event()
    with FaultProxy(aws.endpoint, RATES, kinds=kinds, seed=23) as proxy:
        proxy.pause()  # faults from the first completed checkpoint on (see _outage_after_first_checkpoint)
        watcher = threading.Thread(
            target=_outage_after_first_checkpoint, args=(proxy, fault_work / "checkpoints", stop), daemon=True
        )
        watcher.start()
        try:
            run_job(
                _groups(aws, uber_jar, recording, "fault", proxy.endpoint, fault_work),
                fault_work,
                timeout_s=900,
            )
        finally:
            stop.set()
            watcher.join(timeout=5)
        counts = proxy.counts()
    elapsed = time.monotonic() - started
    restarts, restores = _restarts(fault_work / "log")
    fault_alerts = drain_alert_queue(aws)
    fault_archive = _archive(aws, "fault")
    tables = timestream_records(aws)
    summary = {
        "raw_records": sum(ref_archive["raw"].values()),
        "dead_letters": sum(ref_archive["dead-letters"].values()),
        "anomalies": sum(ref_archive["anomalies"].values()),
        "alerts": [len(ref_alerts), len(fault_alerts)],
        "timestream": {t: len(v) for t, v in tables.items()},
        "metrics": [ref_metrics, anomaly_metrics(aws, "FaultsFault")],
        "restarts": restarts,
        "restores_from_checkpoint": restores,
        "faulty_run_s": round(elapsed),
        **counts,
    }
    print("sink-faults summary:", json.dumps(summary, sort_keys=True))

    assert ref_archive["raw"] and ref_archive["anomalies"] and ref_alerts, (
        "the reference run produced nothing"
    )
    for part, expected in ref_archive.items():
        if part == "sink-rejects":
            continue  # compared with the Timestream records below
        extra, lost = fault_archive[part] - expected, expected - fault_archive[part]
        assert not extra and not lost, (
            f"{part} archive differs from the reference: {sum(lost.values())} lost, "
            f"{sum(extra.values())} extra, e.g. {list(lost)[:2]} {list(extra)[:2]}"
        )

    def alert_keys(alerts: list[dict]) -> Counter:
        return Counter(json.dumps(a, sort_keys=True) for a in alerts)

    missing = alert_keys(ref_alerts) - alert_keys(fault_alerts)
    assert not missing, f"{sum(missing.values())} alerts lost, e.g. {next(iter(missing))}"

    for kind in ("readings", "anomalies"):
        sink = f"timestream-{kind}"
        ref = _timestream_view(tables[f"ref_{kind}"], ref_archive["sink-rejects"], sink)
        got = _timestream_view(tables[f"fault_{kind}"], fault_archive["sink-rejects"], sink)
        assert ref, f"no reference Timestream {kind}"
        lost = sorted(slot for slot in ref if slot not in got)
        assert not lost, f"{len(lost)} Timestream {kind} records lost, e.g. {lost[:2]}"
        differ = []
        for slot, values in ref.items():
            written = [v for v in values if "refused" not in v]
            got_written = [v for v in got[slot] if "refused" not in v]
            # written in both runs: the same values (a record refused in one run only is not compared)
            if written and got_written and not any(_same(v, w) for v in written for w in got_written):
                differ.append((slot, written, got_written))
        assert not differ, f"{len(differ)} Timestream {kind} records differ, e.g. {differ[0]}"
    fault_metrics = summary["metrics"][1]
    assert all(fault_metrics[s] >= n for s, n in ref_metrics.items()), summary["metrics"]

    for svc in FAULTED:
        injected = counts["faults"].get(svc, {})
        kinds_seen = set(injected) - {"outage"}
        assert len(kinds_seen) >= 2, f"too few fault kinds injected into {svc}: {counts}"
    everything = Counter()
    for per in counts["faults"].values():
        everything.update(per)
    assert set(ALL_KINDS) <= set(everything), f"some fault kinds never happened: {everything}"
    assert counts["faults"]["timestream"].get("outage", 0) > 0
    assert restarts >= 1, "the outage should have failed a writer and restarted the job"
    assert restores >= 1, "the job should have restarted from a checkpoint"
