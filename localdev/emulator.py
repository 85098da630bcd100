"""Local AWS on loopback: a moto server plus the project's resources, started and stopped by PID.

``up`` starts ``moto_server`` on 127.0.0.1, waits until it answers and creates the Kinesis stream,
the archive bucket, the Timestream database and tables, and the alerts SNS topic with an SQS
subscription (so alerts can be read back). ``down`` stops the server it started, by PID.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import boto3

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's default account
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class LocalAws:
    """Where the emulator listens and what it holds."""

    endpoint: str
    pid: int
    region: str = REGION
    stream_name: str = "iot-readings-local"
    shard_count: int = 2
    archive_bucket: str = "iot-archive-local"
    timestream_database: str = "iot_anomaly_local"
    readings_table: str = "readings"
    anomalies_table: str = "anomalies"
    alerts_topic_name: str = "iot-alerts-local"
    alerts_queue_name: str = "iot-alerts-readback-local"

    @property
    def stream_arn(self) -> str:
        return f"arn:aws:kinesis:{self.region}:{ACCOUNT}:stream/{self.stream_name}"

    @property
    def alerts_topic_arn(self) -> str:
        return f"arn:aws:sns:{self.region}:{ACCOUNT}:{self.alerts_topic_name}"

    @property
    def archive_path(self) -> str:
        return f"s3://{self.archive_bucket}/"

    def sinks_group(self, **overrides: str) -> dict[str, str]:
        """The ``sinks`` property group writing to everything the emulator holds (Timestream store)."""
        return {
            "s3.archive_path": self.archive_path,
            "timeseries.store": "timestream",
            "timestream.database": self.timestream_database,
            "timestream.readings_table": self.readings_table,
            "timestream.anomalies_table": self.anomalies_table,
            "sns.alerts_topic_arn": self.alerts_topic_arn,
            "aws.region": self.region,
            **overrides,
        }

    def client(self, service: str):  # noqa: ANN201 - boto3 clients are untyped
        """A boto3 client bound to the emulator."""
        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region, **CREDENTIALS)

    def queue_url(self) -> str:
        return self.client("sqs").get_queue_url(QueueName=self.alerts_queue_name)["QueueUrl"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for servers we start: moto, a job's web UI)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(endpoint: str, proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with code {proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"moto_server did not answer on {endpoint} within {timeout_s:.0f} s")


def start_server(port: int | None = None, log_path: Path | None = None) -> tuple[str, int]:
    """Start moto on 127.0.0.1 and return (endpoint, pid)."""
    port = port or free_port()
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "localdev.moto_runner", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(endpoint, proc)
    except Exception:
        stop_pid(proc.pid)
        raise
    return endpoint, proc.pid


def stop_pid(pid: int, timeout_s: float = 10.0) -> bool:
    """Stop the process group led by ``pid``; True if it was running."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            # reap it if it is our child, else it stays a zombie and looks alive
            os.waitpid(pid, os.WNOHANG)
        except (ProcessLookupError, ChildProcessError):
            return True
        time.sleep(0.1)
    os.killpg(pid, signal.SIGKILL)
    return True


def provision(aws: LocalAws) -> None:
    """Create every resource the job and the simulator use (idempotent on a fresh server)."""
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName=aws.stream_name, ShardCount=aws.shard_count)
    kinesis.get_waiter("stream_exists").wait(StreamName=aws.stream_name, WaiterConfig={"Delay": 0.2})

    aws.client("s3").create_bucket(
        Bucket=aws.archive_bucket, CreateBucketConfiguration={"LocationConstraint": aws.region}
    )

    ts = aws.client("timestream-write")
    ts.create_database(DatabaseName=aws.timestream_database)
    retention = {"MemoryStoreRetentionPeriodInHours": 24, "MagneticStoreRetentionPeriodInDays": 365}
    for table in (aws.readings_table, aws.anomalies_table):
        ts.create_table(DatabaseName=aws.timestream_database, TableName=table, RetentionProperties=retention)

    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic_arn = sns.create_topic(Name=aws.alerts_topic_name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=aws.alerts_queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )


def up(state_dir: Path, port: int | None = None) -> LocalAws:
    """Start the emulator, provision it and record its PID and endpoint under ``state_dir``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    state_file = state_dir / "local-aws.json"
    if state_file.exists():
        existing = LocalAws(**json.loads(state_file.read_text()))
        if _alive(existing.pid):
            raise RuntimeError(
                f"local AWS already running (pid {existing.pid}, {existing.endpoint}); "
                "stop it first with 'iot-anomaly local-aws down'"
            )
    endpoint, pid = start_server(port, log_path=state_dir / "moto.log")
    aws = LocalAws(endpoint=endpoint, pid=pid)
    try:
        provision(aws)
    except Exception:
        stop_pid(pid)
        raise
    state_file.write_text(json.dumps(asdict(aws), indent=2))
    return aws


def load(state_dir: Path) -> LocalAws:
    """The running emulator recorded under ``state_dir``."""
    state_file = state_dir / "local-aws.json"
    if not state_file.exists():
        raise RuntimeError(f"no local AWS recorded in {state_file}; start it with 'iot-anomaly local-aws up'")
    return LocalAws(**json.loads(state_file.read_text()))


def down(state_dir: Path) -> bool:
    """Stop the emulator recorded under ``state_dir``; False if none was running."""
    state_file = state_dir / "local-aws.json"
    if not state_file.exists():
        return False
    aws = LocalAws(**json.loads(state_file.read_text()))
    state_file.unlink()
    return stop_pid(aws.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def backend_state(aws: LocalAws, service: str) -> dict:
    """moto's backend for one service as JSON (how to read what Timestream holds: its Query is empty)."""
    with urllib.request.urlopen(f"{aws.endpoint}/moto-api/data.json?service={service}", timeout=30) as resp:
        return json.loads(resp.read())
