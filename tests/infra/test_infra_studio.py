"""The optional MSF Studio notebook (-c studio=true): off by default, interactive, Glue catalog, read-only."""

from __future__ import annotations

import json

import pytest
from conftest import synthesize

APP = "AWS::KinesisAnalyticsV2::Application"
# What the Studio role may do; anything else (a write to the stream, archive or store) fails the test.
STUDIO_ACTIONS = {
    "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator",
    "kinesis:GetRecords", "kinesis:ListShards", "kms:Decrypt", "s3:ListBucket", "s3:GetObject",
    "glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables", "glue:CreateTable",
    "glue:UpdateTable", "glue:DeleteTable", "glue:GetPartitions", "glue:GetUserDefinedFunction",
    "glue:GetUserDefinedFunctions", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents",
    "timestream:Select", "timestream:DescribeEndpoints",
}


@pytest.fixture(scope="session")
def studio(tmp_path_factory):
    """dev + Studio on Timestream (LiveAnalytics, which Studio reads); cdk-nag runs in the synth, so an
    unacknowledged finding fails here."""
    return synthesize(tmp_path_factory.mktemp("studio"), {"env": "dev", "studio": "true",
                                                          "appZip": "does/not/exist.zip",
                                                          "timeSeriesStore": "timestream"})


def _studio_app(s):
    apps = [r for r in s.resources(APP).values() if r["Properties"]["ApplicationMode"] == "INTERACTIVE"]
    assert len(apps) == 1
    return apps[0]["Properties"]


def _studio_policy(s):
    role_id = s.logical_id(s.stack.studio.role)
    policies = [p for p in s.resources("AWS::IAM::Policy").values()
                if {"Ref": role_id} in p["Properties"].get("Roles", [])]
    assert len(policies) == 1
    return policies[0]["Properties"]["PolicyDocument"]["Statement"]


def test_studio_is_off_by_default(dev):
    modes = [r["Properties"]["ApplicationMode"] for r in dev.resources(APP).values()]
    assert modes == ["STREAMING"]
    # the one Glue database is the archive's catalogue (catalog.py), not a Studio catalogue
    names = [r["Properties"]["DatabaseInput"]["Name"] for r in dev.resources("AWS::Glue::Database").values()]
    assert names == ["iot_anomaly_archive_dev"]
    assert not hasattr(dev.stack, "studio")


def test_studio_is_an_interactive_zeppelin_flink_app_with_a_glue_catalog(studio):
    props = _studio_app(studio)
    assert props["RuntimeEnvironment"] == "ZEPPELIN-FLINK-3_0"
    zeppelin = props["ApplicationConfiguration"]["ZeppelinApplicationConfiguration"]
    db = studio.logical_id(studio.stack.studio.database)
    db = studio.raw["Resources"][db]["Properties"]["DatabaseInput"]["Name"]
    assert db.startswith("iot_anomaly_studio")
    arn = json.dumps(zeppelin["CatalogConfiguration"]["GlueDataCatalogConfiguration"]["DatabaseARN"])
    assert f":database/{db}" in arn
    artifacts = zeppelin["CustomArtifactsConfiguration"]
    assert [a["MavenReference"]["ArtifactId"] for a in artifacts] == ["flink-sql-connector-kinesis"]
    assert artifacts[0]["MavenReference"]["Version"].startswith("1.15.")
    # the streaming job is still there, unchanged in mode
    assert sorted(r["Properties"]["ApplicationMode"] for r in studio.resources(APP).values()) == [
        "INTERACTIVE", "STREAMING"]


def test_studio_role_only_reads_the_stream_archive_and_store(studio):
    statements = _studio_policy(studio)
    actions = set()
    for st in statements:
        assert st["Effect"] == "Allow"
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        assert not any("*" in a for a in acts), acts
        actions.update(acts)
    assert actions <= STUDIO_ACTIONS, actions - STUDIO_ACTIONS
    assert {"kinesis:GetRecords", "s3:GetObject", "timestream:Select", "glue:CreateTable"} <= actions
    by_sid = {st["Sid"]: st for st in statements}
    # archive reads are limited to the prefixes the notes use, never the whole bucket
    read = json.dumps(by_sid["StudioReadArchive"]["Resource"])
    for prefix in ("/raw/*", "/anomalies/*", "/notebooks/*"):
        assert prefix in read
    assert '"/*"' not in read
    assert by_sid["StudioListArchive"]["Condition"]["StringLike"]["s3:prefix"]
    # the only Resource "*" is endpoint discovery
    star = [sid for sid, st in by_sid.items() if st["Resource"] == "*"]
    assert star == ["StudioTimestreamEndpoints"]


def test_studio_role_is_assumed_by_msf_of_this_account_only(studio):
    role = studio.raw["Resources"][studio.logical_id(studio.stack.studio.role)]["Properties"]
    (stmt,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert stmt["Principal"] == {"Service": "kinesisanalytics.amazonaws.com"}
    assert stmt["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
