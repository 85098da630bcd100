"""The job on a real standalone Flink cluster: separate JobManager / TaskManager processes on 127.0.0.1.

a. A TaskManager is SIGKILLed mid-stream (Kinesis on moto, producer running); a replacement is
   started; the job recovers on its restart strategy from the last checkpoint, and after a drained
   stop every valid reading sent is in raw/ exactly once.
b. Rescaling as MSF autoscaling does it: stop with a savepoint at p=2, restore at p=4, again at
   p=1, while the producer keeps writing. Nothing is lost or duplicated, and every series' detector
   state carries over: with ``timestream.mode = readings`` every reading's verdict is written, and
   a fresh SeriesMonitor scores exactly 0 for its first ``min_points`` readings (its windowed
   detectors are warming up), while a warm one scores > 0 (|z| > 0). So each series must show
   exactly ``min_points`` zero scores, all at its very start: a restore that lost the state would
   show a second run of zeros.

Run with ``make test-cluster`` (about 5-8 minutes on two cores).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from flink_job.core.records import parse_reading
from localdev.cluster import REPO, ClusterSettings, StandaloneCluster, job_properties, log
from localdev.demo import archive_lines, timestream_records
from localdev.simulator import Simulation, SimulationConfig, generate, send_to_kinesis

pytestmark = pytest.mark.cluster

# The checkout whose job runs (default: this one); another one must have its jar built.
CODE_ROOT = Path(os.environ.get("IOT_CLUSTER_CODE_ROOT", REPO)).resolve()
JAR = CODE_ROOT / "build" / "libs" / "pyflink-dependencies.jar"
PLUGINS = CODE_ROOT / "build" / "flink-plugins"
DEVICES = 40
# detector warm-up and commissioning, in readings per series (default 100; smaller keeps phases short)
MIN_POINTS = 20


class Producer:
    """The simulator writing to a Kinesis stream from a thread; keeps every line it sent."""

    def __init__(self, aws, stream: str, rate: float, duration_s: float, seed: int, malformed: float) -> None:  # noqa: ANN001
        self.cfg = SimulationConfig(
            devices=DEVICES,
            interval_ms=max(1, round(DEVICES * 1000 / rate)),
            duration_s=duration_s,
            start_ms=int(time.time() * 1000),
            seed=seed,
            malformed_share=malformed,
            anomalies=0,  # normal readings only: no threshold breach scores > 0 during warm-up
        )
        self.sim = Simulation(self.cfg)
        self.sent_lines: list[str] = []
        self.sent = 0
        self._client = aws.client("kinesis")
        self._stream = stream
        self._rate = rate
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        def tee():  # noqa: ANN202
            for item in generate(self.cfg, self.sim):
                self.sent_lines.append(item[2])
                yield item

        def progress(n: int) -> None:
            self.sent = n

        try:
            self.sent = send_to_kinesis(tee(), self._client, self._stream, self._rate, progress)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def start(self) -> Producer:
        self._thread.start()
        return self

    def join(self, timeout_s: float) -> int:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "producer did not finish"
        if self.error:
            raise self.error
        return self.sent


def groups_for(aws, stream_arn: str, prefix: str, work: Path, **extra: dict[str, str]) -> dict:  # noqa: ANN001
    groups = {
        "source": {
            "kind": "kinesis",
            "stream.arn": stream_arn,
            "aws.region": aws.region,
            "source.init.position": "TRIM_HORIZON",
            "shard_discovery_interval_ms": "2000",
        },
        "sinks": {
            "s3.archive_path": f"{aws.archive_path}{prefix}/",
            "timeseries.store": "none",
            "aws.region": aws.region,
        },
        "pipeline": {"batch_window_ms": "2000", "aggregate_window_s": "10"},
        "detection": {"min_points": str(MIN_POINTS), "baseline_readings": str(MIN_POINTS)},
        "local": {
            "aws_endpoint": aws.endpoint,
            "jars": JAR.as_uri(),
            "plugins_dir": str(PLUGINS),
            "checkpoint_interval_ms": "3000",
            "restart_attempts": "10",
            "checkpoint_dir": (work / "checkpoints").as_uri(),
        },
    }
    for name, values in extra.items():
        groups.setdefault(name, {}).update(values)
    return groups


def write_properties(
    cluster: StandaloneCluster, work: Path, name: str, groups: dict, parallelism: int
) -> Path:
    path = work / f"{name}.json"
    path.write_text(json.dumps(job_properties(groups, parallelism, cluster.rest_port), indent=2))
    return path


def wait_until(pred, timeout_s: float, what: str, every_s: float = 3.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = pred()
        if done:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}; last: {status}")
        time.sleep(every_s)


def archived(aws, prefix: str) -> tuple[list[str], list[str]]:  # noqa: ANN001
    return archive_lines(aws, f"{prefix}/raw/"), archive_lines(aws, f"{prefix}/dead-letters/")


def wait_accounted(aws, prefix: str, expected: int, timeout_s: float = 240) -> None:  # noqa: ANN001
    def pred() -> tuple[bool, str]:
        raw, dead = archived(aws, prefix)
        n = len(raw) + len(dead)
        log(f"{n:,} of {expected:,} records committed under {prefix}/")
        return n >= expected, f"{n} of {expected}"

    wait_until(pred, timeout_s, f"{expected} records in {prefix}/raw + dead-letters")


def completed_checkpoints(cluster: StandaloneCluster, job_id: str) -> int:
    return int(cluster.rest(f"/jobs/{job_id}/checkpoints")["counts"]["completed"])


def assert_exactly_once(aws, prefix: str, producer: Producer) -> tuple[int, int]:  # noqa: ANN001
    raw, dead = archived(aws, prefix)
    now = int(time.time() * 1000)
    valid = [line for line in producer.sent_lines if parse_reading(line, now).ok]
    lost = Counter(valid) - Counter(raw)
    duplicated = Counter(raw) - Counter(valid)
    assert not lost and not duplicated, (
        f"lost {sum(lost.values())}, duplicated {sum(duplicated.values())} of {len(valid)} valid readings"
    )
    assert len(dead) == sum(producer.sim.malformed.values())
    return len(raw), len(dead)


@pytest.fixture
def cluster(tmp_path, uber_jar, local_aws):
    settings = ClusterSettings(
        task_managers=2, slots=2, aws_endpoint=local_aws.endpoint, aws_region=local_aws.region
    )
    with StandaloneCluster(tmp_path / "cluster", settings) as c:
        yield c


def test_taskmanager_killed_mid_stream_job_recovers_without_loss_or_duplicates(cluster, local_aws, tmp_path):
    aws, prefix = local_aws, "tm-failure"
    props = write_properties(
        cluster, tmp_path, "p2", groups_for(aws, aws.stream_arn, prefix, tmp_path), parallelism=2
    )
    job = cluster.submit(props, parallelism=2, jar=JAR, code_root=CODE_ROOT)
    cluster.wait_all_running(job)
    placement = cluster.task_placement(job)
    log(f"task placement: { {k: sorted(v) for k, v in placement.items()} }")
    assert len(placement) == 2, f"expected subtasks on both TaskManagers, got {placement}"
    for row in cluster.processes():
        log(f"process {row}")

    producer = Producer(aws, aws.stream_name, rate=300.0, duration_s=50.0, seed=11, malformed=0.01).start()
    # Mid-stream, after at least one completed checkpoint: the restore then replays from it.
    wait_until(
        lambda: (producer.sent >= 4000 and completed_checkpoints(cluster, job) >= 1, producer.sent),
        120, "4,000 records sent and a completed checkpoint", every_s=1.0,
    )  # fmt: skip
    victim = sorted(placement)[0]
    before = completed_checkpoints(cluster, job)
    cluster.kill_taskmanager(victim)
    replacement, pid = cluster.start_taskmanager()
    log(f"replacement TaskManager {replacement} (pid {pid})")
    cluster.wait_for_taskmanagers(2)  # a survivor that PyFlink brings down is replaced too, as MSF would
    if cluster.replaced:
        log(f"TaskManagers that exited by themselves and were replaced: {cluster.replaced}")

    sent = producer.join(180)
    # Recovered: every task RUNNING again, and a checkpoint completed after the failure.
    cluster.wait_all_running(job, timeout_s=180)
    wait_until(
        lambda: (completed_checkpoints(cluster, job) > before, completed_checkpoints(cluster, job)),
        120, "a checkpoint after recovery",
    )  # fmt: skip
    # the REST metric can lag the job (the metric fetcher caches for 10 s): poll it briefly
    deadline = time.monotonic() + 30
    while (restarts := cluster.num_restarts(job)) < 1 and time.monotonic() < deadline:
        time.sleep(2)
    wait_accounted(aws, prefix, sent)
    history = cluster.exception_history(job)
    savepoint = cluster.stop_with_savepoint(job, drain=True)
    log(f"stopped with drained savepoint {savepoint}; restarts {restarts}, exceptions {len(history)}")

    assert restarts >= 1, "the job never restarted after its TaskManager was killed"
    assert history, "no failure in the job's exception history"
    assert any(victim in json.dumps(e) for e in history), (
        f"{victim} not named in {json.dumps(history)[:2000]}"
    )
    n_raw, n_dead = assert_exactly_once(aws, prefix, producer)
    log(f"TM failure: sent {sent}, raw {n_raw}, dead letters {n_dead}, restarts {restarts}")
    assert n_raw + n_dead == sent


def test_warmup_observable_tells_fresh_from_restored_detector_state():
    """The premise of the rescale check, without a cluster: a fresh monitor scores exactly 0 for its
    first MIN_POINTS readings, a monitor restored from its state never does, a re-created one does."""
    from flink_job.core.detection.config import DetectionConfig, ThresholdConfig
    from flink_job.core.detection.monitor import SeriesMonitor

    detection = DetectionConfig(min_points=MIN_POINTS, baseline_readings=MIN_POINTS)
    thresholds = ThresholdConfig()
    cfg = SimulationConfig(
        devices=1, interval_ms=200, duration_s=20, start_ms=0, seed=5, malformed_share=0, anomalies=0
    )
    readings = [json.loads(line) for _ts, _k, line in generate(cfg)]
    half = len(readings) // 2

    def zeros(monitor: SeriesMonitor, rows: list[dict]) -> list[int]:
        return [i for i, r in enumerate(rows) if monitor.update(r["ts"], r["temperature"]).score == 0.0]

    fresh = SeriesMonitor("machine-0000", "temperature", detection, thresholds)
    assert zeros(fresh, readings[:half]) == list(range(MIN_POINTS))
    restored = SeriesMonitor.from_state(
        fresh.to_state(), "machine-0000", "temperature", detection, thresholds
    )
    assert zeros(restored, readings[half:]) == []
    lost = SeriesMonitor("machine-0000", "temperature", detection, thresholds)
    assert zeros(lost, readings[half:]) == list(range(MIN_POINTS))


def _readings_by_series(aws) -> dict[tuple[str, str], dict[int, float]]:  # noqa: ANN001
    """Timestream readings (moto's backend) as {(device, sensor): {ts: score}}; a retried write is one."""
    out: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for rec in timestream_records(aws).get(aws.readings_table, []):
        dims = {d["Name"]: d["Value"] for d in rec["Dimensions"]}
        score = next(float(m["Value"]) for m in rec["MeasureValues"] if m["Name"] == "score")
        out[(dims["device_id"], dims["sensor"])][int(rec["Time"])] = score
    return out


def test_rescale_2_4_1_from_savepoints_keeps_every_reading_and_detector_state(cluster, local_aws, tmp_path):
    aws, prefix = local_aws, "rescale"
    stream = "iot-readings-rescale"
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream)
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    groups = groups_for(
        aws, arn, prefix, tmp_path,
        sinks={"timeseries.store": "timestream", "timestream.mode": "readings",
               "timestream.database": aws.timestream_database,
               "timestream.readings_table": aws.readings_table,
               "timestream.anomalies_table": aws.anomalies_table},
    )  # fmt: skip

    props = write_properties(cluster, tmp_path, "p2", groups, 2)
    job = cluster.submit(props, parallelism=2, jar=JAR, code_root=CODE_ROOT)
    cluster.wait_all_running(job)
    # long enough that both stops come while it still sends, even on a slow machine
    producer = Producer(aws, stream, rate=250.0, duration_s=150.0, seed=23, malformed=0.01).start()

    # (wall-clock ms of each stop, records sent by then): later readings are processed by the next run
    cuts: list[tuple[int, int]] = []
    committed = 0  # records in the archive when the previous run stopped
    for parallelism, after_sent in ((4, 5000), (1, 12000)):

        def this_run_worked(n: int = after_sent, j: str = job, before: int = committed) -> tuple[bool, str]:
            # enough sent, and this run has checkpointed and committed records of its own
            now = sum(map(len, archived(aws, prefix)))
            ok = producer.sent >= n and completed_checkpoints(cluster, j) >= 1 and now > before
            return ok, f"sent {producer.sent}, committed {now}"

        wait_until(this_run_worked, 150, f"{after_sent} records sent and committed by job {job}", every_s=1.0)
        savepoint = cluster.stop_with_savepoint(job, drain=False)
        cuts.append((int(time.time() * 1000), producer.sent))
        committed = sum(map(len, archived(aws, prefix)))
        log(f"stopped: {producer.sent} sent, {committed} committed; {savepoint} -> p={parallelism}")
        props = write_properties(cluster, tmp_path, f"p{parallelism}", groups, parallelism)
        job = cluster.submit(
            props, parallelism=parallelism, savepoint=savepoint, jar=JAR, code_root=CODE_ROOT
        )
        cluster.wait_all_running(job)
        restored = cluster.rest(f"/jobs/{job}/checkpoints")["latest"]["restored"]
        assert restored and restored["external_path"].rstrip("/") == savepoint.rstrip("/"), restored
        assert {v["parallelism"] for v in cluster.job_details(job)["vertices"]} == {parallelism}

    sent = producer.join(240)
    wait_accounted(aws, prefix, sent)
    cluster.stop_with_savepoint(job, drain=True)
    n_raw, n_dead = assert_exactly_once(aws, prefix, producer)
    log(f"rescale: sent {sent}, raw {n_raw}, dead letters {n_dead}")

    series = _readings_by_series(aws)
    assert len(series) == DEVICES * 3
    fresh_starts = {}
    for key, scores in series.items():
        ordered = [scores[t] for t in sorted(scores)]
        zeros = [i for i, s in enumerate(ordered) if s == 0.0]
        # warm-up once, at the very start, and never again (a lost state would warm up anew)
        if zeros != list(range(MIN_POINTS)):
            fresh_starts[key] = zeros[:40]
        for cut, sent_by_then in cuts:
            if sent_by_then >= sent:
                continue  # the producer had finished: the next run had nothing new to process
            after = [s for t, s in scores.items() if t > cut]
            assert after, f"{key}: no reading processed after the restore at {cut}"
    assert not fresh_starts, f"series that warmed up again (zero-score positions): {fresh_starts}"
