"""Secrets Manager rotation of the job's InfluxDB API token (Timestream for InfluxDB, v2 API).

The secret holds ``{"token", "authorization_id", "organization", "bucket"}``: an InfluxDB
authorization that may read and write the one bucket, nothing else. The steps
(https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda.html):

- createSecret: InfluxDB makes the token (its API cannot take one from us), so a new
  authorization is created *inactive* and its token stored as AWSPENDING;
- setSecret: the authorization is activated in InfluxDB;
- testSecret: the pending token reads the bucket (authenticates, and has the permission);
- finishSecret: AWSPENDING becomes AWSCURRENT and the previous authorization is deleted. A job still
  holding the old token gets 401 on its next write, reads the secret again and goes on with the new
  one (``connectors.influxdb``): no restart.

The admin session comes from the instance's own auth-parameters secret (``ADMIN_SECRET_ARN``:
username and password), exchanged at /api/v2/signin. Standard library only (urllib).
"""

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request

CLIENT = None
TIMEOUT_S = 10


def _client():
    global CLIENT
    if CLIENT is None:
        import boto3

        endpoint = os.environ.get("SECRETS_MANAGER_ENDPOINT") or None  # set only in tests (moto)
        CLIENT = boto3.client("secretsmanager", endpoint_url=endpoint)
    return CLIENT


def handler(event, _context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    client = _client()
    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"rotation is not enabled for {arn}")
    versions = metadata.get("VersionIdsToStages", {})
    if token not in versions:
        raise ValueError(f"version {token} is not staged for rotation of {arn}")
    if "AWSCURRENT" in versions[token]:
        return  # already rotated
    if "AWSPENDING" not in versions[token]:
        raise ValueError(f"version {token} is not AWSPENDING for {arn}")
    STEPS[step](client, arn, token)


class Influx:
    """The few InfluxDB v2 calls rotation needs; ``auth`` is a header dict (session or token)."""

    def __init__(self, url, auth):
        self.url = url.rstrip("/")
        self.auth = auth

    @classmethod
    def admin(cls, url, username, password):
        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        req = urllib.request.Request(f"{url.rstrip('/')}/api/v2/signin", method="POST",
                                     headers={"Authorization": f"Basic {basic}"})
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            cookie = resp.headers.get("Set-Cookie", "").split(";", 1)[0]
        if not cookie:
            raise RuntimeError(f"InfluxDB sign-in at {url} returned no session")
        return cls(url, {"Cookie": cookie})

    def call(self, method, path, body=None, ok=(200, 201, 204)):
        data = None if body is None else json.dumps(body).encode()
        headers = {**self.auth, **({"Content-Type": "application/json"} if data else {})}
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                text = resp.read().decode() or "{}"
                return resp.status, json.loads(text)
        except urllib.error.HTTPError as exc:
            if exc.code in ok:
                return exc.code, {}
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise RuntimeError(f"InfluxDB {method} {path}: HTTP {exc.code}: {detail}") from None

    def ids(self, organization, bucket):
        _, orgs = self.call("GET", "/api/v2/orgs?" + urllib.parse.urlencode({"org": organization}))
        if not orgs.get("orgs"):
            raise RuntimeError(f"InfluxDB has no organization {organization!r}")
        org_id = orgs["orgs"][0]["id"]
        query = urllib.parse.urlencode({"name": bucket, "orgID": org_id})
        _, buckets = self.call("GET", "/api/v2/buckets?" + query)
        if not buckets.get("buckets"):
            raise RuntimeError(f"InfluxDB has no bucket {bucket!r} in {organization!r}")
        return org_id, buckets["buckets"][0]["id"]


def _value(client, arn, **version):
    return json.loads(client.get_secret_value(SecretId=arn, **version)["SecretString"])


def _admin():
    creds = _value(_client(), os.environ["ADMIN_SECRET_ARN"])
    return Influx.admin(os.environ["INFLUXDB_URL"], creds["username"], creds["password"])


def create_secret(client, arn, token):
    try:
        _value(client, arn, VersionId=token, VersionStage="AWSPENDING")
        return  # created by an earlier attempt of this rotation
    except client.exceptions.ResourceNotFoundException:
        pass
    current = _value(client, arn, VersionStage="AWSCURRENT")
    admin = _admin()
    org_id, bucket_id = admin.ids(current["organization"], current["bucket"])
    resource = {"type": "buckets", "id": bucket_id, "orgID": org_id}
    _, auth = admin.call("POST", "/api/v2/authorizations", {
        "orgID": org_id,
        "status": "inactive",
        "description": f"iot-anomaly job ({arn.rsplit(':', 1)[-1]}, version {token})",
        "permissions": [{"action": "read", "resource": resource}, {"action": "write", "resource": resource}],
    })
    pending = {**current, "token": auth["token"], "authorization_id": auth["id"], "bucket_id": bucket_id}
    client.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(pending), VersionStages=["AWSPENDING"]
    )


def set_secret(client, arn, token):
    pending = _value(client, arn, VersionId=token, VersionStage="AWSPENDING")
    _admin().call("PATCH", f"/api/v2/authorizations/{pending['authorization_id']}", {"status": "active"})


def test_secret(client, arn, token):
    pending = _value(client, arn, VersionId=token, VersionStage="AWSPENDING")
    as_job = Influx(os.environ["INFLUXDB_URL"], {"Authorization": f"Token {pending['token']}"})
    status, bucket = as_job.call("GET", f"/api/v2/buckets/{pending['bucket_id']}")
    if bucket.get("id") != pending["bucket_id"]:
        raise RuntimeError(f"the pending token cannot read bucket {pending['bucket']!r} (HTTP {status})")


def finish_secret(client, arn, token):
    versions = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    current = next((v for v, stages in versions.items() if "AWSCURRENT" in stages), None)
    if current == token:
        return
    previous = _value(client, arn, VersionId=current) if current else {}
    client.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
    )
    if previous.get("authorization_id"):  # the old token stops working now: 404 = gone already
        _admin().call("DELETE", f"/api/v2/authorizations/{previous['authorization_id']}", ok=(204, 404))


STEPS = {
    "createSecret": create_secret,
    "setSecret": set_secret,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
}
