"""Optional MSF Studio notebook (``-c studio=true``, off by default) for the notes in ``notebooks/``.

An ``INTERACTIVE`` application on ``ZEPPELIN-FLINK-3_0`` (Flink 1.15, Python 3.8: the only Studio
runtime), with a Glue database as its catalog (tables created in a note persist there and are shared
between notes), the Flink 1.15 Kinesis SQL connector as a custom artifact (applications created
through the API get no connector by default), a CloudWatch log stream, and a role that may only read:
the readings stream, ``raw/``, ``anomalies/`` and ``notebooks/`` of the processed archive, the Timestream
tables (Select) and its own Glue database. CloudFormation creates it stopped; start it from the console
(Open in Apache Zeppelin) or with the ``StudioStartCommand`` output, and stop it when done: a running
Studio notebook bills its KPUs.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisanalyticsv2 as msf
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .config import DeploymentConfig
from .grants import MsfLogging, msf_service_role, read_stream
from .nag import acknowledge, arn_of, iam5_resource
from .security import removal_policy
from .timeseries import TimestreamStore

RUNTIME = "ZEPPELIN-FLINK-3_0"
# Flink 1.15's Kinesis SQL connector (built-in 'connector' = 'kinesis'); no Scala suffix from 1.15 on.
KINESIS_CONNECTOR = ("org.apache.flink", "flink-sql-connector-kinesis", "1.15.4")
ARCHIVE_PREFIXES = ("raw/", "anomalies/", "notebooks/")  # notebooks/: labels and flink_job.zip
STUDIO_PARALLELISM = 2


class StudioNotebook(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DeploymentConfig,
        key: kms.IKey,
        stream: kinesis.IStream,
        processed_bucket: s3.IBucket,
        timestream: TimestreamStore | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.application_name = cfg.name("studio")
        self.database_name = cfg.underscored("studio")
        self.database = glue.CfnDatabase(
            self,
            "Catalog",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="Flink SQL tables of the IoT anomaly Studio notebooks (Kinesis, S3 archive)",
            ),
        )
        self.database.apply_removal_policy(removal_policy(cfg))
        glue_arn = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        database_arn = f"{glue_arn}:database/{self.database_name}"

        self.logging = MsfLogging.create(self, self.application_name, "studio", key=key, cfg=cfg)
        self.log_group, self.log_stream = self.logging.log_group, self.logging.log_stream

        self.role = msf_service_role(
            self,
            self.application_name,
            "Studio notebook role: read-only on the stream, archive and time-series store",
        )
        statements = [
            read_stream("StudioReadReadingsStream", stream),
            iam.PolicyStatement(
                sid="StudioDecrypt",  # the stream, the archive objects (SSE-KMS) and Timestream use the CMK
                actions=["kms:Decrypt"],
                resources=[key.key_arn],
            ),
            iam.PolicyStatement(
                sid="StudioListArchive",
                actions=["s3:ListBucket"],
                resources=[processed_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in ARCHIVE_PREFIXES]}},
            ),
            iam.PolicyStatement(
                sid="StudioReadArchive",
                actions=["s3:GetObject"],
                resources=[processed_bucket.arn_for_objects(f"{p}*") for p in ARCHIVE_PREFIXES],
            ),
            iam.PolicyStatement(
                sid="StudioGlueCatalog",
                actions=[
                    "glue:GetDatabase",
                    "glue:GetDatabases",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:CreateTable",
                    "glue:UpdateTable",
                    "glue:DeleteTable",
                    "glue:GetPartitions",
                    "glue:GetUserDefinedFunction",
                    "glue:GetUserDefinedFunctions",
                ],
                resources=[
                    f"{glue_arn}:catalog",
                    database_arn,
                    f"{glue_arn}:table/{self.database_name}/*",
                    f"{glue_arn}:userDefinedFunction/{self.database_name}/*",
                ],
            ),
            *self.logging.statements(sid_prefix="Studio", write_sid="StudioWriteLogs"),
        ]
        if timestream is not None:
            statements += [
                iam.PolicyStatement(
                    sid="StudioQueryTimestream",
                    actions=["timestream:Select"],
                    resources=[t.attr_arn for t in timestream.tables.values()],
                ),
                iam.PolicyStatement(
                    sid="StudioTimestreamEndpoints",
                    actions=["timestream:DescribeEndpoints"],
                    resources=["*"],
                ),
            ]
        self.policy = iam.Policy(self, "Policy", statements=statements)
        self.policy.attach_to_role(self.role)
        self._acknowledge(processed_bucket, timestream is not None)

        group, artifact, version = KINESIS_CONNECTOR
        self.application = msf.CfnApplication(
            self,
            "Application",
            application_name=self.application_name,
            application_description=f"IoT anomaly Studio notebook (Zeppelin, Flink 1.15) - {cfg.env_name}",
            runtime_environment=RUNTIME,
            application_mode="INTERACTIVE",
            service_execution_role=self.role.role_arn,
            application_configuration=msf.CfnApplication.ApplicationConfigurationProperty(
                flink_application_configuration=msf.CfnApplication.FlinkApplicationConfigurationProperty(
                    parallelism_configuration=msf.CfnApplication.ParallelismConfigurationProperty(
                        configuration_type="CUSTOM",
                        parallelism=STUDIO_PARALLELISM,
                        parallelism_per_kpu=1,
                        auto_scaling_enabled=False,
                    ),
                ),
                zeppelin_application_configuration=msf.CfnApplication.ZeppelinApplicationConfigurationProperty(
                    catalog_configuration=msf.CfnApplication.CatalogConfigurationProperty(
                        glue_data_catalog_configuration=msf.CfnApplication.GlueDataCatalogConfigurationProperty(
                            database_arn=database_arn
                        )
                    ),
                    custom_artifacts_configuration=[
                        msf.CfnApplication.CustomArtifactConfigurationProperty(
                            artifact_type="DEPENDENCY_JAR",
                            maven_reference=msf.CfnApplication.MavenReferenceProperty(
                                group_id=group, artifact_id=artifact, version=version
                            ),
                        )
                    ],
                    monitoring_configuration=msf.CfnApplication.ZeppelinMonitoringConfigurationProperty(
                        log_level="INFO"
                    ),
                ),
            ),
        )
        self.application.add_resource_dependency(self.database)
        self.application.node.add_dependency(self.policy)
        self.logging_option = self.logging.attach(self, self.application)
        CfnOutput(self, "StudioName", value=self.application_name)
        CfnOutput(self, "StudioGlueDatabase", value=self.database_name)
        CfnOutput(
            self,
            "StudioStartCommand",
            value=f"aws kinesisanalyticsv2 start-application --region {cfg.region} "
            f"--application-name {self.application_name}",
            description="Starts the Studio notebook (stop it when done: it bills KPUs while running)",
        )

    def _acknowledge(self, processed_bucket: s3.IBucket, timestream: bool) -> None:
        for prefix in ARCHIVE_PREFIXES:
            acknowledge(
                self.policy,
                iam5_resource(f"{arn_of(processed_bucket)}/{prefix}*"),
                f"Read-only (s3:GetObject) on the archive's {prefix} prefix: the job writes part files under "
                "date/hour keys generated at runtime, so the notebook reads by prefix.",
            )
        db = self.database_name
        acknowledge(
            self.policy,
            iam5_resource(f"arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/{db}/*"),
            "Notebook users create and drop their own Flink SQL tables; limited to the Studio Glue database.",
        )
        acknowledge(
            self.policy,
            iam5_resource(f"arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:userDefinedFunction/{db}/*"),
            "Flink's Glue catalog lists functions of its database when it opens; read-only, one database.",
        )
        self.logging.acknowledge(self.policy, owner="the Studio notebook's")
        if timestream:
            acknowledge(
                self.policy,
                iam5_resource("*"),
                "timestream:DescribeEndpoints (endpoint discovery before any query) supports no "
                "resource-level permissions; queries themselves are limited to the two tables.",
            )
