"""Least privilege and cdk-nag: every wildcard and every acknowledgement is deliberate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import Validations
from aws_cdk import aws_s3 as s3
from conftest import INFRA_DIR, synthesize

# Statements allowed to use a wildcard in Resource (by Sid; aws-cdk-lib's own grants have no Sid
# and are listed by their actions), each acknowledged in code with a reason.
CDK_GRANTS_WITH_WILDCARD = {("secretsmanager:GetRandomPassword",): "GeneratePasswords"}
WILDCARD_SIDS = {
    "GeneratePasswords": ["secretsmanager:GetRandomPassword"],
    "PublishCustomMetrics": ["cloudwatch:PutMetricData"],
    "DiscoverTimestreamEndpoints": ["timestream:DescribeEndpoints"],
    "DescribeLogGroups": ["logs:DescribeLogGroups"],
    "DescribeLogStreams": ["logs:DescribeLogStreams"],
    "WriteRawObjects": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
    "WriteProcessedArchive": [
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:ListMultipartUploadParts",
        "s3:PutObject",
    ],
    "DescribeVpcForEnis": [
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
    ],
    "ManageApplicationEnis": [
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
    ],
}


def _statements(s):
    for logical_id, resource in s.raw["Resources"].items():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for st in resource["Properties"]["PolicyDocument"]["Statement"]:
                yield logical_id, st


def _as_list(value):
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("config", ["dev", "prod", "influx"])
def test_no_wildcard_actions_and_wildcard_resources_only_where_justified(config, request):
    s = request.getfixturevalue(config)
    seen = set()
    for logical_id, st in _statements(s):
        assert st["Effect"] == "Allow"
        for action in _as_list(st["Action"]):
            assert "*" not in action, (logical_id, action)
        wildcard = [r for r in _as_list(st["Resource"]) if "*" in json.dumps(r)]
        if wildcard:
            sid = st.get("Sid") or CDK_GRANTS_WITH_WILDCARD.get(tuple(sorted(_as_list(st["Action"]))))
            assert sid in WILDCARD_SIDS, f"unjustified wildcard resource in {logical_id}: {st}"
            assert sorted(_as_list(st["Action"])) == sorted(WILDCARD_SIDS[sid]), st
            seen.add(sid)
    assert {"PublishCustomMetrics", "WriteRawObjects", "WriteProcessedArchive"} <= seen
    # the token rotation's (CDK-added) password grant exists only with the InfluxDB store
    assert ("GeneratePasswords" in seen) == (config == "influx")
    if config == "influx":
        assert {"DescribeVpcForEnis", "ManageApplicationEnis"} <= seen


def test_custom_metrics_limited_to_the_job_namespace(dev):
    (st,) = [st for _, st in _statements(dev) if st.get("Sid") == "PublishCustomMetrics"]
    assert st["Condition"] == {"StringEquals": {"cloudwatch:namespace": "IotAnomaly"}}


def test_flink_role_gets_exactly_what_the_job_needs(prod):
    flink = prod.stack.flink
    policy = prod.raw["Resources"][prod.logical_id(flink.policy)]["Properties"]
    assert policy["Roles"] == [{"Ref": prod.logical_id(flink.role)}]
    by_sid = {st["Sid"]: st for st in policy["PolicyDocument"]["Statement"]}
    assert set(by_sid) == {
        "ReadApplicationCode",
        "ReadReadingsStream",
        "UseDataKey",
        "ListProcessedBucket",
        "WriteProcessedArchive",
        "PublishAnomalyAlerts",
        "PublishCustomMetrics",
        "DescribeLogGroups",
        "DescribeLogStreams",
        "WriteApplicationLogs",
        "WriteTimestreamTables",
        "DiscoverTimestreamEndpoints",
    }
    stream_arn = {"Fn::GetAtt": [prod.logical_id(prod.stack.readings.stream), "Arn"]}
    assert by_sid["ReadReadingsStream"]["Resource"] == stream_arn
    assert sorted(by_sid["ReadReadingsStream"]["Action"]) == [
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
    ]
    assert by_sid["PublishAnomalyAlerts"] == {
        "Sid": "PublishAnomalyAlerts",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": {"Ref": prod.logical_id(prod.stack.topics.alerts)},
    }
    assert by_sid["UseDataKey"]["Resource"] == {
        "Fn::GetAtt": [prod.logical_id(prod.stack.encryption.key), "Arn"]
    }
    # the code object itself, not the whole CDK asset bucket
    assert flink.code.s3_object_key in json.dumps(by_sid["ReadApplicationCode"]["Resource"])
    tables = [{"Fn::GetAtt": [prod.logical_id(t), "Arn"]} for t in prod.stack.time_series.tables.values()]
    assert sorted(map(json.dumps, by_sid["WriteTimestreamTables"]["Resource"])) == sorted(
        map(json.dumps, tables)
    )
    trust = prod.raw["Resources"][prod.logical_id(flink.role)]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "kinesisanalytics.amazonaws.com"}


def test_every_acknowledgement_has_a_reason(dev, prod, influx):
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = {}
    for s in (dev, prod, influx):
        for construct in s.stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == key:
                    for rule_id, reason in entry.data.items():
                        assert len(reason) >= 30, (construct.node.path, rule_id)
                        found[rule_id.split("[")[0]] = reason
    # aws-cdk-lib itself acknowledges a few CloudFormation-Validate rules (VPC flow logs, literal AZs).
    cdk_internal = {
        "CloudFormation-Validate::W3010",
        "CloudFormation-Validate::F3002",
        "CloudFormation-Validate::F3003",
    }
    assert set(found) - cdk_internal == {
        "AwsSolutions::AwsSolutions-IAM5",
        "AwsSolutions::AwsSolutions-IAM4",
        "AwsSolutions::AwsSolutions-KDS3",
        "AwsSolutions::AwsSolutions-KDF1",
        "AwsSolutions::AwsSolutions-SMG4",
        "CloudFormation-Validate::W3697",
    }


def test_cdk_nag_gate_rejects_an_unacknowledged_finding(tmp_path, monkeypatch):
    """The fixtures pass because AwsSolutionsChecks passes; prove the gate is really armed."""
    import iot_anomaly_infra.app_builder as builder

    real_stack = builder.IotAnomalyStack

    def with_bad_bucket(app, cfg):
        stack = real_stack(app, cfg)
        s3.Bucket(stack, "Unencrypted")  # no TLS policy, no access logs -> S10, S1
        return stack

    monkeypatch.setattr(builder, "IotAnomalyStack", with_bad_bucket)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synthesize(tmp_path, {"env": "nagtest", "appZip": "missing.zip", "timeSeriesStore": "none"})
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {
        v["ruleName"]
        for p in report["pluginReports"]
        for v in p["violations"]
        if not any(c.get("acknowledgedId") for c in v["violatingConstructs"])
    }
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules


def test_make_synth_command_works_offline(tmp_path):
    """What `make synth` runs, in a fresh process without AWS credentials."""
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true"}
    result = subprocess.run(
        [sys.executable, str(INFRA_DIR / "app.py"), "-o", str(tmp_path / "out"), "-c", "appZip=missing.zip"],
        cwd=INFRA_DIR.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads(Path(tmp_path / "out" / "IotAnomaly-dev.template.json").read_text())
    assert "AWS::KinesisAnalyticsV2::Application" in {r["Type"] for r in template["Resources"].values()}


@pytest.mark.parametrize("config", ["dev", "prod", "influx"])
def test_every_service_invoke_permission_names_its_source(config, request):
    """A service may invoke our Lambdas only on behalf of this account (checkov CKV_AWS_364)."""
    s = request.getfixturevalue(config)
    for logical_id, resource in s.resources("AWS::Lambda::Permission").items():
        props = resource["Properties"]
        if str(props["Principal"]).endswith(".amazonaws.com"):
            assert "SourceAccount" in props or "SourceArn" in props, (logical_id, props)
