"""One stack per environment: ``IotAnomaly-<env>``.

A single stack keeps every reference inside one template (no cross-stack exports that lock the
stateful resources) while the constructs stay in one module each. Stateful resources are RETAINed
in production, so deleting or re-creating the stack never deletes data there.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack, Tags
from constructs import Construct

from .alerting import AlertTopics
from .catalog import ArchiveCatalog
from .config import DeploymentConfig
from .flink_app import FlinkApplication
from .ingestion import RawArchive, ReadingsStream
from .monitoring import Monitoring
from .nag import LAMBDA_BASIC_EXECUTION, acknowledge
from .security import EncryptionKey
from .storage import DataBuckets
from .timeseries import InfluxDbStore, TimestreamStore, no_store_sink

AWS_CUSTOM_RESOURCE_SINGLETON = "AWS679f53fac002430cb0da5b7982bd2287"  # fixed id in aws-cdk-lib


class IotAnomalyStack(Stack):
    def __init__(self, scope: Construct, cfg: DeploymentConfig) -> None:
        super().__init__(
            scope,
            cfg.stack_name,
            env=Environment(account=cfg.account, region=cfg.region),
            description=f"IoT anomaly detection pipeline ({cfg.env_name}): Kinesis, Firehose, S3, "
            f"{cfg.time_series_store}, SNS, Managed Flink, CloudWatch",
            termination_protection=cfg.is_production,
        )
        self.cfg = cfg
        Tags.of(self).add("project", "iot-anomaly")
        Tags.of(self).add("environment", cfg.env_name)

        self.encryption = EncryptionKey(self, "Encryption", cfg=cfg)
        key = self.encryption.key
        self.buckets = DataBuckets(self, "Storage", cfg=cfg, key=key)
        self.catalog = ArchiveCatalog(self, "Catalog", cfg=cfg, key=key, bucket=self.buckets.processed)
        self.readings = ReadingsStream(self, "Readings", cfg=cfg, key=key)
        self.raw_archive = RawArchive(
            self, "RawArchive", cfg=cfg, key=key, stream=self.readings.stream, bucket=self.buckets.raw
        )
        self.topics = AlertTopics(self, "Alerting", cfg=cfg, key=key)

        self.time_series: TimestreamStore | InfluxDbStore | None = None
        if cfg.time_series_store == "timestream":
            self.time_series = TimestreamStore(self, "Timestream", cfg=cfg, key=key)
            sink = self.time_series.sink()
        elif cfg.time_series_store == "influxdb":
            self.time_series = InfluxDbStore(
                self, "InfluxDb", cfg=cfg, key=key, log_bucket=self.buckets.access_logs
            )
            sink = self.time_series.sink()
        else:
            sink = no_store_sink()

        self.flink = FlinkApplication(
            self,
            "Flink",
            cfg=cfg,
            key=key,
            stream=self.readings.stream,
            processed_bucket=self.buckets.processed,
            alerts_topic=self.topics.alerts,
            sink=sink,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            cfg=cfg,
            stream=self.readings.stream,
            application_name=self.flink.application_name,
            delivery_stream_name=self.raw_archive.delivery_stream_name,
            operations_topic=self.topics.operations,
            rotation_function=(
                self.time_series.token.rotation_function
                if isinstance(self.time_series, InfluxDbStore)
                else None
            ),
        )
        if cfg.studio:  # -c studio=true: the optional Studio notebook for notebooks/
            from .studio import StudioNotebook

            self.studio = StudioNotebook(
                self,
                "Studio",
                cfg=cfg,
                key=key,
                stream=self.readings.stream,
                processed_bucket=self.buckets.processed,
                timestream=self.time_series if isinstance(self.time_series, TimestreamStore) else None,
            )
        self._acknowledge_cdk_provided_functions()

        CfnOutput(self, "StreamName", value=self.readings.stream.stream_name)
        CfnOutput(self, "RawBucketName", value=self.buckets.raw.bucket_name)
        CfnOutput(self, "ProcessedBucketName", value=self.buckets.processed.bucket_name)
        CfnOutput(self, "AlertsTopicArn", value=self.topics.alerts.topic_arn)
        CfnOutput(self, "OperationsTopicArn", value=self.topics.operations.topic_arn)

    def _acknowledge_cdk_provided_functions(self) -> None:
        """The AwsCustomResource singleton Lambda that aws-cdk-lib adds for StartApplication."""
        singleton = self.node.try_find_child(AWS_CUSTOM_RESOURCE_SINGLETON)
        if singleton is not None:
            acknowledge(
                singleton,
                LAMBDA_BASIC_EXECUTION,
                "aws-cdk-lib's AwsCustomResource provider role (not configurable) uses the AWS managed "
                "AWSLambdaBasicExecutionRole for its own CloudWatch Logs only; its single inline "
                "statement allows kinesisanalytics:StartApplication on this application's ARN.",
            )
