"""Raw and processed S3 buckets (SSE-KMS, TLS only, versioned, access-logged, lifecycle-managed)."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .config import DeploymentConfig
from .security import removal_policy

ALERT_LEDGER_PREFIX = "alert-ledger/"  # connectors/alert_ledger.py LEDGER_PREFIX


class DataBuckets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeploymentConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        destroy = not cfg.is_production
        # Bucket names are global: the account id and region keep them unique per deployment.
        suffix = f"{cfg.env_name}-{Aws.ACCOUNT_ID}-{cfg.region}"

        # S3 server access logging delivers only to SSE-S3 buckets (SSE-KMS targets are unsupported),
        # so this one bucket uses S3-managed keys; it holds request logs, not sensor data.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=f"iot-anomaly-access-logs-{suffix}",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=self._lifecycle(cfg),
            removal_policy=removal_policy(cfg),
            auto_delete_objects=destroy,
        )

        self.raw = self._data_bucket("Raw", f"iot-anomaly-raw-{suffix}", cfg, key)
        # The job's alert ledger (ids of published alerts, one empty object each) only needs to
        # outlive a restore's replay: a week, not the archive's retention.
        ledger = s3.LifecycleRule(
            id="expire-alert-ledger",
            enabled=True,
            prefix=ALERT_LEDGER_PREFIX,
            expiration=Duration.days(7),
            noncurrent_version_expiration=Duration.days(1),
        )
        self.processed = self._data_bucket(
            "Processed", f"iot-anomaly-processed-{suffix}", cfg, key, extra_rules=[ledger]
        )

    def _data_bucket(
        self,
        construct_id: str,
        name: str,
        cfg: DeploymentConfig,
        key: kms.IKey,
        extra_rules: list[s3.LifecycleRule] | None = None,
    ) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            bucket_name=name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,  # one KMS call per bucket key, not per object: cost control
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{name}/",
            lifecycle_rules=self._lifecycle(cfg) + (extra_rules or []),
            removal_policy=removal_policy(cfg),
            auto_delete_objects=not cfg.is_production,
        )

    @staticmethod
    def _lifecycle(cfg: DeploymentConfig) -> list[s3.LifecycleRule]:
        return [
            s3.LifecycleRule(
                id="archive-then-expire",
                enabled=True,
                transitions=[
                    s3.Transition(
                        storage_class=s3.StorageClass.GLACIER,
                        transition_after=Duration.days(cfg.glacier_after_days),
                    )
                ],
                expiration=Duration.days(cfg.expire_after_days),
                noncurrent_version_expiration=Duration.days(30),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ]
