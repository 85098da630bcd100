"""Secrets Manager rotation for the IoT anomaly API credentials (single-user strategy).

Steps (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda.html):
createSecret -> setSecret -> testSecret -> finishSecret. ``set_secret`` is where a deployment that
owns an upstream API calls its credential-change endpoint; by default the credentials are only
consumed by our own job, so storing the new version is the whole change.
"""

import json
import os

import boto3

CLIENT = None


def _client():
    global CLIENT
    if CLIENT is None:
        CLIENT = boto3.client("secretsmanager", endpoint_url=os.environ.get("SECRETS_MANAGER_ENDPOINT"))
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
    {
        "createSecret": create_secret,
        "setSecret": set_secret,
        "testSecret": test_secret,
        "finishSecret": finish_secret,
    }[step](client, arn, token)


def create_secret(client, arn, token):
    current = json.loads(client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
    try:
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    password = client.get_random_password(PasswordLength=40, ExcludePunctuation=True)["RandomPassword"]
    current["password"] = password
    client.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(current), VersionStages=["AWSPENDING"]
    )


def set_secret(client, arn, token):
    """Hook: push the pending credentials to the upstream API here when one is configured."""


def test_secret(client, arn, token):
    pending = json.loads(
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"]
    )
    if not pending.get("username") or not pending.get("password"):
        raise ValueError("pending secret lacks username or password")


def finish_secret(client, arn, token):
    versions = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    current = next((v for v, stages in versions.items() if "AWSCURRENT" in stages), None)
    if current == token:
        return
    client.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
    )
