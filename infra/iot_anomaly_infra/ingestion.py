"""Kinesis data stream (CMK-encrypted) and the Firehose that archives it raw to S3.

Firehose reads the stream independently of the Flink job, so raw data keeps landing in the raw
bucket while the job is stopped, failing or being redeployed.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .config import DeploymentConfig
from .grants import log_group_arn, read_stream, use_data_key
from .nag import acknowledge, arn_of, iam5_resource
from .security import encrypted_log_group, removal_policy

RAW_PREFIX = "raw/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"
ERROR_PREFIX = (
    "errors/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
)


class ReadingsStream(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeploymentConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        on_demand = cfg.stream_mode == "on_demand"
        self.stream = kinesis.Stream(
            self,
            "Stream",
            stream_name=cfg.name("readings"),
            stream_mode=kinesis.StreamMode.ON_DEMAND if on_demand else kinesis.StreamMode.PROVISIONED,
            shard_count=None if on_demand else cfg.effective_shard_count,
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=key,
            retention_period=Duration.hours(cfg.stream_retention_hours),
            removal_policy=removal_policy(cfg),
        )
        acknowledge(
            self.stream,
            "AwsSolutions-KDS3",
            "The issue requires the customer managed key on every data store (key policy control, "
            "rotation, CloudTrail audit per key); the extra KMS cost is bounded by one key per "
            "environment and is accepted.",
        )


class RawArchive(Construct):
    """Firehose: stream -> raw bucket, GZIP, partitioned by arrival date (UTC), SSE-KMS."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DeploymentConfig,
        key: kms.IKey,
        stream: kinesis.IStream,
        bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.delivery_stream_name = cfg.name("raw-archive")
        self.log_group = encrypted_log_group(
            self, "Logs", f"/aws/kinesisfirehose/{self.delivery_stream_name}", key=key, cfg=cfg
        )
        log_stream = logs.LogStream(
            self, "S3Delivery", log_group=self.log_group, log_stream_name="S3Delivery"
        )

        self.role = iam.Role(
            self,
            "Role",
            role_name=cfg.name("raw-archive"),
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com", conditions={"StringEquals": {"sts:ExternalId": Aws.ACCOUNT_ID}}
            ),
            description="Firehose raw archive: read the readings stream, write the raw bucket",
        )
        policy = iam.Policy(
            self,
            "Policy",
            statements=[
                read_stream("ReadReadingsStream", stream),
                iam.PolicyStatement(
                    sid="ListRawBucket",
                    actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                    resources=[bucket.bucket_arn],
                ),
                iam.PolicyStatement(
                    sid="WriteRawObjects",
                    actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                    resources=[bucket.arn_for_objects("*")],
                ),
                use_data_key(key),
                iam.PolicyStatement(
                    sid="WriteDeliveryLogs",
                    actions=["logs:PutLogEvents"],
                    resources=[
                        f"{log_group_arn(self.log_group.log_group_name)}:log-stream:{log_stream.log_stream_name}"
                    ],
                ),
            ],
        )
        policy.attach_to_role(self.role)
        acknowledge(
            policy,
            iam5_resource(f"{arn_of(bucket)}/*"),
            "Firehose writes objects under date-partitioned keys it generates at delivery time; the "
            "grant is limited to objects of the single raw bucket.",
        )

        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_name=self.delivery_stream_name,
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=stream.stream_arn, role_arn=self.role.role_arn
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=bucket.bucket_arn,
                role_arn=self.role.role_arn,
                prefix=RAW_PREFIX,
                error_output_prefix=ERROR_PREFIX,
                compression_format="GZIP",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=300, size_in_m_bs=64
                ),
                encryption_configuration=firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
                    kms_encryption_config=firehose.CfnDeliveryStream.KMSEncryptionConfigProperty(
                        awskms_key_arn=key.key_arn
                    )
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=self.log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
            ),
        )
        # Firehose validates its role when the stream is created: the policy must exist first.
        self.delivery_stream.node.add_dependency(policy)
        acknowledge(
            self.delivery_stream,
            "AwsSolutions-KDF1",
            "Firehose server-side encryption cannot be enabled for a KinesisStreamAsSource delivery "
            "stream; the source stream is encrypted with the customer key and the S3 destination "
            "uses SSE-KMS with the same key (EncryptionConfiguration above).",
        )
