"""The alert ledger on a real S3 (moto on loopback) and on a folder: an alert id is published once."""

from __future__ import annotations

import boto3
import pytest

from connectors.alert_ledger import FileLedger, S3Ledger, deduplicated, ledger_for

pytestmark = pytest.mark.integration


def message(alert_id: str | None) -> tuple[str, str, dict[str, str]]:
    attrs = {"severity": "critical"}
    if alert_id:
        attrs["alert_id"] = alert_id
    return ("subject", f"body {alert_id}", attrs)


def s3(endpoint: str):  # noqa: ANN201
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="eu-central-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(params=["s3", "file"])
def ledger(request, tmp_path):
    if request.param == "file":
        return ledger_for(tmp_path.as_uri() + "/archive/", lambda: None)
    endpoint = request.getfixturevalue("moto_endpoint")
    client = s3(endpoint)
    bucket = f"ledger-{tmp_path.name.lower().replace('_', '-')[:40]}"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    return ledger_for(f"s3://{bucket}/archive/", lambda: client)


def test_the_ledger_kind_follows_the_archive_path(ledger):
    assert isinstance(ledger, (S3Ledger, FileLedger))
    assert ledger_for("", lambda: None) is None
    with pytest.raises(ValueError, match="hdfs"):
        ledger_for("hdfs://x/", lambda: None)


def test_a_replayed_alert_is_published_once(ledger):
    sent: list[tuple] = []

    def publish(messages):  # noqa: ANN001, ANN202 - a recording stand-in for SnsPublisher.publish
        sent.extend(messages)
        return []

    write = deduplicated(publish, ledger)
    assert write([message("a1"), message("a2"), message(None)]) == []
    # the job restarted from a checkpoint before a1 and a2: detection emits them again
    assert write([message("a1"), message("a2"), message("a3"), message(None)]) == []
    ids = [m[2].get("alert_id") for m in sent]
    assert ids == ["a1", "a2", None, "a3", None]


def test_a_refused_alert_is_not_recorded_and_goes_out_on_the_next_try(ledger):
    attempts: list[list[str]] = []

    def flaky(messages):  # noqa: ANN001, ANN202
        attempts.append([m[2]["alert_id"] for m in messages])
        return [(m, "refused") for m in messages] if len(attempts) == 1 else []

    write = deduplicated(flaky, ledger)
    assert [reason for _m, reason in write([message("b1")])] == ["refused"]
    assert write([message("b1")]) == []
    assert attempts == [["b1"], ["b1"]]
    assert ledger.seen("b1")


def test_recording_twice_is_harmless(ledger):
    ledger.record("c1")
    ledger.record("c1")  # S3: the conditional put answers 412, which means "already there"
    assert ledger.seen("c1") and not ledger.seen("c2")
