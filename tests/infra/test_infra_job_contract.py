"""Contract: the property groups the stack gives MSF are accepted by the job's own config loader."""

from __future__ import annotations

import pytest


def _fake(value) -> str:
    """Replace CloudFormation intrinsics by ARN-shaped strings, as CloudFormation would at deploy time."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(_fake(part) for part in value["Fn::Join"][1])
    ref = value.get("Ref") or value["Fn::GetAtt"][0]
    return f"arn:aws:test:eu-central-1:123456789012:{ref}"


def test_timestream_properties_load_in_the_job(prod):
    job_config = pytest.importorskip("flink_job.config")
    app = prod.one("AWS::KinesisAnalyticsV2::Application")["Properties"]
    groups = {
        g["PropertyGroupId"]: {k: _fake(v) for k, v in g["PropertyMap"].items()}
        for g in app["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]
    }
    config = job_config.from_groups(groups, local=False)
    assert config.sinks.timeseries_store == "timestream"
    assert config.sinks.timestream_database == "iot_anomaly_db_prod"
    assert config.sinks.archive_path.startswith("s3://")
    assert config.source.init_position == "LATEST"
