"""Deployment configuration read from CDK context (``-c key=value`` or ``infra/cdk.json``).

Every knob has an offline default so that ``python infra/app.py`` synthesizes on a fresh clone
without AWS credentials.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs import Node

INFRA_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = INFRA_DIR.parent
DEFAULT_APP_ZIP = "build/dist/iot-anomaly-flink.zip"
PLACEHOLDER_APP_DIR = INFRA_DIR / "placeholder_app"

PRODUCTION_ENV = "prod"
TIME_SERIES_STORES = ("timestream", "influxdb", "none")
KINESIS_RECORDS_PER_SHARD = 1_000  # records/s written per shard (hard service limit)
KINESIS_WRITE_BYTES_PER_SHARD = 1_048_576  # bytes/s written per shard
KINESIS_READ_BYTES_PER_SHARD = 2_097_152  # bytes/s read per shard, over all polling consumers together
KINESIS_GET_RECORDS_PER_SHARD = 5  # GetRecords calls/s per shard, over all polling consumers together


class ConfigError(ValueError):
    """A context value is missing or invalid."""


def _as_list(value: Any) -> list[str]:
    """Context lists may come as JSON lists (cdk.json) or comma-separated strings (-c on the CLI)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return [str(item).strip() for item in value if str(item).strip()]


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def default_shard_count(
    expected_events_per_second: int, headroom: float, record_bytes: int = 200, consumers: int = 2
) -> int:
    """Shards for the expected rate plus headroom, for writes and for reads (10,000 ev/s * 1.2 -> 12).

    Writes: 1,000 records/s and 1 MiB/s per shard; 10 shards x 1,000 records/s is exactly 10,000
    records/s, no room for bursts or re-sends. Reads: every polling consumer (the job, Firehose, Studio)
    reads every record, and a shard serves 2 MiB/s to all of them together.
    """
    rate = expected_events_per_second * (1 + headroom)
    return max(
        1,
        math.ceil(rate / KINESIS_RECORDS_PER_SHARD),
        math.ceil(rate * record_bytes / KINESIS_WRITE_BYTES_PER_SHARD),
        math.ceil(rate * record_bytes * consumers / KINESIS_READ_BYTES_PER_SHARD),
    )


@dataclass(frozen=True)
class DeploymentConfig:
    env_name: str = "dev"
    region: str = "eu-central-1"
    account: str | None = None
    stream_mode: str = "provisioned"  # provisioned | on_demand
    expected_events_per_second: int = 10_000
    shard_headroom: float = 0.2
    expected_record_bytes: int = 200  # a JSON reading with three sensors is ~150-200 bytes
    shard_count: int | None = None  # None -> derived from expected rate + headroom
    stream_retention_hours: int = 24
    # Timestream for InfluxDB: a store a new account can create (LiveAnalytics takes no new customers
    # since 2025-06-20 and stays an opt-in, `-c timeSeriesStore=timestream`)
    time_series_store: str = "influxdb"
    alert_emails: list[str] = field(default_factory=list)
    ops_emails: list[str] = field(default_factory=list)
    app_zip: str = DEFAULT_APP_ZIP
    start_application: bool = True
    parallelism: int = 2
    parallelism_per_kpu: int = 1
    checkpoint_interval_ms: int = 60_000
    min_pause_between_checkpoints_ms: int = 5_000
    glacier_after_days: int = 90
    expire_after_days: int = 365
    secret_rotation_days: int = 30
    iterator_age_alarm_ms: int = 60_000
    influxdb_instance_type: str = "db.influx.medium"
    influxdb_storage_gb: int = 20
    vpc_nat_gateways: int = 1
    studio: bool = False  # optional MSF Studio notebook (studio.py)

    # ----------------------------------------------------------------- derived values
    @property
    def is_production(self) -> bool:
        return self.env_name == PRODUCTION_ENV

    @property
    def effective_shard_count(self) -> int:
        if self.shard_count is not None:
            return self.shard_count
        return default_shard_count(self.expected_events_per_second, self.shard_headroom,
                                   self.expected_record_bytes, self.polling_consumers)

    @property
    def polling_consumers(self) -> int:
        """Consumers sharing each shard's read limits: the job, Firehose, and Studio when it is on."""
        return 3 if self.studio else 2

    @property
    def job_get_records_interval_ms(self) -> int:
        """The job's least interval between GetRecords on a shard: it leaves one call per second of the
        shard's five to each other consumer (Firehose polls once a second; Studio's notes are expected to
        poll no faster), 250 ms alone with Firehose, 334 ms with Studio too."""
        return math.ceil(1000 / (KINESIS_GET_RECORDS_PER_SHARD - (self.polling_consumers - 1)))

    @property
    def stack_name(self) -> str:
        return f"IotAnomaly-{self.env_name}"

    def name(self, base: str) -> str:
        """Resource name with the environment suffix, e.g. ``iot-anomaly-readings-dev``."""
        return f"iot-anomaly-{base}-{self.env_name}"

    def underscored(self, base: str) -> str:
        """Names where hyphens are not allowed/idiomatic (Timestream database)."""
        return f"iot_anomaly_{base}_{self.env_name}"

    def resolved_app_zip(self) -> Path:
        path = Path(self.app_zip)
        return path if path.is_absolute() else REPO_ROOT / path

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_context(cls, node: Node) -> DeploymentConfig:
        def ctx(key: str, default: Any = None) -> Any:
            value = node.try_get_context(key)
            return default if value is None else value

        shard_count = ctx("shardCount")
        cfg = cls(
            env_name=str(ctx("env", cls.env_name)),
            region=str(ctx("region", cls.region)),
            account=ctx("account"),
            stream_mode=str(ctx("streamMode", cls.stream_mode)).lower().replace("-", "_"),
            expected_events_per_second=int(ctx("expectedEventsPerSecond", cls.expected_events_per_second)),
            shard_headroom=float(ctx("shardHeadroom", cls.shard_headroom)),
            expected_record_bytes=int(ctx("expectedRecordBytes", cls.expected_record_bytes)),
            shard_count=None if shard_count in (None, "") else int(shard_count),
            stream_retention_hours=int(ctx("streamRetentionHours", cls.stream_retention_hours)),
            time_series_store=str(ctx("timeSeriesStore", cls.time_series_store)).lower(),
            alert_emails=_as_list(ctx("alertEmails")),
            ops_emails=_as_list(ctx("opsEmails")),
            app_zip=str(ctx("appZip", DEFAULT_APP_ZIP)),
            start_application=_as_bool(ctx("startApplication", True)),
            parallelism=int(ctx("parallelism", cls.parallelism)),
            parallelism_per_kpu=int(ctx("parallelismPerKpu", cls.parallelism_per_kpu)),
            checkpoint_interval_ms=int(ctx("checkpointIntervalMs", cls.checkpoint_interval_ms)),
            glacier_after_days=int(ctx("glacierAfterDays", cls.glacier_after_days)),
            expire_after_days=int(ctx("expireAfterDays", cls.expire_after_days)),
            secret_rotation_days=int(ctx("secretRotationDays", cls.secret_rotation_days)),
            iterator_age_alarm_ms=int(ctx("iteratorAgeAlarmMs", cls.iterator_age_alarm_ms)),
            influxdb_instance_type=str(ctx("influxDbInstanceType", cls.influxdb_instance_type)),
            influxdb_storage_gb=int(ctx("influxDbStorageGb", cls.influxdb_storage_gb)),
            vpc_nat_gateways=int(ctx("vpcNatGateways", cls.vpc_nat_gateways)),
            studio=_as_bool(ctx("studio", False)),
        )
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9]{1,11}", self.env_name):
            raise ConfigError(f"env must be 2-12 lowercase letters/digits, got {self.env_name!r}")
        if self.stream_mode not in ("provisioned", "on_demand"):
            raise ConfigError(f"streamMode must be provisioned or on_demand, got {self.stream_mode!r}")
        if self.time_series_store not in TIME_SERIES_STORES:
            raise ConfigError(
                f"timeSeriesStore must be one of {TIME_SERIES_STORES}, got {self.time_series_store!r}"
            )
        if not 1 <= self.expected_record_bytes <= 1_048_576:
            raise ConfigError(f"expectedRecordBytes must be in 1..1048576, got {self.expected_record_bytes}")
        if self.effective_shard_count < 1:
            raise ConfigError("shardCount must be >= 1")
        if not 0 < self.glacier_after_days < self.expire_after_days:
            raise ConfigError("glacierAfterDays must be > 0 and lower than expireAfterDays")
        for email in self.alert_emails + self.ops_emails:
            if "@" not in email:
                raise ConfigError(f"not an e-mail address: {email!r}")
