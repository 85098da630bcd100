"""Template assertions for every resource and property that issue 4 asks for."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match


def joined(value) -> str:
    """Flatten an Fn::Join/Ref/GetAtt value to text (tokens become <LogicalId>)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(joined(v) for v in value)
    if isinstance(value, dict):
        if "Fn::Join" in value:
            sep, parts = value["Fn::Join"]
            return sep.join(joined(p) for p in parts)
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return f"<{'.'.join(value['Fn::GetAtt'])}>"
        if "Fn::Sub" in value:
            return value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        if "Fn::Select" in value:
            return "<select>"
    return json.dumps(value)


def key_arn(s) -> dict:
    return {"Fn::GetAtt": [s.logical_id(s.stack.encryption.key), "Arn"]}


# ---------------------------------------------------------------- stacks / environments
def test_one_stack_per_environment_with_suffix_and_region(dev, prod, influx):
    assert dev.stack.stack_name == "IotAnomaly-dev"
    assert prod.stack.stack_name == "IotAnomaly-prod"
    for s in (dev, prod, influx):
        assert s.stack.region == "eu-central-1"
        assert (s.outdir / f"{s.stack.stack_name}.template.json").is_file()
    assert prod.stack.termination_protection and not dev.stack.termination_protection


NAMED = {
    "AWS::Kinesis::Stream": "Name",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::KinesisAnalyticsV2::Application": "ApplicationName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Timestream::Database": "DatabaseName",
    "AWS::Timestream::InfluxDBInstance": "Name",
    "AWS::EC2::SecurityGroup": "GroupName",
}


@pytest.mark.parametrize("config", ["dev", "prod", "influx"])
def test_every_name_carries_the_environment_suffix(config, request):
    s = request.getfixturevalue(config)
    env = s.stack.cfg.env_name
    checked = 0
    for logical_id, resource in s.raw["Resources"].items():
        prop = NAMED.get(resource["Type"])
        if prop is None or prop not in resource.get("Properties", {}):
            continue
        name = joined(resource["Properties"][prop])
        assert f"-{env}" in name or f"_{env}" in name or f"/{env}/" in name, (logical_id, name)
        checked += 1
    assert checked >= 20


# ---------------------------------------------------------------- KMS + secret
def test_customer_key_with_rotation_and_service_grants(dev, prod):
    dev.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    dev.template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/iot-anomaly-data-dev"})
    policy = json.dumps(dev.one("AWS::KMS::Key")["Properties"]["KeyPolicy"])
    for principal in (
        "cloudwatch.amazonaws.com",
        "kinesisanalytics.amazonaws.com",
        "infrastructure.kinesisanalytics.amazonaws.com",
        "logs.eu-central-1.amazonaws.com",
    ):
        assert principal in policy
    assert dev.one("AWS::KMS::Key")["DeletionPolicy"] == "Delete"
    assert prod.one("AWS::KMS::Key")["DeletionPolicy"] == "Retain"


def test_influxdb_token_secret_is_encrypted_rotated_and_the_only_one_the_job_reads(dev, influx):
    store = influx.stack.time_series
    token = influx.logical_id(store.token.secret)
    influx.template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"Name": "iot-anomaly/prod/influxdb-token", "KmsKeyId": key_arn(influx)},
    )
    influx.template.has_resource_properties(
        "AWS::SecretsManager::RotationSchedule",
        {"SecretId": {"Ref": token}, "RotationLambdaARN": Match.any_value(),
         "RotationRules": {"ScheduleExpression": "rate(30 days)"}},
    )
    fn = influx.template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"FunctionName": "iot-anomaly-influxdb-token-rotation-prod"}}
    )
    (fn_id, function), = fn.items()
    props = function["Properties"]
    assert props["Runtime"] == "python3.14" and props["VpcConfig"]["SubnetIds"]
    assert props["Environment"]["Variables"]["ADMIN_SECRET_ARN"] == {
        "Fn::GetAtt": [influx.logical_id(store.instance), "InfluxAuthParametersSecretArn"]
    }
    # Secrets Manager may invoke it for this secret of this account only (checkov CKV_AWS_364)
    permissions = [
        p["Properties"] for p in influx.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [fn_id, "Arn"]}
    ]
    assert permissions and all(
        p["Principal"] == "secretsmanager.amazonaws.com"
        and p["SourceAccount"] == {"Ref": "AWS::AccountId"} and p["SourceArn"] == {"Ref": token}
        for p in permissions
    )
    # the rotation reaches InfluxDB's API through its own security group
    influx.template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": {"Fn::GetAtt": [influx.logical_id(store.db_security_group), "GroupId"]},
            "FromPort": 8086,
            "SourceSecurityGroupId": {
                "Fn::GetAtt": [influx.logical_id(store.token.security_group), "GroupId"]
            },
        },
    )
    assert _groups(influx)["sinks"]["influxdb.auth_secret_arn"] == {"Ref": token}
    assert "secrets" not in _groups(influx)
    # without InfluxDB nothing reads a secret: none is created, and no rotation
    assert dev.resources("AWS::SecretsManager::Secret") == {}
    assert dev.resources("AWS::Lambda::Permission") == {} or all(
        p["Properties"]["Principal"] != "secretsmanager.amazonaws.com"
        for p in dev.resources("AWS::Lambda::Permission").values()
    )


# ---------------------------------------------------------------- Kinesis + Firehose
def test_stream_provisioned_with_headroom_and_customer_key(dev):
    dev.template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "Name": "iot-anomaly-readings-dev",
            "ShardCount": 12,  # 12,000 records/s for 10,000 events/s: 20 % headroom
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": key_arn(dev)},
            "RetentionPeriodHours": 24,
        },
    )


def test_stream_on_demand(influx):
    stream = influx.one("AWS::Kinesis::Stream")["Properties"]
    assert stream["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert "ShardCount" not in stream
    assert stream["StreamEncryption"]["EncryptionType"] == "KMS"


def test_firehose_archives_raw_stream_gzip_date_partitioned(dev):
    stream_id = dev.logical_id(dev.stack.readings.stream)
    raw_id = dev.logical_id(dev.stack.buckets.raw)
    dev.template.has_resource_properties(
        "AWS::KinesisFirehose::DeliveryStream",
        {
            "DeliveryStreamName": "iot-anomaly-raw-archive-dev",
            "DeliveryStreamType": "KinesisStreamAsSource",
            "KinesisStreamSourceConfiguration": {
                "KinesisStreamARN": {"Fn::GetAtt": [stream_id, "Arn"]},
                "RoleARN": Match.any_value(),
            },
            "ExtendedS3DestinationConfiguration": Match.object_like(
                {
                    "BucketARN": {"Fn::GetAtt": [raw_id, "Arn"]},
                    "CompressionFormat": "GZIP",
                    "Prefix": Match.string_like_regexp(
                        r"^raw/year=!\{timestamp:yyyy\}/month=!\{timestamp:MM\}/"
                        r"day=!\{timestamp:dd\}/"
                    ),
                    "ErrorOutputPrefix": Match.string_like_regexp("^errors/"),
                    "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": key_arn(dev)}},
                    "CloudWatchLoggingOptions": Match.object_like({"Enabled": True}),
                }
            ),
        },
    )


# ---------------------------------------------------------------- S3
def _bucket(s, bucket) -> dict:
    return s.raw["Resources"][s.logical_id(bucket)]


def test_data_buckets_sse_kms_versioned_logged_lifecycle(dev):
    logs_id = dev.logical_id(dev.stack.buckets.access_logs)
    for bucket in (dev.stack.buckets.raw, dev.stack.buckets.processed):
        props = _bucket(dev, bucket)["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
            {
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {"KMSMasterKeyID": key_arn(dev), "SSEAlgorithm": "aws:kms"},
            }
        ]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}
        rule = props["LifecycleConfiguration"]["Rules"][0]
        assert rule["Status"] == "Enabled"
        assert rule["Transitions"] == [{"StorageClass": "GLACIER", "TransitionInDays": 90}]
        assert rule["ExpirationInDays"] == 365


def test_the_alert_ledger_prefix_expires_after_a_week(dev):
    from connectors.alert_ledger import LEDGER_PREFIX

    rules = _bucket(dev, dev.stack.buckets.processed)["Properties"]["LifecycleConfiguration"]["Rules"]
    ledger = [r for r in rules if r.get("Prefix") == LEDGER_PREFIX]
    assert len(ledger) == 1 and ledger[0]["ExpirationInDays"] == 7 and ledger[0]["Status"] == "Enabled"


@pytest.mark.parametrize("config", ["dev", "prod"])
def test_every_bucket_blocks_public_access_and_enforces_tls(config, request):
    s = request.getfixturevalue(config)
    buckets = s.resources("AWS::S3::Bucket")
    assert len(buckets) == 3
    for resource in buckets.values():
        assert resource["Properties"]["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert resource["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    policies = [json.dumps(p["Properties"]) for p in s.resources("AWS::S3::BucketPolicy").values()]
    assert len(policies) == 3
    for policy in policies:
        assert '"aws:SecureTransport": "false"' in policy and '"Effect": "Deny"' in policy


def test_auto_delete_only_outside_production(dev, prod):
    assert len(dev.resources("Custom::S3AutoDeleteObjects")) == 3
    assert all(b["DeletionPolicy"] == "Delete" for b in dev.resources("AWS::S3::Bucket").values())
    assert prod.resources("Custom::S3AutoDeleteObjects") == {}
    for resource_type in (
        "AWS::S3::Bucket",
        "AWS::Kinesis::Stream",
        "AWS::Timestream::Database",
        "AWS::Timestream::Table",
        "AWS::SecretsManager::Secret",
        "AWS::Logs::LogGroup",
    ):
        for logical_id, resource in prod.resources(resource_type).items():
            assert resource["DeletionPolicy"] == "Retain", logical_id


# ---------------------------------------------------------------- time-series store
def test_timestream_database_and_tables(dev):
    dev.template.has_resource_properties(
        "AWS::Timestream::Database", {"DatabaseName": "iot_anomaly_db_dev", "KmsKeyId": key_arn(dev)}
    )
    for table in ("readings", "anomalies"):
        dev.template.has_resource_properties(
            "AWS::Timestream::Table",
            {
                "DatabaseName": "iot_anomaly_db_dev",
                "TableName": table,
                "RetentionProperties": {
                    "MemoryStoreRetentionPeriodInHours": "24",
                    "MagneticStoreRetentionPeriodInDays": "365",
                },
            },
        )
    assert dev.resources("AWS::Timestream::InfluxDBInstance") == {}


def test_influxdb_alternative_in_private_subnets(influx):
    assert influx.resources("AWS::Timestream::Database") == {}
    store = influx.stack.time_series
    db_sg = influx.logical_id(store.db_security_group)
    flink_sg = influx.logical_id(store.client_security_group)
    instance = influx.one("AWS::Timestream::InfluxDBInstance")["Properties"]
    assert instance["PubliclyAccessible"] is False
    assert instance["DeploymentType"] == "WITH_MULTIAZ_STANDBY"  # prod
    assert instance["VpcSecurityGroupIds"] == [{"Fn::GetAtt": [db_sg, "GroupId"]}]
    isolated = {influx.stack.resolve(s.subnet_id)["Ref"] for s in store.vpc.isolated_subnets}
    assert {ref["Ref"] for ref in instance["VpcSubnetIds"]} == isolated and len(isolated) == 2
    assert instance["Password"]["Fn::Join"][1][0].startswith("{{resolve:secretsmanager:")
    influx.template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": {"Fn::GetAtt": [db_sg, "GroupId"]},
            "FromPort": 8086,
            "ToPort": 8086,
            "SourceSecurityGroupId": {"Fn::GetAtt": [flink_sg, "GroupId"]},
        },
    )
    influx.template.resource_count_is("AWS::EC2::FlowLog", 1)
    app = influx.one("AWS::KinesisAnalyticsV2::Application")["Properties"]["ApplicationConfiguration"]
    assert app["VpcConfigurations"][0]["SecurityGroupIds"] == [{"Fn::GetAtt": [flink_sg, "GroupId"]}]
    sinks = _groups(influx)["sinks"]
    assert sinks["timeseries.store"] == "influxdb"
    assert sinks["influxdb.auth_secret_arn"] == {"Ref": influx.logical_id(store.token.secret)}


# ---------------------------------------------------------------- SNS
def test_topics_encrypted_with_email_subscriptions(dev, prod):
    for name in ("iot-anomaly-alerts-dev", "iot-anomaly-operations-dev"):
        dev.template.has_resource_properties(
            "AWS::SNS::Topic", {"TopicName": name, "KmsMasterKeyId": key_arn(dev)}
        )
    alerts = dev.logical_id(dev.stack.topics.alerts)
    ops = dev.logical_id(dev.stack.topics.operations)
    subs = [r["Properties"] for r in dev.resources("AWS::SNS::Subscription").values()]
    assert sorted((s["TopicArn"]["Ref"], s["Endpoint"]) for s in subs) == sorted(
        [(alerts, "oncall@example.com"), (alerts, "plant-manager@example.com"), (ops, "ops@example.com")]
    )
    assert all(s["Protocol"] == "email" for s in subs)
    assert len(prod.resources("AWS::SNS::Subscription")) == 2  # no ops e-mails in that context
    for policy in dev.resources("AWS::SNS::TopicPolicy").values():
        assert "aws:SecureTransport" in json.dumps(policy)


# ---------------------------------------------------------------- Managed Flink
def _groups(s) -> dict[str, dict]:
    app = s.one("AWS::KinesisAnalyticsV2::Application")["Properties"]
    groups = app["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]
    return {g["PropertyGroupId"]: g["PropertyMap"] for g in groups}


def test_flink_application_runtime_code_and_configuration(prod):
    app = prod.one("AWS::KinesisAnalyticsV2::Application")["Properties"]
    assert app["RuntimeEnvironment"] == "FLINK-2_2"
    assert app["ApplicationName"] == "iot-anomaly-flink-prod"
    assert app["ServiceExecutionRole"] == {"Fn::GetAtt": [prod.logical_id(prod.stack.flink.role), "Arn"]}
    conf = app["ApplicationConfiguration"]
    code = conf["ApplicationCodeConfiguration"]
    assert code["CodeContentType"] == "ZIPFILE"
    assert code["CodeContent"]["S3ContentLocation"]["FileKey"] == prod.stack.flink.code.s3_object_key
    assert prod.stack.flink.uses_real_code
    flink = conf["FlinkApplicationConfiguration"]
    assert flink["CheckpointConfiguration"] == {
        "ConfigurationType": "CUSTOM",
        "CheckpointingEnabled": True,
        "CheckpointInterval": 60000,
        "MinPauseBetweenCheckpoints": 5000,
    }
    assert flink["ParallelismConfiguration"]["AutoScalingEnabled"] is True
    assert flink["ParallelismConfiguration"]["ConfigurationType"] == "CUSTOM"
    assert flink["MonitoringConfiguration"]["ConfigurationType"] == "CUSTOM"
    assert conf["ApplicationSnapshotConfiguration"] == {"SnapshotsEnabled": True}
    assert conf["ApplicationEncryptionConfiguration"] == {
        "KeyType": "CUSTOMER_MANAGED_KEY",
        "KeyId": key_arn(prod),
    }


def test_flink_property_groups(dev):
    groups = _groups(dev)
    assert groups["kinesis.analytics.flink.run.options"] == {
        "python": "main.py",
        "jarfile": "lib/pyflink-dependencies.jar",
        "pyFiles": "python_deps/",
    }
    assert groups["source"] == {
        "stream.arn": {"Fn::GetAtt": [dev.logical_id(dev.stack.readings.stream), "Arn"]},
        "aws.region": "eu-central-1",
        "source.init.position": "LATEST",
        "min_get_records_interval_ms": "250",  # Firehose shares the shard's 5 GetRecords/s
    }
    sinks = groups["sinks"]
    assert sinks["timeseries.store"] == "timestream"
    assert sinks["timestream.database"] == "iot_anomaly_db_dev"
    assert sinks["timestream.readings_table"] == "readings"
    assert sinks["timestream.anomalies_table"] == "anomalies"
    assert sinks["sns.alerts_topic_arn"] == {"Ref": dev.logical_id(dev.stack.topics.alerts)}
    assert joined(sinks["s3.archive_path"]) == f"s3://<{dev.logical_id(dev.stack.buckets.processed)}>/"
    assert groups["detection"] == {} and groups["thresholds"] == {}
    assert "secrets" not in groups  # the job reads no secret but the InfluxDB token (sinks)


def test_flink_cloudwatch_logging(dev):
    option = dev.one("AWS::KinesisAnalyticsV2::ApplicationCloudWatchLoggingOption")["Properties"]
    assert option["ApplicationName"] == {"Ref": dev.logical_id(dev.stack.flink.application)}
    assert ":log-stream:" in joined(option["CloudWatchLoggingOption"]["LogStreamARN"])
    dev.template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": "/aws/kinesis-analytics/iot-anomaly-flink-dev",
            "KmsKeyId": key_arn(dev),
            "RetentionInDays": 90,
        },
    )


def test_started_after_deployment_only_with_real_code(dev, prod):
    assert dev.resources("Custom::AWS") == {}  # placeholder code is never started
    assert not dev.stack.flink.uses_real_code
    starter = prod.one("Custom::AWS")
    create = joined(starter["Properties"]["Create"])
    assert '"action":"startApplication"' in create and "iot-anomaly-flink-prod" in create
    assert prod.logical_id(prod.stack.flink.logging_option) in starter["DependsOn"]
    assert any("StartCommand" in k for k in prod.raw["Outputs"])


# ---------------------------------------------------------------- CloudWatch
def test_dashboard_shows_the_required_metrics(dev):
    body = joined(dev.one("AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"])
    for metric in (
        "IncomingRecords",
        "IncomingBytes",
        "WriteProvisionedThroughputExceeded",
        "ReadProvisionedThroughputExceeded",
        "GetRecords.IteratorAgeMilliseconds",
        "runningTime",  # Flink 2.2 deprecates uptime/downtime (test_metric_names.py)
        "restartingTime",
        "numRestarts",
        "numberOfFailedCheckpoints",
        "lastCheckpointDuration",
        "millisBehindLatest",
        '"KPUs"',
        "DeliveryToS3.Records",
        "DeliveryToS3.DataFreshness",
        '"IotAnomaly","AnomaliesDetected","Severity","warning"',
        '"IotAnomaly","AnomaliesDetected","Severity","critical"',
    ):
        assert metric in body, metric


def test_the_token_rotation_has_an_alarm_with_the_influxdb_store(influx):
    names = {r["Properties"]["AlarmName"] for r in influx.resources("AWS::CloudWatch::Alarm").values()}
    assert "iot-anomaly-SecretRotationErrors-prod" in names


def test_alarms_notify_the_operations_topic(dev):
    ops = {"Ref": dev.logical_id(dev.stack.topics.operations)}
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in dev.resources("AWS::CloudWatch::Alarm").values()
    }
    expected = {
        "KinesisWriteThrottles": "WriteProvisionedThroughputExceeded",
        "KinesisReadThrottles": "ReadProvisionedThroughputExceeded",
        "KinesisIteratorAge": "GetRecords.IteratorAgeMilliseconds",
        "FlinkDowntime": "restartingTime",
        "FlinkMillisBehindLatest": "millisBehindLatest",
        "FlinkCheckpointFailures": "numberOfFailedCheckpoints",
        "FlinkRestarts": "numRestarts",  # fullRestarts is gone in Flink 2.x: an alarm on it never fires
        "FirehoseDeliveryErrors": "DeliveryToS3.Success",
    }  # + SecretRotationErrors with the InfluxDB store, whose token is the one rotated secret
    assert set(alarms) == {f"iot-anomaly-{name}-dev" for name in expected}
    for name, metric in expected.items():
        alarm = alarms[f"iot-anomaly-{name}-dev"]
        assert alarm["AlarmActions"] == [ops] and alarm["OKActions"] == [ops]
        assert metric in json.dumps(alarm)
    # metrics Flink 2.2 on MSF no longer publishes: an alarm or widget on them would stay silent forever
    for removed in ("fullRestarts", "bytesRequestedPerFetch"):
        assert removed not in json.dumps(dev.raw), removed
