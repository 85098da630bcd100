"""Event time that survives catch-up, restores and a fleet-wide outage (moto Kinesis, minicluster).

1. Backlog then restore: ten minutes of readings wait in two shards before the job starts; the job
   is cancelled part-way (its retained checkpoint kept) and restored with ``local.restore=latest``.
   Watermarks per shard, in the source, must mark no on-time reading late (``late/`` stays empty),
   raise no silence alert while readings are still queued, and alert every injected spike.
2. Fleet-wide outage: every device stops at once, so event time stops too; the processing-time
   fallback must still raise one silence alert per device.
3. A reading sent again long after it was taken is behind the watermark: it is archived and listed
   under ``late/`` with its lag, never dropped silently.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from flink_job.core import schema
from localdev.demo import JAR, PLUGINS, alerted_anomalies, archive_lines, stop_drained
from localdev.simulator import Simulation, SimulationConfig, generate, send_to_kinesis

pytestmark = pytest.mark.e2e

SILENCE_MS = 8_000


def properties(aws, work: Path, stream_arn: str, source: dict | None = None, **local: str) -> Path:  # noqa: ANN001
    groups = {
        "source": {
            "stream.arn": stream_arn,
            "aws.region": aws.region,
            "source.init.position": "TRIM_HORIZON",
            "shard_discovery_interval_ms": "2000",
            **(source or {}),
        },
        "sinks": {"s3.archive_path": f"{aws.archive_path}{work.name}/", "timeseries.store": "none"},
        "pipeline": {"batch_window_ms": "1000", "aggregate_window_s": "10", "idle_timeout_ms": "5000"},
        "detection": {"silence_timeout_ms": str(SILENCE_MS)},
        "local": {
            "aws_endpoint": aws.endpoint,
            "jars": JAR.as_uri(),
            "plugins_dir": str(PLUGINS),
            "checkpoint_interval_ms": "2000",
            "checkpoint_dir": (work / "checkpoints").as_uri(),
            "restart_attempts": "0",
            **local,
        },
    }
    path = work / f"properties-{len(list(work.glob('properties-*')))}.json"
    path.write_text(json.dumps(schema.document(groups)))
    return path


def start(props: Path):  # noqa: ANN201 - pyflink JobClient
    from flink_job.main import JOB_NAME, build

    os.environ["IOT_ANOMALY_LOCAL"] = "true"
    env, _cfg, _graph = build(str(props))
    return env.execute_async(JOB_NAME)


def new_stream(aws, name: str) -> str:  # noqa: ANN001
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def lines(aws, work: Path, kind: str) -> list[str]:  # noqa: ANN001
    return archive_lines(aws, f"{work.name}/{kind}/")


def wait_until(predicate, timeout_s: float, what: str, every_s: float = 2.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every_s)


@pytest.fixture(scope="module")
def backlog_run(tmp_path_factory, uber_jar, local_aws):
    work = tmp_path_factory.mktemp("backlog")
    stream_arn = new_stream(local_aws, "backlog")
    now = int(time.time() * 1000)
    cfg = SimulationConfig(
        devices=50, interval_ms=500, duration_s=600, start_ms=now - 610_000, seed=5,
        malformed_share=0.0, anomalies=8, kinds=("spike",),
    )  # fmt: skip
    sim = Simulation(cfg)
    sent = send_to_kinesis(generate(cfg, sim), local_aws.client("kinesis"), "backlog", None)

    # read at most 2,000 readings/s (2 shards x 500 per call, 2 calls/s), so the first committed
    # checkpoint comes part-way through the backlog however fast the machine is; cancel there: the
    # retained checkpoint is the way back in, and the restored job reads the rest at full speed
    slow = {"max_records_per_get": "500", "min_get_records_interval_ms": "500"}
    client = start(properties(local_aws, work, stream_arn, source=slow))
    wait_until(lambda: lines(local_aws, work, "raw"), 240, "the first checkpoint", every_s=0.5)
    client.cancel().result()
    archived_before_restore = len(lines(local_aws, work, "raw"))
    restored = start(properties(local_aws, work, stream_arn, restore="latest"))
    wait_until(lambda: len(lines(local_aws, work, "raw")) >= sent, 240, "the whole backlog")
    stop_drained(restored, work / "savepoints")
    anomalies = [json.loads(x) for x in lines(local_aws, work, "anomalies")]
    return {
        "sent": sent,
        "archived_before_restore": archived_before_restore,
        "raw": lines(local_aws, work, "raw"),
        "late": lines(local_aws, work, "late"),
        "alerts": [a for a in anomalies if a["alert"]],
        "labels": sim.labels(),
    }


def test_a_backlog_and_a_restore_mark_no_reading_late(backlog_run):
    r = backlog_run
    print(f"backlog: {r['sent']} readings, {r['archived_before_restore']} archived before the restore")
    assert 0 < r["archived_before_restore"] < r["sent"]
    assert len(r["raw"]) == r["sent"] and len(set(r["raw"])) == r["sent"]  # nothing lost, nothing twice
    assert r["late"] == [], f"{len(r['late'])} on-time readings marked late, e.g. {r['late'][:2]}"


def test_every_spike_in_the_backlog_alerts_and_no_device_is_called_silent(backlog_run):
    r = backlog_run
    silences = [a for a in r["alerts"] if "silence" in a["detectors"]]
    assert silences == [], f"false silence alerts: {silences[:3]}"
    hit = alerted_anomalies(r["labels"], r["alerts"], slack_ms=2_000)
    assert len(hit) == len(r["labels"]) == 8, [a for a in r["labels"] if a not in hit]
    ids = [a["alert_id"] for a in r["alerts"]]
    assert len(ids) == len(set(ids)), "an alert archived twice"


def test_a_fleet_wide_outage_raises_one_silence_alert_per_device(tmp_path_factory, uber_jar, local_aws):
    work = tmp_path_factory.mktemp("outage")
    stream_arn = new_stream(local_aws, "outage")
    client = start(properties(local_aws, work, stream_arn))
    try:
        cfg = SimulationConfig(
            devices=10, interval_ms=500, duration_s=15, start_ms=int(time.time() * 1000), seed=9,
            malformed_share=0.0, anomalies=0,
        )  # fmt: skip
        send_to_kinesis(generate(cfg, Simulation(cfg)), local_aws.client("kinesis"), "outage", 20.0)
        outage_ms = int(time.time() * 1000)  # every device stops here

        def silences() -> list[dict]:
            rows = [json.loads(x) for x in lines(local_aws, work, "anomalies")]
            return [a for a in rows if a["alert"] and "silence" in a["detectors"]]

        wait_until(lambda: len({a["device_id"] for a in silences()}) >= cfg.devices, 120, "silence alerts")
        time.sleep(SILENCE_MS / 1000 + 3)  # a second round of timers must not alert again
        found = silences()
    finally:
        client.cancel().result()
    per_device = Counter(a["device_id"] for a in found)
    assert sorted(per_device) == sorted(f"machine-{i:04d}" for i in range(cfg.devices))
    assert set(per_device.values()) == {1}, per_device
    assert all(a["ts"] >= outage_ms for a in found)
    assert all("input stalled" in a["reason"] for a in found), found[0]["reason"]


def test_readings_behind_the_watermark_are_listed_late_and_still_archived(
    tmp_path_factory, uber_jar, local_aws
):
    work = tmp_path_factory.mktemp("late")
    stream_arn = new_stream(local_aws, "late")
    client = start(properties(local_aws, work, stream_arn))
    try:
        cfg = SimulationConfig(
            devices=5, interval_ms=250, duration_s=20, start_ms=int(time.time() * 1000), seed=11,
            malformed_share=0.0, anomalies=0,
        )  # fmt: skip
        sent = list(generate(cfg, Simulation(cfg)))  # keyed by device: a device's readings in one shard
        on_time = [line for _ts, _key, line in sent]
        kinesis = local_aws.client("kinesis")
        send_to_kinesis(sent, kinesis, "late", 20.0)
        wait_until(lambda: len(lines(local_aws, work, "raw")) >= len(on_time), 120, "the on-time readings")
        # three readings sent again a minute after they were taken: far behind the 5 s bound
        late = []
        for i in (10, 20, 30):
            obj = json.loads(on_time[i])
            obj["seq"] = -i  # distinct from the on-time copy
            late.append(json.dumps(obj, separators=(",", ":")))
        send_to_kinesis(((0, json.loads(x)["device_id"], x) for x in late), kinesis, "late", None)
        total = len(on_time) + len(late)
        wait_until(lambda: len(lines(local_aws, work, "raw")) >= total, 120, "the late readings")
        stop_drained(client, work / "savepoints")
    except BaseException:
        client.cancel()
        raise
    listed = [json.loads(x) for x in lines(local_aws, work, "late")]
    assert sorted(x["record"] for x in listed) == sorted(late)
    assert all(x["reason"].startswith("late: ") and "behind the watermark" in x["reason"] for x in listed)
    assert sorted(lines(local_aws, work, "raw")) == sorted(on_time + late)  # still archived as valid
