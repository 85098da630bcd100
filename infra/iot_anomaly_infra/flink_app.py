"""Managed Service for Apache Flink application (runtime FLINK-2_2) running the PyFlink job.

CloudFormation creates MSF applications in the READY (stopped) state. ``StartApplication`` below
(an AwsCustomResource, on create only) starts it after the first deployment; later deployments
update a running application in place (MSF snapshots and restarts it). Operators can also start it
by hand with the command in the stack output ``StartCommand``.
"""

from __future__ import annotations

import sys

from aws_cdk import Annotations, Aws, CfnOutput
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisanalyticsv2 as msf
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import custom_resources as cr
from constructs import Construct

from flink_job.core.schema import RUN_OPTIONS_GROUP, property_groups

from .config import PLACEHOLDER_APP_DIR, DeploymentConfig
from .grants import MsfLogging, msf_service_role, read_stream, use_data_key
from .nag import acknowledge, arn_of, iam5_resource
from .timeseries import TimeSeriesSink

RUNTIME = "FLINK-2_2"
ENTRY_SCRIPT = "main.py"
JAR_FILE = "lib/pyflink-dependencies.jar"
PY_FILES = "python_deps/"
METRICS_NAMESPACE = "IotAnomaly"


def application_code(scope: Construct, cfg: DeploymentConfig) -> tuple[s3_assets.Asset, bool]:
    """The zip built by ``make package``; a placeholder directory asset when it does not exist yet."""
    zip_path = cfg.resolved_app_zip()
    if zip_path.is_file():
        return s3_assets.Asset(scope, "Code", path=str(zip_path)), True
    message = (
        f"{zip_path} not found: the Flink application uses the placeholder code in {PLACEHOLDER_APP_DIR} "
        "and is not started. Run `make package` (or pass -c appZip=...) before deploying."
    )
    Annotations.of(scope).add_warning_v2("iot-anomaly:placeholder-code", message)
    print(f"WARNING: {message}", file=sys.stderr)
    return s3_assets.Asset(scope, "PlaceholderCode", path=str(PLACEHOLDER_APP_DIR)), False


class FlinkApplication(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DeploymentConfig,
        key: kms.IKey,
        stream: kinesis.IStream,
        processed_bucket: s3.IBucket,
        alerts_topic: sns.ITopic,
        sink: TimeSeriesSink,
    ) -> None:
        super().__init__(scope, construct_id)
        self.application_name = cfg.name("flink")
        self.code, self.uses_real_code = application_code(self, cfg)

        self.logging = MsfLogging.create(self, self.application_name, "application", key=key, cfg=cfg)
        self.log_group, self.log_stream = self.logging.log_group, self.logging.log_stream

        self.role = msf_service_role(
            self,
            self.application_name,
            "Service execution role of the IoT anomaly Flink job (least privilege)",
        )
        statements = [
            iam.PolicyStatement(
                sid="ReadApplicationCode",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.code.bucket.arn_for_objects(self.code.s3_object_key)],
            ),
            read_stream("ReadReadingsStream", stream),
            use_data_key(key),  # stream decrypt, S3 SSE-KMS writes, encrypted SNS, secret decrypt
            iam.PolicyStatement(
                sid="ListProcessedBucket",
                actions=["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                resources=[processed_bucket.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="WriteProcessedArchive",  # Flink FileSink: multipart uploads + commit of part files
                actions=[
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                resources=[processed_bucket.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="PublishAnomalyAlerts",
                actions=["sns:Publish"],
                resources=[alerts_topic.topic_arn],
            ),
            iam.PolicyStatement(
                sid="PublishCustomMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            ),
            *self.logging.statements(sid_prefix="", write_sid="WriteApplicationLogs"),
            *sink.statements,
        ]
        vpc_configurations = None
        if sink.vpc is not None and sink.client_security_group is not None:
            subnets = sink.vpc.select_subnets(subnet_group_name="app").subnet_ids
            vpc_configurations = [
                msf.CfnApplication.VpcConfigurationProperty(
                    subnet_ids=subnets, security_group_ids=[sink.client_security_group.security_group_id]
                )
            ]
            statements += [
                iam.PolicyStatement(
                    sid="DescribeVpcForEnis",
                    actions=[
                        "ec2:DescribeVpcs",
                        "ec2:DescribeSubnets",
                        "ec2:DescribeSecurityGroups",
                        "ec2:DescribeDhcpOptions",
                        "ec2:DescribeNetworkInterfaces",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="ManageApplicationEnis",
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:CreateNetworkInterfacePermission",
                        "ec2:DeleteNetworkInterface",
                    ],
                    resources=[
                        f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:network-interface/*",
                        *(
                            f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:subnet/{s}"
                            for s in subnets
                        ),
                        f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:security-group/"
                        f"{sink.client_security_group.security_group_id}",
                    ],
                ),
            ]
        self.policy = iam.Policy(self, "Policy", statements=statements)
        self.policy.attach_to_role(self.role)
        self._acknowledge_policy(processed_bucket, bool(vpc_configurations), sink.store == "timestream")

        self.application = msf.CfnApplication(
            self,
            "Application",
            application_name=self.application_name,
            application_description=f"IoT anomaly detection (PyFlink) - {cfg.env_name}",
            runtime_environment=RUNTIME,
            application_mode="STREAMING",
            service_execution_role=self.role.role_arn,
            application_configuration=msf.CfnApplication.ApplicationConfigurationProperty(
                application_code_configuration=msf.CfnApplication.ApplicationCodeConfigurationProperty(
                    code_content_type="ZIPFILE",
                    code_content=msf.CfnApplication.CodeContentProperty(
                        s3_content_location=msf.CfnApplication.S3ContentLocationProperty(
                            bucket_arn=self.code.bucket.bucket_arn, file_key=self.code.s3_object_key
                        )
                    ),
                ),
                environment_properties=msf.CfnApplication.EnvironmentPropertiesProperty(
                    property_groups=[
                        msf.CfnApplication.PropertyGroupProperty(property_group_id=group, property_map=values)
                        for group, values in self.property_groups(
                            cfg, stream, processed_bucket, alerts_topic, sink
                        ).items()
                    ]
                ),
                flink_application_configuration=msf.CfnApplication.FlinkApplicationConfigurationProperty(
                    checkpoint_configuration=msf.CfnApplication.CheckpointConfigurationProperty(
                        configuration_type="CUSTOM",
                        checkpointing_enabled=True,
                        checkpoint_interval=cfg.checkpoint_interval_ms,
                        min_pause_between_checkpoints=cfg.min_pause_between_checkpoints_ms,
                    ),
                    monitoring_configuration=msf.CfnApplication.MonitoringConfigurationProperty(
                        configuration_type="CUSTOM", log_level="INFO", metrics_level="APPLICATION"
                    ),
                    parallelism_configuration=msf.CfnApplication.ParallelismConfigurationProperty(
                        configuration_type="CUSTOM",
                        parallelism=cfg.parallelism,
                        parallelism_per_kpu=cfg.parallelism_per_kpu,
                        auto_scaling_enabled=True,
                    ),
                ),
                application_snapshot_configuration=msf.CfnApplication.ApplicationSnapshotConfigurationProperty(
                    snapshots_enabled=True
                ),
                application_system_rollback_configuration=(
                    msf.CfnApplication.ApplicationSystemRollbackConfigurationProperty(rollback_enabled=True)
                ),
                application_encryption_configuration=(
                    msf.CfnApplication.ApplicationEncryptionConfigurationProperty(
                        key_type="CUSTOMER_MANAGED_KEY", key_id=key.key_arn
                    )
                ),
                vpc_configurations=vpc_configurations,
            ),
        )
        # MSF checks the role's permissions when the application is created.
        self.application.node.add_dependency(self.policy)

        self.logging_option = self.logging.attach(self, self.application)

        start_cli = (
            f"aws kinesisanalyticsv2 start-application --region {cfg.region} --application-name "
            f"{self.application_name}"
        )
        CfnOutput(self, "StartCommand", value=start_cli, description="Starts the Flink job")
        CfnOutput(self, "ApplicationName", value=self.application_name)
        self.starter: cr.AwsCustomResource | None = None
        if cfg.start_application and self.uses_real_code:
            self._add_starter(cfg)

    # ------------------------------------------------------------------ properties
    @staticmethod
    def property_groups(
        cfg: DeploymentConfig,
        stream: kinesis.IStream,
        processed_bucket: s3.IBucket,
        alerts_topic: sns.ITopic,
        sink: TimeSeriesSink,
    ) -> dict[str, dict[str, str]]:
        sinks = {
            "timeseries.store": sink.store,
            "sns.alerts_topic_arn": alerts_topic.topic_arn,
            "cloudwatch.namespace": METRICS_NAMESPACE,
            "s3.archive_path": f"s3://{processed_bucket.bucket_name}/",
            "aws.region": cfg.region,
        }
        sinks.update(sink.properties)
        # every key checked against the job's own schema: a misspelt key fails synthesis, not the job
        return property_groups({
            RUN_OPTIONS_GROUP: {
                "python": ENTRY_SCRIPT,
                "jarfile": JAR_FILE,
                "pyFiles": PY_FILES,
            },
            "source": {
                "stream.arn": stream.stream_arn,
                "aws.region": cfg.region,
                "source.init.position": "LATEST",
                # the shard's 5 GetRecords/s are shared with Firehose (and Studio): see config.py
                "min_get_records_interval_ms": str(cfg.job_get_records_interval_ms),
            },
            "sinks": sinks,
            # Empty groups: the job's defaults apply; operators override keys here without a rebuild.
            "detection": {},
            "thresholds": {},
        })

    # ------------------------------------------------------------------ start after deploy
    def _add_starter(self, cfg: DeploymentConfig) -> None:
        app_arn = (
            f"arn:{Aws.PARTITION}:kinesisanalytics:{Aws.REGION}:{Aws.ACCOUNT_ID}:application/"
            f"{self.application_name}"
        )
        self.starter = cr.AwsCustomResource(
            self,
            "StartApplication",
            on_create=cr.AwsSdkCall(
                service="KinesisAnalyticsV2",
                action="startApplication",
                parameters={
                    "ApplicationName": self.application_name,
                    "RunConfiguration": {
                        "ApplicationRestoreConfiguration": {
                            "ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT"
                        }
                    },
                },
                physical_resource_id=cr.PhysicalResourceId.of(f"{self.application_name}-start"),
                # Already running (e.g. started by hand before a stack re-create): nothing to do.
                ignore_error_codes_matching="ResourceInUseException",
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["kinesisanalytics:StartApplication"], resources=[app_arn])]
            ),
            install_latest_aws_sdk=False,
        )
        self.starter.node.add_dependency(self.application, self.logging_option, self.policy)

    # ------------------------------------------------------------------ cdk-nag
    def _acknowledge_policy(self, processed_bucket: s3.IBucket, in_vpc: bool, timestream: bool) -> None:
        acknowledge(
            self.policy,
            iam5_resource(f"{arn_of(processed_bucket)}/*"),
            "The job's S3 file sink writes part files under keys it generates at runtime (date/hour "
            "partitions, in-progress and committed parts); the grant covers objects of one bucket only.",
        )
        acknowledge(
            self.policy,
            iam5_resource("*"),
            "Only cloudwatch:PutMetricData (limited to namespace IotAnomaly by the cloudwatch:namespace "
            "condition)"
            + (", timestream:DescribeEndpoints" if timestream else "")
            + (" and the ec2:Describe* calls MSF makes to place ENIs" if in_vpc else "")
            + " use Resource '*': these actions support no resource-level permissions.",
        )
        self.logging.acknowledge(self.policy, owner="the application's")
        if in_vpc:
            acknowledge(
                self.policy,
                iam5_resource("arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*"),
                "MSF creates and deletes its ENIs at start/scale time; their ids are unknown in advance. "
                "Creation is additionally limited to the app subnets and the Flink security group.",
            )
