"""Context parsing and validation (pure Python, no synthesis)."""

from __future__ import annotations

import pytest
from aws_cdk import App
from conftest import INFRA_DIR  # noqa: F401  (puts infra/ on sys.path)
from iot_anomaly_infra.app_builder import cdk_json_context
from iot_anomaly_infra.config import ConfigError, DeploymentConfig, default_shard_count


def cfg_from(**context) -> DeploymentConfig:
    return DeploymentConfig.from_context(App(context=context).node)


def test_defaults_match_the_issue():
    cfg = cfg_from()
    assert (cfg.env_name, cfg.region, cfg.time_series_store, cfg.stream_mode) == (
        "dev",
        "eu-central-1",
        "influxdb",
        "provisioned",
    )
    assert cfg.effective_shard_count == 12
    assert not cfg.is_production


def test_shard_count_has_headroom_over_the_per_shard_limit():
    assert default_shard_count(10_000, 0.0) == 10  # exactly the limit: no headroom
    assert default_shard_count(10_000, 0.2) == 12
    assert default_shard_count(10_001, 0.0) == 11
    assert cfg_from(shardCount="20").effective_shard_count == 20


def test_shards_are_sized_for_reads_too():
    # 12,000 records/s of 1 KiB: writes need 12 shards (records and MiB/s alike); two consumers read
    # 23.4 MiB/s, 12 shards; Studio as a third reader makes it 35.2 MiB/s: 18 shards of 2 MiB/s
    assert default_shard_count(10_000, 0.2, record_bytes=1024, consumers=2) == 12
    assert default_shard_count(10_000, 0.2, record_bytes=1024, consumers=3) == 18
    assert cfg_from(expectedRecordBytes="1024", studio="true").effective_shard_count == 18
    assert cfg_from(expectedRecordBytes="1024").effective_shard_count == 12


def test_the_job_leaves_each_other_consumer_a_get_records_call_per_second():
    # a shard serves 5 GetRecords/s: Firehose takes 1, the job 4 (250 ms); with Studio the job takes 3
    assert cfg_from().job_get_records_interval_ms == 250
    assert cfg_from(studio="true").job_get_records_interval_ms == 334


def test_context_values_from_cli_strings():
    cfg = cfg_from(
        env="prod",
        region="eu-west-1",
        alertEmails="a@x.io, b@x.io",
        startApplication="false",
        streamMode="on-demand",
        timeSeriesStore="InfluxDB",
    )
    assert cfg.is_production and cfg.region == "eu-west-1"
    assert cfg.alert_emails == ["a@x.io", "b@x.io"] and cfg.ops_emails == []
    assert cfg.start_application is False
    assert cfg.stream_mode == "on_demand" and cfg.time_series_store == "influxdb"
    assert cfg.name("readings") == "iot-anomaly-readings-prod"


@pytest.mark.parametrize(
    "context",
    [
        {"env": "Prod"},
        {"env": "x"},
        {"streamMode": "fast"},
        {"timeSeriesStore": "dynamo"},
        {"alertEmails": "not-an-address"},
        {"glacierAfterDays": "400"},
        {"shardCount": "0"},
    ],
)
def test_invalid_context_is_rejected(context):
    with pytest.raises(ConfigError):
        cfg_from(**context)


def test_cdk_json_context_is_valid_and_matches_defaults():
    context = cdk_json_context()
    cfg = DeploymentConfig.from_context(App(context=context).node)
    assert cfg == cfg_from()
    assert context["@aws-cdk/customresources:installLatestAwsSdkDefault"] is False


def test_app_cli_parses_context_pairs():
    sys_path_app = INFRA_DIR / "app.py"
    namespace: dict = {"__name__": "infra_app_under_test", "__file__": str(sys_path_app)}
    exec(compile(sys_path_app.read_text(), str(sys_path_app), "exec"), namespace)  # noqa: S102
    parse = namespace["parse_context_args"]
    assert parse(["-c", "env=prod", "--context", "region=eu-west-1", "--context=a=b=c"]) == {
        "env": "prod",
        "region": "eu-west-1",
        "a": "b=c",
    }
    assert parse(["-o", "/tmp/x"])[namespace["OUTPUT_KEY"]] == "/tmp/x"
    with pytest.raises(SystemExit):
        parse(["--bogus"])
