"""Sink writers against real servers with injected faults: the fault proxy (localdev.faultproxy) in
front of a moto server (SNS, Timestream, CloudWatch, S3) or of a loopback InfluxDB stand-in.

Asserted: transient faults (throttling, 5xx, resets, lost answers, delays) are retried and the
data arrives; permanent item errors come back as refused items; exhausted retries raise.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from connectors import aws, sns
from connectors.aws import RetriesExhausted, RetryPolicy
from connectors.cloudwatch import AnomalyMetrics
from connectors.influxdb import InfluxWriter
from connectors.sns import SnsPublisher
from connectors.timestream import TimestreamWriter, multi_measure
from localdev.faultproxy import KINDS, FaultProxy, fetch_counts, start_process, stop_process

REGION = "eu-central-1"
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
PATIENT = RetryPolicy(base_s=0.05, cap_s=0.5, deadline_s=30.0, max_attempts=200)
IMPATIENT = RetryPolicy(base_s=0.01, cap_s=0.05, deadline_s=2.0, max_attempts=5)
TRANSIENT = ("500", "503", "throttle", "reset", "drop", "delay")


def direct(endpoint: str, service: str):  # noqa: ANN201 - boto3 client, for set-up and read-back
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **CREDS)


def _topic_with_queue(endpoint: str, name: str, fifo: bool = False) -> tuple[str, str]:
    sns_c, sqs = direct(endpoint, "sns"), direct(endpoint, "sqs")
    attrs = {"FifoTopic": "true"} if fifo else {}
    topic = sns_c.create_topic(Name=name + (".fifo" if fifo else ""), Attributes=attrs)["TopicArn"]
    q_attrs = {"FifoQueue": "true"} if fifo else {}
    url = sqs.create_queue(QueueName=name + (".fifo" if fifo else ""), Attributes=q_attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns_c.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return topic, url


def _drain(endpoint: str, url: str) -> list[str]:
    sqs = direct(endpoint, "sqs")
    bodies: list[str] = []
    for _ in range(200):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not batch:
            break
        bodies.extend(m["Body"] for m in batch)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return bodies


def _alerts(n: int, tag: str) -> list[tuple[str, str, dict[str, str]]]:
    out = []
    for i in range(n):
        body = json.dumps({"device_id": f"dev-{i % 4}", "i": i, "tag": tag})
        out.append(
            (
                f"alert {i}",
                body,
                {"severity": "warning", "device_id": f"dev-{i % 4}", "alert_id": f"a-{tag}-{i}"},
            )
        )
    return out


# ---- the proxy itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("sns", lambda c: c.list_topics(), "Throttling"),
        ("timestream", lambda c: c.list_databases(), "ThrottlingException"),
        ("monitoring", lambda c: c.list_metrics(Namespace="x"), "Throttling"),
        ("s3", lambda c: c.list_buckets(), "SlowDown"),
    ],
)
def test_throttling_is_in_the_services_own_format(moto_endpoint, service, call, code):
    boto_name = {"timestream": "timestream-write", "monitoring": "cloudwatch"}.get(service, service)
    with FaultProxy(moto_endpoint, {service: 1.0}, kinds=["throttle"]) as proxy:
        client = aws.client(boto_name, REGION, proxy.endpoint)
        with pytest.raises(ClientError) as info:
            call(client)
        assert info.value.response["Error"]["Code"] == code
        assert aws.is_transient(info.value)
        assert proxy.counts()["faults"] == {service: {"throttle": 1}}
        assert fetch_counts(proxy.endpoint)["faults"] == {service: {"throttle": 1}}


def test_unlisted_services_pass_and_the_schedule_is_seeded(moto_endpoint):
    def fates(seed: int) -> list[str | None]:
        proxy = FaultProxy(moto_endpoint, {"sns": 0.5}, seed=seed)
        return [proxy.schedule.decide("sns") for _ in range(40)] + [proxy.schedule.decide("sqs")]

    assert fates(3) == fates(3)
    assert fates(3) != fates(4)
    assert fates(3)[-1] is None
    assert {k for k in fates(3) if k} <= set(KINDS)


def test_outage_fails_every_request_for_a_while(moto_endpoint):
    with FaultProxy(moto_endpoint, outages={"sns": (1, 1.0)}) as proxy:
        client = aws.client("sns", REGION, proxy.endpoint)
        client.list_topics()  # the first request passes
        with pytest.raises(ClientError) as info:
            client.list_topics()
        assert info.value.response["Error"]["Code"] == "ServiceUnavailable"
        time.sleep(1.1)
        client.list_topics()  # over
        proxy.start_outage("sns", 5.0)
        with pytest.raises(ClientError):
            client.list_topics()
        assert proxy.counts()["faults"] == {"sns": {"outage": 2}}
        assert proxy.counts()["requests"] == {"sns": 4}


def test_runs_as_a_process_stopped_by_pid(moto_endpoint, tmp_path):
    stats = tmp_path / "faults.json"
    args = ["--rate", "sns=1", "--kinds", "throttle", "--stats-file", str(stats)]
    endpoint, pid = start_process(moto_endpoint, args, log_path=tmp_path / "proxy.log")
    try:
        with pytest.raises(ClientError, match="Throttling"):
            aws.client("sns", REGION, endpoint).list_topics()
        assert direct(endpoint, "sqs").list_queues() is not None  # sqs is not faulted
        assert fetch_counts(endpoint) == {
            "requests": {"sns": 1, "sqs": 1},
            "faults": {"sns": {"throttle": 1}},
        }
        assert json.loads(stats.read_text())["faults"] == {"sns": {"throttle": 1}}
    finally:
        assert stop_process(pid)


def test_s3_multipart_upload_streams_through_faults(moto_endpoint):
    direct(moto_endpoint, "s3").create_bucket(
        Bucket="faulty", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    payload = hashlib.sha256(b"seed").digest() * (11 * 1024 * 1024 // 32)  # 11 MiB: 3 parts of 5 MiB
    kinds = {"s3": ["500", "503", "throttle", "reset"]}
    with FaultProxy(moto_endpoint, {"s3": 0.3}, kinds=kinds, seed=2) as proxy:
        s3 = boto3.client(
            "s3",
            endpoint_url=proxy.endpoint,
            region_name=REGION,
            config=Config(retries={"mode": "standard", "max_attempts": 15}, s3={"addressing_style": "path"}),
            **CREDS,
        )
        cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
        s3.upload_fileobj(io.BytesIO(payload), "faulty", "big.bin", Config=cfg)
        got = s3.get_object(Bucket="faulty", Key="big.bin")["Body"].read()
        faults = proxy.counts()["faults"].get("s3", {})
    assert got == payload
    assert sum(faults.values()) >= 1


class _Echo(BaseHTTPRequestHandler):
    """Answers with the SHA-256 of the (de-chunked) body, in a chunked response."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = b""
        if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        digest = hashlib.sha256(body).hexdigest().encode()
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (digest[:10], digest[10:]):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")


def test_chunked_bodies_pass_both_ways():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with FaultProxy(f"http://127.0.0.1:{server.server_port}") as proxy:
            pieces = [bytes([i]) * (70_000 + i) for i in range(5)]
            conn = http.client.HTTPConnection("127.0.0.1", int(proxy.endpoint.rsplit(":", 1)[1]), timeout=10)
            for _ in range(2):  # twice on one kept-alive connection
                conn.request("POST", "/echo", body=iter(pieces), encode_chunked=True)
                resp = conn.getresponse()
                assert resp.status == 200
                assert resp.read().decode() == hashlib.sha256(b"".join(pieces)).hexdigest()
            conn.close()
    finally:
        server.shutdown()
        server.server_close()


# ---- SNS -------------------------------------------------------------------------------------


def test_sns_retries_transient_faults_and_delivers_every_alert(moto_endpoint):
    topic, url = _topic_with_queue(moto_endpoint, "alerts-faulty")
    messages = _alerts(120, "t1")
    with FaultProxy(moto_endpoint, {"sns": 0.4}, kinds=TRANSIENT, seed=11, delay_s=0.3) as proxy:
        refused = SnsPublisher(aws.client("sns", REGION, proxy.endpoint), topic, PATIENT).publish(messages)
        faults = proxy.counts()["faults"]["sns"]
    assert refused == []
    bodies = _drain(moto_endpoint, url)
    assert set(bodies) == {m[1] for m in messages}  # every alert; repeats only after a lost answer
    assert len(bodies) - len(messages) <= faults.get("drop", 0) * sns.MAX_BATCH
    assert sum(faults.values()) >= 3, faults


def test_sns_refuses_what_the_service_refuses(moto_endpoint, monkeypatch):
    topic, url = _topic_with_queue(moto_endpoint, "alerts-refusing")
    ok = _alerts(3, "ok")
    too_big = ("huge", "x" * (300 * 1024), {"severity": "warning", "device_id": "dev-0"})
    publisher = SnsPublisher(aws.client("sns", REGION, moto_endpoint), topic, PATIENT)
    refused = publisher.publish([ok[0], too_big, ok[1]])
    assert [(m[0], reason) for m, reason in refused] == [("huge", "message larger than 256 KiB")]
    # Let it through the client-side check: moto then fails the entry with SenderFault=true.
    monkeypatch.setattr(sns, "MAX_MESSAGE_BYTES", 10**6)
    monkeypatch.setattr(sns, "MAX_BATCH_BYTES", 10**6)
    refused = publisher.publish([too_big, ok[2]])
    assert len(refused) == 1 and refused[0][0] is too_big and "SNS refused" in refused[0][1]
    assert sorted(_drain(moto_endpoint, url)) == sorted(m[1] for m in ok)


def test_sns_fifo_topic_gets_group_and_deduplication_ids(moto_endpoint):
    topic, url = _topic_with_queue(moto_endpoint, "alerts-ordered", fifo=True)
    messages = _alerts(12, "fifo")
    refused = SnsPublisher(aws.client("sns", REGION, moto_endpoint), topic, PATIENT).publish(messages)
    assert refused == []  # moto refuses FIFO entries without MessageGroupId / MessageDeduplicationId
    sqs = direct(moto_endpoint, "sqs")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert {m["Attributes"]["MessageGroupId"] for m in got} <= {f"dev-{i}" for i in range(4)}


def test_sns_raises_when_retries_run_out(moto_endpoint):
    topic, _url = _topic_with_queue(moto_endpoint, "alerts-down")
    with FaultProxy(moto_endpoint, {"sns": 1.0}, kinds=["503", "throttle", "reset"]) as proxy:
        publisher = SnsPublisher(aws.client("sns", REGION, proxy.endpoint), topic, IMPATIENT)
        with pytest.raises(RetriesExhausted, match="SNS PublishBatch"):
            publisher.publish(_alerts(3, "down"))
        assert sum(proxy.counts()["faults"]["sns"].values()) == IMPATIENT.max_attempts


# ---- Timestream ------------------------------------------------------------------------------


def _timestream(endpoint: str, table: str) -> None:
    ts = direct(endpoint, "timestream-write")
    with contextlib.suppress(ClientError):  # created by an earlier test of this module
        ts.create_database(DatabaseName="faults")
    retention = {"MemoryStoreRetentionPeriodInHours": 24, "MagneticStoreRetentionPeriodInDays": 1}
    ts.create_table(DatabaseName="faults", TableName=table, RetentionProperties=retention)


def _stored(endpoint: str, table: str) -> list[dict]:
    import urllib.request

    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json?service=timestreamwrite", timeout=30) as r:
        state = json.loads(r.read())
    tables = state.get("timestreamwrite", {}).get("TimestreamTable", [])
    return next(t.get("records", []) for t in tables if t["name"] == table and t["db_name"] == "faults")


def _records(n: int, now_ms: int) -> list[dict]:
    return [
        multi_measure(
            {"device_id": f"d{i % 5}", "sensor": "temp"}, "reading", now_ms - i, {"value": float(i)}
        )
        for i in range(n)
    ]


def test_timestream_retries_transient_faults_and_stores_every_record(moto_endpoint):
    _timestream(moto_endpoint, "retried")
    now = int(time.time() * 1000)
    records = _records(450, now)
    stale = multi_measure(
        {"device_id": "d0", "sensor": "temp"}, "reading", now - 48 * 3_600_000, {"value": 1.0}
    )
    with FaultProxy(moto_endpoint, {"timestream": 0.5}, kinds=TRANSIENT, seed=5, delay_s=0.3) as proxy:
        client = aws.client("timestream-write", REGION, proxy.endpoint)
        refused = TimestreamWriter(client, "faults", "retried", 24, PATIENT).write([*records, stale], now)
        faults = proxy.counts()["faults"]["timestream"]
    assert [(r["Time"], reason.split(" ")[0]) for r, reason in refused] == [(stale["Time"], "time")]
    stored = _stored(moto_endpoint, "retried")
    key = lambda r: (r["Time"], json.dumps(r["Dimensions"], sort_keys=True))  # noqa: E731
    assert {key(r) for r in stored} == {key(r) for r in records}  # repeats only after a lost answer
    assert sum(faults.values()) >= 3, faults


def test_timestream_raises_when_retries_run_out(moto_endpoint):
    _timestream(moto_endpoint, "down")
    with FaultProxy(moto_endpoint, {"timestream": 1.0}, kinds=["500", "throttle"]) as proxy:
        writer = TimestreamWriter(
            aws.client("timestream-write", REGION, proxy.endpoint), "faults", "down", 24, IMPATIENT
        )
        with pytest.raises(RetriesExhausted, match="Timestream WriteRecords"):
            writer.write(_records(5, int(time.time() * 1000)))
    assert _stored(moto_endpoint, "down") == []


def test_timestream_configuration_errors_raise_at_once(moto_endpoint):
    writer = TimestreamWriter(
        aws.client("timestream-write", REGION, moto_endpoint), "faults", "no-such-table", 24, PATIENT
    )
    started = time.monotonic()
    with pytest.raises(ClientError):
        writer.write(_records(2, int(time.time() * 1000)))
    assert time.monotonic() - started < PATIENT.deadline_s  # not retried for the whole budget


# ---- CloudWatch ------------------------------------------------------------------------------


def _metric_sum(endpoint: str, namespace: str) -> int:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    stats = direct(endpoint, "cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName="AnomaliesDetected",
        Dimensions=[{"Name": "Severity", "Value": "warning"}],
        StartTime=now - timedelta(days=1),
        EndTime=now + timedelta(hours=1),
        Period=86400,
        Statistics=["Sum"],
    )
    return int(sum(p["Sum"] for p in stats["Datapoints"]))


def test_cloudwatch_counts_survive_transient_faults(moto_endpoint):
    now = int(time.time() * 1000)
    kinds = ["500", "503", "throttle", "reset", "delay"]  # no lost answers: the sum must be exact
    with FaultProxy(moto_endpoint, {"monitoring": 0.5}, kinds=kinds, seed=9, delay_s=0.3) as proxy:
        metrics = AnomalyMetrics(aws.client("cloudwatch", REGION, proxy.endpoint), "FaultTest", PATIENT)
        for i in range(12):
            assert metrics.publish([("warning", now - i)] * 3) == []
        faults = proxy.counts()["faults"]["monitoring"]
    assert _metric_sum(moto_endpoint, "FaultTest") == 36
    assert sum(faults.values()) >= 3, faults


def test_cloudwatch_raises_when_retries_run_out(moto_endpoint):
    with FaultProxy(moto_endpoint, {"monitoring": 1.0}, kinds=["503", "reset"]) as proxy:
        metrics = AnomalyMetrics(aws.client("cloudwatch", REGION, proxy.endpoint), "FaultDown", IMPATIENT)
        with pytest.raises(RetriesExhausted, match="CloudWatch"):
            metrics.publish([("warning", int(time.time() * 1000))])


# ---- InfluxDB --------------------------------------------------------------------------------


class _Influx(BaseHTTPRequestHandler):
    """/api/v2/write with a token; lines containing 'bad' make the whole write a 400, as InfluxDB does."""

    protocol_version = "HTTP/1.1"
    points: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        if self.headers.get("Authorization") != "Token t0ken":
            status = 401
        elif "bad" in body:
            status = 400
        else:
            type(self).points.extend(body.splitlines())
            status = 204
        self.send_response(status)
        payload = b'{"code":"invalid","message":"unable to parse"}' if status == 400 else b""
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def influx():
    _Influx.points = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Influx)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_influx_retries_transient_faults_and_refuses_bad_batches(influx):
    with FaultProxy(influx, {"influx": 0.5}, kinds=TRANSIENT, seed=4, delay_s=0.3) as proxy:
        writer = InfluxWriter(proxy.endpoint, "org", "bucket", {"token": "t0ken"}, PATIENT)
        for i in range(10):
            assert writer.write([f"m,k=v{i} f=1i {1000 + i}"]) == []
        refused = writer.write(["m,k=bad f=1i 1"])
        faults = proxy.counts()["faults"]["influx"]
    assert refused and refused[0][1].startswith("refused by InfluxDB (HTTP 400)")
    assert set(_Influx.points) == {f"m,k=v{i} f=1i {1000 + i}" for i in range(10)}
    assert sum(faults.values()) >= 3, faults


def test_influx_raises_when_retries_run_out(influx):
    with FaultProxy(influx, {"influx": 1.0}, kinds=["500", "throttle", "reset"]) as proxy:
        writer = InfluxWriter(proxy.endpoint, "org", "bucket", {"token": "t0ken"}, IMPATIENT)
        with pytest.raises(RetriesExhausted, match="InfluxDB"):
            writer.write(["m,k=v f=1i 1"])
    assert _Influx.points == []


def test_influx_bad_credentials_raise_instead_of_dropping(influx):
    writer = InfluxWriter(influx, "org", "bucket", {"token": "wrong"}, PATIENT)
    with pytest.raises(RuntimeError, match="credentials"):
        writer.write(["m,k=v f=1i 1"])
