"""End to end on one machine: emulator, simulator, the job on a local minicluster, a summary.

The job reads Kinesis from TRIM_HORIZON while the simulator writes at a target rate. Once every
record sent is accounted for in the archive (valid lines + dead letters, committed on checkpoint),
the job is stopped with a drained savepoint, so windows, timers and sink buffers flush and nothing
read is lost. The summary is read back from the emulator: S3 objects, SQS (the SNS subscription)
and moto's Timestream backend.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flink_job.core import schema
from localdev import emulator
from localdev.simulator import OUTLIER_SIGMAS, Simulation, SimulationConfig, generate, send_to_kinesis

REPO = Path(__file__).resolve().parents[1]
JAR = REPO / "build" / "libs" / "pyflink-dependencies.jar"
PLUGINS = REPO / "build" / "flink-plugins"


def log(msg: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class DemoSettings:
    devices: int = 100
    # events/s the simulator aims at; moto on the same two cores takes ~1.2k/s with the job running
    rate: float = 1000.0
    duration_s: float = 60.0
    seed: int = 42
    malformed_share: float = 0.01
    anomalies: int = 15
    batch_window_ms: int = 1000
    silence_timeout_ms: int = 15_000
    checkpoint_interval_ms: int = 5_000
    catch_up_timeout_s: float = 180.0
    # >0: cancel the job this many seconds into the run and resume it from its newest checkpoint
    # (what `iot-anomaly run-job --restore latest` does after a crash), while the simulator goes on
    restore_after_s: float = 0.0

    def simulation(self, start_ms: int) -> SimulationConfig:
        interval_ms = max(1, round(self.devices * 1000 / self.rate))
        return SimulationConfig(
            devices=self.devices,
            interval_ms=interval_ms,
            duration_s=self.duration_s,
            start_ms=start_ms,
            seed=self.seed,
            malformed_share=self.malformed_share,
            anomalies=self.anomalies,
            silent_ms=self.silence_timeout_ms * 2,
        )


def local_properties(aws: emulator.LocalAws, s: DemoSettings, work: Path) -> list[dict]:
    """The runtime properties of a local run, in MSF's JSON shape."""
    groups = {
        "source": {
            "kind": "kinesis",
            "stream.arn": aws.stream_arn,
            "aws.region": aws.region,
            "source.init.position": "TRIM_HORIZON",
            "shard_discovery_interval_ms": "2000",
        },
        "sinks": aws.sinks_group(**{"cloudwatch.namespace": "IotAnomaly"}),
        "pipeline": {"batch_window_ms": str(s.batch_window_ms), "aggregate_window_s": "10"},
        "detection": {"silence_timeout_ms": str(s.silence_timeout_ms)},
        "local": {
            "aws_endpoint": aws.endpoint,
            "jars": JAR.as_uri(),
            "plugins_dir": str(PLUGINS),
            "checkpoint_interval_ms": str(s.checkpoint_interval_ms),
            "checkpoint_dir": (work / "checkpoints").resolve().as_uri(),
        },
    }
    return schema.document(groups)


def archive_lines(aws: emulator.LocalAws, prefix: str) -> list[str]:
    """Every line of the committed gzip files under ``prefix`` of the archive bucket."""
    s3 = aws.client("s3")
    lines: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=aws.archive_bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            if not obj["Key"].endswith(".jsonl.gz"):
                continue
            body = s3.get_object(Bucket=aws.archive_bucket, Key=obj["Key"])["Body"].read()
            lines.extend(gzip.decompress(body).decode("utf-8").splitlines())
    return lines


def drain_alert_queue(aws: emulator.LocalAws, sent_ms: list[int] | None = None) -> list[dict]:
    """Every SNS alert delivered to the SQS read-back queue (raw message delivery).

    ``sent_ms``, if given, gets each message's SQS SentTimestamp (epoch ms: when SNS delivered it),
    in the order of the returned messages.
    """
    sqs = aws.client("sqs")
    url = aws.queue_url()
    messages: list[dict] = []
    while True:
        resp = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["SentTimestamp"]
        )
        batch = resp.get("Messages", [])
        if not batch:
            return messages
        messages.extend(json.loads(m["Body"]) for m in batch)
        if sent_ms is not None:
            sent_ms.extend(int(m["Attributes"]["SentTimestamp"]) for m in batch)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )


def timestream_records(aws: emulator.LocalAws) -> dict[str, list[dict]]:
    """Records per table, from moto's backend (its Query API returns no rows)."""
    state = emulator.backend_state(aws, "timestreamwrite").get("timestreamwrite", {})
    return {
        t["name"]: t.get("records", [])
        for t in state.get("TimestreamTable", [])
        if t.get("db_name") == aws.timestream_database
    }


def anomaly_metrics(aws: emulator.LocalAws, namespace: str = "IotAnomaly") -> dict[str, int]:
    """Alert counts by severity that the job published to CloudWatch (the dashboard's source)."""
    cw = aws.client("cloudwatch")
    now = datetime.now(UTC)
    totals = {}
    for severity in ("warning", "critical"):
        stats = cw.get_metric_statistics(
            Namespace=namespace,
            MetricName="AnomaliesDetected",
            Dimensions=[{"Name": "Severity", "Value": severity}],
            StartTime=now - timedelta(days=1),
            EndTime=now + timedelta(hours=1),
            Period=86400,
            Statistics=["Sum"],
        )
        totals[severity] = int(sum(p["Sum"] for p in stats["Datapoints"]))
    return totals


DEVICE_SENSOR = "device"  # the sensor name of device-level rows (multivariate model, silence)
_TOP = re.compile(r"top:\s*([^;]*)")


def web_ui_url() -> str | None:
    """The local minicluster's web UI / REST URL (127.0.0.1), once the job's environment exists."""
    from flink_job.pipeline.environment import current_local_run

    run = current_local_run()
    return run.rest_url if run else None


def serves_web_ui(url: str, timeout_s: float = 30.0) -> bool:
    """True once ``url`` answers with Flink's dashboard page (it comes up with the minicluster)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as resp:
                return "<html" in resp.read(4096).decode("utf-8", "replace").lower()
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    return False


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in (0, 100]); None for no values."""
    if not values:
        return None
    ranked = sorted(values)
    return ranked[max(0, math.ceil(q / 100 * len(ranked)) - 1)]


def alert_latencies(
    published: list[dict], sent_ms: list[int], put_times: dict[tuple[str, int], int]
) -> dict[str, list[float]]:
    """Seconds from the Kinesis put of the alerting reading to the SQS delivery of its SNS alert,
    split into static threshold alerts and statistical ones.  Silence alerts have no reading and
    are left out."""
    out: dict[str, list[float]] = {"threshold": [], "statistical": []}
    for msg, delivered in zip(published, sent_ms, strict=True):
        put = put_times.get((msg.get("device_id"), msg.get("ts")))
        if put is None or "silence" in msg.get("detectors", ()):
            continue
        kind = "threshold" if "threshold" in msg.get("detectors", ()) else "statistical"
        out[kind].append((delivered - put) / 1000)
    return out


def latency_summary(lat: dict[str, list[float]]) -> dict[str, float | int | None]:
    """p50/p99 over every alert and per kind, in seconds (None where there was no alert)."""
    every = lat["threshold"] + lat["statistical"]
    out: dict[str, float | int | None] = {"alert_latency_alerts": len(every)}
    for name, values in (("", every), ("threshold_", lat["threshold"]), ("statistical_", lat["statistical"])):
        for q in (50, 99):
            v = percentile(values, q)
            out[f"alert_latency_{name}p{q}_s"] = None if v is None else round(v, 2)
    return out


def top_sensors(reason: str) -> list[str]:
    """The sensors a multivariate reason names as top contributors ("...; top: pressure 71%, ...")."""
    m = _TOP.search(reason or "")
    if not m:
        return []
    return [part.split()[0] for part in m.group(1).split(",") if part.strip() and part.strip() != "-"]


def _in_window(a: dict, ev: dict, slack_ms: int) -> bool:
    return ev["device_id"] == a["device_id"] and a["start_ms"] <= ev["ts"] <= a["end_ms"] + slack_ms


def _points_at(a: dict, ev: dict) -> bool:
    """Whether alert ``ev`` (already same device, in time) is about injected anomaly ``a``."""
    detectors = ev.get("detectors") or ()
    if a["kind"] == "silent":
        return "silence" in detectors
    if a["sensor"] is None or ev["sensor"] == a["sensor"]:
        return True
    if ev["sensor"] != DEVICE_SENSOR or "multivariate" not in detectors:
        return False
    # A decouple is a broken relation between sensors: only the joint model sees it, whoever it
    # blames. Any other kind counts when the model names the labelled sensor among its top ones.
    return a["kind"] == "decouple" or a["sensor"] in top_sensors(ev.get("reason", ""))


def alerted_anomalies(labels: list[dict], alerts: list[dict], slack_ms: int) -> list[dict]:
    """The injected anomalies that an alert (onset) points at: same device, in time, and on the
    labelled sensor, or a device-level multivariate alert (for a decouple, or naming the sensor)."""
    return [a for a in labels if any(_in_window(a, ev, slack_ms) and _points_at(a, ev) for ev in alerts)]


def unmatched_alerts(labels: list[dict], alerts: list[dict], slack_ms: int) -> list[dict]:
    """The alerts that no injected anomaly explains (same device, ts in [start_ms, end_ms + slack])."""
    return [ev for ev in alerts if not any(_in_window(a, ev, slack_ms) for a in labels)]


# An alert on a chance outlier starts on the outlier's reading, or on one of the next few (debounce).
OUTLIER_SLACK_MS = 1_000


def on_outlier(outliers: list[dict], ev: dict) -> bool:
    """Whether alert ``ev`` is about a chance outlier of the simulated noise (`Simulation.outliers`):
    matched as an injected anomaly is (`_points_at`: its sensor, or a multivariate alert naming it),
    at the outlier's reading or up to ``OUTLIER_SLACK_MS`` after it."""
    windows = ({**o, "kind": "outlier", "start_ms": o["ts"], "end_ms": o["ts"]} for o in outliers)
    return any(_in_window(w, ev, OUTLIER_SLACK_MS) and _points_at(w, ev) for w in windows)


def stop_drained(job_client, savepoint_dir: Path, deploy_timeout_s: float = 60.0) -> str:  # noqa: ANN001
    """Stop with a savepoint after draining: MAX_WATERMARK flushes windows, timers and buffers.

    A job just submitted or restored may still be deploying its tasks, which Flink refuses to
    checkpoint ("not being executed"): that answer is retried until ``deploy_timeout_s``.
    """
    from pyflink.java_gateway import get_gateway

    fmt = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
    deadline = time.monotonic() + deploy_timeout_s
    while True:
        # PyFlink 2.2.1's JobClient.stop_with_savepoint calls a two-argument Java method that is gone.
        future = job_client._j_job_client.stopWithSavepoint(True, savepoint_dir.resolve().as_uri(), fmt)
        try:
            return future.get()
        except Exception as exc:  # noqa: BLE001 - py4j wraps Flink's CheckpointException
            if "not being executed" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(1)


def cancel_and_restore(job_client, props: Path, aws: emulator.LocalAws):  # noqa: ANN001, ANN201 - JobClient
    """Cancel the job as a crash would end it (its checkpoints are retained), then start it again
    from the newest completed one, as ``iot-anomaly run-job --restore latest`` does."""
    from flink_job.main import JOB_NAME, build

    committed = lambda: archive_lines(aws, "raw/")  # noqa: E731 - the first checkpoint commits raw/
    wait_for(lambda: (bool(committed()), "waiting for a completed checkpoint"), 120, every_s=1.0)
    job_client.cancel().result()
    log(f"job cancelled mid-stream ({len(committed()):,} records committed); resuming from its checkpoint")
    env, _cfg, _graph = build(str(props), restore="latest")
    client = env.execute_async(JOB_NAME)
    log(f"job resumed: {client.get_job_id()}")
    return client


def wait_for(predicate: Callable[[], tuple[bool, str]], timeout_s: float, every_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = predicate()
        log(status)
        if done:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every_s)


def run_pipeline(aws: emulator.LocalAws, s: DemoSettings, work: Path) -> dict:
    """Run simulator and job against ``aws``; return the summary (see module docstring)."""
    from flink_job.main import JOB_NAME, build

    work.mkdir(parents=True, exist_ok=True)
    props = work / "application_properties.json"
    props.write_text(json.dumps(local_properties(aws, s, work), indent=2))
    os.environ["IOT_ANOMALY_LOCAL"] = "true"
    if not JAR.exists():
        raise RuntimeError(f"{JAR} missing: run 'make jars' (gradle uberJar localPlugins) first")

    t0 = time.monotonic()
    env, _cfg, _graph = build(str(props))
    job_client = env.execute_async(JOB_NAME)
    log(f"job submitted ({time.monotonic() - t0:.1f} s): {job_client.get_job_id()}")
    web_ui = web_ui_url()
    web_ui_served = web_ui is not None and serves_web_ui(web_ui)
    if web_ui:
        log(f"Flink web UI (job graph, backpressure, checkpoints) while the demo runs: {web_ui}")

    sim_cfg = s.simulation(start_ms=int(time.time() * 1000))
    sim = Simulation(sim_cfg)
    kinesis = aws.client("kinesis")
    progress_every = max(1, int(s.rate * 10))
    last = [0]

    def progress(sent: int) -> None:
        if sent - last[0] >= progress_every:
            last[0] = sent
            log(f"simulator: {sent:,} records sent")

    log(
        f"simulator: {sim_cfg.devices} devices x 3 sensors every {sim_cfg.interval_ms} ms "
        f"(~{sim_cfg.events_per_second:,.0f} events/s) for {s.duration_s:.0f} s"
    )
    send_started = time.monotonic()
    sent_box: list[int] = []
    sent_lines: list[str] = []
    put_times: dict[tuple[str, int], int] = {}

    def tee():  # noqa: ANN202 - keeps what was sent, for the checks
        for item in generate(sim_cfg, sim):
            sent_lines.append(item[2])
            yield item

    sender = threading.Thread(
        target=lambda: sent_box.append(
            send_to_kinesis(tee(), kinesis, aws.stream_name, s.rate, progress, put_times)
        ),
        daemon=True,
    )
    sender.start()
    if s.restore_after_s > 0:
        sender.join(s.restore_after_s)
        job_client = cancel_and_restore(job_client, props, aws)
    sender.join()
    send_s = time.monotonic() - send_started
    events_sent = sent_box[0]
    log(f"simulator: done, {events_sent:,} records in {send_s:.1f} s ({events_sent / send_s:,.0f}/s)")
    (work / "labels.json").write_text(json.dumps(sim.labels(), indent=2))
    (work / "noise_outliers.json").write_text(json.dumps([asdict(o) for o in sim.outliers], indent=2))

    def caught_up() -> tuple[bool, str]:
        n = len(archive_lines(aws, "raw/")) + len(archive_lines(aws, "dead-letters/"))
        return n >= events_sent, f"job: {n:,} of {events_sent:,} records committed to the archive"

    ok = wait_for(caught_up, s.catch_up_timeout_s)
    caught_up_s = time.monotonic() - send_started
    if not ok:
        log("job did not catch up in time; stopping it anyway")
    savepoint = stop_drained(job_client, work / "savepoints")
    log(f"job stopped with a drained savepoint at {savepoint}")

    raw = archive_lines(aws, "raw/")
    dead = archive_lines(aws, "dead-letters/")
    anomalies = [json.loads(x) for x in archive_lines(aws, "anomalies/")]
    rejects = archive_lines(aws, "sink-rejects/")
    alerts = [a for a in anomalies if a["alert"]]
    delivered_ms: list[int] = []
    published = drain_alert_queue(aws, delivered_ms)
    latency = alert_latencies(published, delivered_ms, put_times)
    run_s = time.monotonic() - send_started  # first put to the last alert read back
    ts_records = timestream_records(aws)
    metrics = anomaly_metrics(aws)
    labels = sim.labels()
    slack = s.batch_window_ms + s.silence_timeout_ms + 10_000
    hit = alerted_anomalies(labels, alerts, slack)
    outliers = [asdict(o) for o in sim.outliers]
    unmatched: list[dict] = []
    on_outliers: list[dict] = []  # not false alarms: points the simulator's noise put >= OUTLIER_SIGMAS out
    for ev in unmatched_alerts(labels, alerts, slack):
        (on_outliers if on_outlier(outliers, ev) else unmatched).append(ev)
    threshold = [a for a in labels if a["threshold_breach"]]
    return {
        "events_sent": events_sent,
        "events_archived": len(raw),
        "dead_letters": len(dead),
        "malformed_sent": sum(sim.malformed.values()),
        "anomalies_injected": len(labels),
        "anomalies_alerted": len(hit),
        "threshold_anomalies_injected": len(threshold),
        "threshold_anomalies_alerted": sum(1 for a in hit if a["threshold_breach"]),
        "alerts_raised": len(alerts),
        "alerts_unmatched": len(unmatched),
        "noise_outliers": len(outliers),
        "alerts_on_noise_outliers": len(on_outliers),
        "alerts_published": len(published),
        "events_archived_twice": len(raw) - len(set(raw)),
        "alerts_published_twice": len(published) - len({m.get("alert_id") for m in published}),
        "restored_mid_stream": s.restore_after_s > 0,
        "alerts_in_cloudwatch_metrics": sum(metrics.values()),
        "anomaly_rows": len(anomalies),
        "timestream_records": sum(len(v) for v in ts_records.values()),
        "timestream_records_by_table": {k: len(v) for k, v in ts_records.items()},
        "sink_rejects": len(rejects),
        "events_per_second": round(events_sent / caught_up_s, 1),
        "producer_events_per_second": round(events_sent / send_s, 1),
        **latency_summary(latency),
        "run_seconds": round(run_s, 1),
        "flink_web_ui": web_ui,
        "flink_web_ui_served": web_ui_served,
        "caught_up": ok,
        "savepoint": savepoint,
        "_detail": {
            "labels": labels,
            "alerted": hit,
            "alerts": alerts,
            "alerts_unmatched": unmatched,
            "alerts_on_noise_outliers": on_outliers,
            "noise_outliers": outliers,
            "published": published,
            "dead": dead,
            "raw": raw,
            "sent": sent_lines,
            "timestream": ts_records,
            "latencies": latency["threshold"] + latency["statistical"],
        },
    }


def keep_archive(aws: emulator.LocalAws, target: Path) -> Path:
    """Copy the run's archive out of the emulator (stopped after the run) for `iot-anomaly history`."""
    from flink_job.history.engine import fetch_s3_archive

    shutil.rmtree(target, ignore_errors=True)
    return fetch_s3_archive(aws.client("s3"), aws.archive_path, target)


def human_summary(r: dict) -> str:
    accounted = r["events_archived"] + r["dead_letters"]
    by_kind: dict[str, list[int]] = {}
    # the same matches as anomalies_alerted, so the per-kind figures add up to it
    alerted = r["_detail"]["alerted"]
    for a in r["_detail"]["labels"]:
        got = by_kind.setdefault(a["kind"], [0, 0])
        got[0] += 1
        got[1] += a in alerted
    kinds = ", ".join(f"{k} {v[1]}/{v[0]}" for k, v in sorted(by_kind.items()))
    return "\n".join(
        [
            "",
            "== IoT anomaly detection: local end-to-end run ==",
            f"sent {r['events_sent']:,} records ({r['malformed_sent']:,} malformed on purpose)",
            f"archived {r['events_archived']:,} valid records + {r['dead_letters']:,} dead letters"
            f" = {r['events_archived'] + r['dead_letters']:,}"
            f" ({'nothing lost' if accounted == r['events_sent'] else 'MISMATCH'})",
            f"injected anomalies alerted: {r['anomalies_alerted']}/{r['anomalies_injected']} ({kinds}); "
            f"threshold breaches {r['threshold_anomalies_alerted']}/{r['threshold_anomalies_injected']}",
            f"alerts raised {r['alerts_raised']} ({r['alerts_unmatched']} match no injected anomaly"
            + (f"; {r['alerts_on_noise_outliers']} on the {r['noise_outliers']} chance outliers of the "
               f"simulated noise, >= {OUTLIER_SIGMAS} sigma" if r.get("noise_outliers") else "")
            + f"), published to SNS and read back from SQS {r['alerts_published']}",
            f"duplicates: {r['events_archived_twice']} records archived twice, "
            f"{r['alerts_published_twice']} alerts published twice"
            + (" (job cancelled and resumed mid-stream)" if r["restored_mid_stream"] else ""),
            f"Timestream records {r['timestream_records']:,} {r['timestream_records_by_table']}",
            f"job throughput {r['events_per_second']:,.0f} events/s "
            f"(producer {r['producer_events_per_second']:,.0f}/s)",
            f"alert latency, Kinesis put to SQS delivery ({r['alert_latency_alerts']} alerts): "
            f"p50 {_s(r['alert_latency_p50_s'])}, p99 {_s(r['alert_latency_p99_s'])} "
            f"(threshold p99 {_s(r['alert_latency_threshold_p99_s'])}, "
            f"statistical p99 {_s(r['alert_latency_statistical_p99_s'])})",
            f"archive copied to {r.get('archive_copy', '-')}: query it with "
            "`iot-anomaly history anomalies-per-device-day` (or dead-letters-by-reason, ...)",
            f"run report (plots): {r.get('report', '-')}",
        ]
    )


def _s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.1f} s"


def main(settings: DemoSettings, state_dir: Path) -> int:
    started = time.monotonic()
    log("starting local AWS (moto) on 127.0.0.1")
    aws = emulator.up(state_dir / "local-aws")
    try:
        result = run_pipeline(aws, settings, state_dir / "demo")
        result["archive_copy"] = str(keep_archive(aws, state_dir / "demo" / "archive"))
    finally:
        emulator.down(state_dir / "local-aws")
        log("local AWS stopped")
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    detail = result.pop("_detail")
    for name in ("alerts", "alerts_unmatched", "alerts_on_noise_outliers"):
        (state_dir / "demo" / f"{name}.json").write_text(json.dumps(detail[name], indent=2))
    if result.get("archive_copy"):
        from flink_job.history.report import write_report

        title = "IoT anomaly detection: local demo run"
        report = write_report(Path(result["archive_copy"]), state_dir / "demo" / "report.html", title, result,
                              detail["latencies"])
        result["report"] = str(report)
    print(human_summary({**result, "_detail": detail}))
    print(json.dumps(result))
    ok = result["events_archived"] + result["dead_letters"] == result["events_sent"]
    ok = ok and result["events_archived_twice"] == 0 and result["alerts_published_twice"] == 0
    ok = ok and result["threshold_anomalies_alerted"] == result["threshold_anomalies_injected"]
    return 0 if ok else 1


__all__ = [
    "DemoSettings",
    "alerted_anomalies",
    "local_properties",
    "main",
    "on_outlier",
    "run_pipeline",
    "unmatched_alerts",
]
