"""The InfluxDB token rotation, end to end: the infrastructure's rotation Lambda code against moto's
Secrets Manager (on loopback) and the InfluxDB stand-in (``influx_support``), and the job's own
InfluxDB writer carrying on across a rotation without a restart.

moto cannot run a Lambda without Docker, so the test plays Secrets Manager's part: it calls the
function's four steps in order with a fresh ClientRequestToken, as RotateSecret does.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from influx_support import BUCKET, ORG, InfluxStandIn

pytestmark = pytest.mark.integration
ROTATION = (
    Path(__file__).resolve().parents[2] / "infra" / "iot_anomaly_infra" / "lambdas" / "rotate_influxdb_token"
)
ADMIN, PASSWORD = "iotadmin", "admin-pass-1"


@pytest.fixture
def rotation(local_aws, monkeypatch):
    """(the Lambda module, Secrets Manager client, stand-in InfluxDB, token secret ARN)."""
    aws = local_aws
    with InfluxStandIn(ADMIN, PASSWORD) as influx:
        sm = aws.client("secretsmanager")
        suffix = uuid.uuid4().hex[:8]
        admin_arn = sm.create_secret(  # as Timestream for InfluxDB keeps it: the instance's auth parameters
            Name=f"influx-auth-{suffix}",
            SecretString=json.dumps(
                {"username": ADMIN, "password": PASSWORD, "organization": ORG, "bucket": BUCKET}
            ),
        )["ARN"]
        token_arn = sm.create_secret(  # as the stack creates it: names, no token yet
            Name=f"iot-anomaly/test/influxdb-token-{suffix}",
            SecretString=json.dumps({"organization": ORG, "bucket": BUCKET}),
        )["ARN"]
        for var, value in {
            "INFLUXDB_URL": influx.url,
            "ADMIN_SECRET_ARN": admin_arn,
            "SECRETS_MANAGER_ENDPOINT": aws.endpoint,
            "AWS_DEFAULT_REGION": aws.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            monkeypatch.setenv(var, value)
        spec = importlib.util.spec_from_file_location("rotate_influxdb_token", ROTATION / "index.py")
        fn = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fn)
        yield fn, sm, influx, token_arn


def _rotate(fn, sm, arn: str) -> str:
    token = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        fn.STEPS[step](sm, arn, token)
    return token


def _current(sm, arn: str) -> dict:
    return json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])


def _pending(sm, arn: str, token: str) -> dict:
    version = sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
    return json.loads(version["SecretString"])


def _write_status(url: str, token: str) -> int:
    req = urllib.request.Request(
        f"{url}/api/v2/write?org={ORG}&bucket={BUCKET}&precision=ms",
        data=b"probe v=1 1",
        method="POST",
        headers={"Authorization": f"Token {token}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_each_step_does_its_part_in_influxdb(rotation):
    fn, sm, influx, arn = rotation
    token = str(uuid.uuid4())
    fn.STEPS["createSecret"](sm, arn, token)
    fn.STEPS["createSecret"](sm, arn, token)  # a retried step creates nothing more
    pending = _pending(sm, arn, token)
    assert list(influx.authorizations) == [pending["authorization_id"]]
    assert influx.authorizations[pending["authorization_id"]]["status"] == "inactive"
    assert _write_status(influx.url, pending["token"]) == 401  # created, not yet set
    assert "token" not in _current(sm, arn)

    fn.STEPS["setSecret"](sm, arn, token)
    assert influx.authorizations[pending["authorization_id"]]["status"] == "active"
    fn.STEPS["testSecret"](sm, arn, token)
    fn.STEPS["finishSecret"](sm, arn, token)
    fn.STEPS["finishSecret"](sm, arn, token)  # idempotent
    assert _current(sm, arn)["token"] == pending["token"]
    assert _write_status(influx.url, pending["token"]) == 204
    # the token may write and read its bucket, nothing else
    assert {p["action"] for p in influx.authorizations[pending["authorization_id"]]["permissions"]} == {
        "read", "write"
    }

    # the next rotation revokes this one: one live authorization at a time
    _rotate(fn, sm, arn)
    assert _write_status(influx.url, pending["token"]) == 401
    assert len(influx.authorizations) == 1 and _write_status(influx.url, _current(sm, arn)["token"]) == 204


def test_test_secret_fails_a_token_that_cannot_read_the_bucket(rotation):
    fn, sm, influx, arn = rotation
    token = str(uuid.uuid4())
    fn.STEPS["createSecret"](sm, arn, token)
    fn.STEPS["setSecret"](sm, arn, token)
    pending = _pending(sm, arn, token)
    influx.authorizations[pending["authorization_id"]]["permissions"] = []  # InfluxDB-side drift
    with pytest.raises(RuntimeError, match="HTTP 403"):
        fn.STEPS["testSecret"](sm, arn, token)
    assert "token" not in _current(sm, arn)  # never promoted


def test_handler_refuses_a_secret_without_rotation_enabled(rotation):
    fn, sm, _influx, arn = rotation
    with pytest.raises(ValueError, match="rotation is not enabled"):
        fn.handler({"SecretId": arn, "ClientRequestToken": str(uuid.uuid4()), "Step": "createSecret"}, None)


def test_the_job_writer_carries_on_across_a_rotation_without_a_restart(rotation, local_aws):
    from connectors.influxdb import InfluxWriter
    from flink_job.pipeline.sinks import WriterFactory

    fn, sm, influx, arn = rotation
    # Before the first rotation the secret holds no token: the writer says so (the task fails and
    # restarts; its points wait in checkpointed state)
    early = InfluxWriter(influx.url, ORG, BUCKET, _current(sm, arn))
    with pytest.raises(RuntimeError, match="first rotation still pending"):
        early.write(["m v=1 1"])

    _rotate(fn, sm, arn)
    write = WriterFactory(
        "influxdb", endpoint=influx.url, organization=ORG, bucket=BUCKET, secret_arn=arn,
        region=local_aws.region, aws_endpoint=local_aws.endpoint,
    )()
    assert write([f"reading,device_id=d{i} v={i} {1000 + i}" for i in range(3)]) == []
    first = _current(sm, arn)["token"]

    _rotate(fn, sm, arn)  # deletes the authorization the writer holds
    assert _write_status(influx.url, first) == 401
    # the same writer: 401, reads the secret again, writes with the new token
    assert write([f"reading,device_id=d{i} v={i} {2000 + i}" for i in range(3)]) == []
    assert [p for p in influx.points if p.startswith("reading,")] == [
        *(f"reading,device_id=d{i} v={i} {1000 + i}" for i in range(3)),
        *(f"reading,device_id=d{i} v={i} {2000 + i}" for i in range(3)),
    ]

    # a token revoked with nothing new in the secret: one re-read, then the task fails (points kept)
    current = _current(sm, arn)
    influx.authorizations.pop(current["authorization_id"])
    with pytest.raises(RuntimeError, match="refused the credentials"):
        write(["reading,device_id=d9 v=9 3000"])
