"""Time-series store, chosen with context ``timeSeriesStore``:

* ``timestream`` - Timestream for LiveAnalytics (database + readings/anomalies tables, CMK).
  Closed to new AWS customers since 2025-06-20; accounts that already use it keep it.
* ``influxdb``   - Timestream for InfluxDB (one CfnInfluxDBInstance in private subnets of a VPC).
* ``none``       - no time-series store (raw + processed S3 archives only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Aws
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_timestream as timestream
from constructs import Construct

from .config import DeploymentConfig
from .nag import acknowledge
from .security import InfluxTokenSecret, encrypted_log_group, removal_policy

READINGS_TABLE = "readings"
ANOMALIES_TABLE = "anomalies"
MEMORY_STORE_HOURS = 24
MAGNETIC_STORE_DAYS = 365
INFLUXDB_PORT = 8086
ORGANIZATION, BUCKET = "iot-anomaly", "readings"


@dataclass
class TimeSeriesSink:
    """What the Flink job needs to know (properties) and be allowed (IAM) for the chosen store."""

    store: str
    properties: dict[str, str] = field(default_factory=dict)
    statements: list[iam.PolicyStatement] = field(default_factory=list)
    vpc: ec2.IVpc | None = None
    client_security_group: ec2.ISecurityGroup | None = None


class TimestreamStore(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeploymentConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        policy = removal_policy(cfg)
        self.database_name = cfg.underscored("db")
        self.database = timestream.CfnDatabase(
            self, "Database", database_name=self.database_name, kms_key_id=key.key_arn
        )
        self.database.apply_removal_policy(policy)
        self.tables: dict[str, timestream.CfnTable] = {}
        for table_name in (READINGS_TABLE, ANOMALIES_TABLE):
            table = timestream.CfnTable(
                self,
                table_name.capitalize(),
                database_name=self.database_name,
                table_name=table_name,
                retention_properties={
                    "MemoryStoreRetentionPeriodInHours": str(MEMORY_STORE_HOURS),
                    "MagneticStoreRetentionPeriodInDays": str(MAGNETIC_STORE_DAYS),
                },
            )
            table.node.add_dependency(self.database)
            table.apply_removal_policy(policy)
            self.tables[table_name] = table
        for resource in (self.database, *self.tables.values()):
            acknowledge(
                resource,
                "CloudFormation-Validate::W3697",
                "Timestream for LiveAnalytics is in maintenance mode (closed to new customers since "
                "2025-06-20); it stays selectable for accounts that already use it. New accounts use "
                "-c timeSeriesStore=influxdb.",
            )

    def sink(self) -> TimeSeriesSink:
        return TimeSeriesSink(
            store="timestream",
            properties={
                "timestream.database": self.database_name,
                "timestream.readings_table": READINGS_TABLE,
                "timestream.anomalies_table": ANOMALIES_TABLE,
            },
            statements=[
                iam.PolicyStatement(
                    sid="WriteTimestreamTables",
                    actions=["timestream:WriteRecords", "timestream:DescribeTable"],
                    resources=[t.attr_arn for t in self.tables.values()],
                ),
                iam.PolicyStatement(
                    sid="DiscoverTimestreamEndpoints",
                    actions=["timestream:DescribeEndpoints"],
                    resources=["*"],
                ),
            ],
        )


class InfluxDbStore(Construct):
    """Timestream for InfluxDB in isolated subnets; only the Flink job and the token rotation connect."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DeploymentConfig,
        key: kms.IKey,
        log_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=cfg.name("vpc"),
            max_azs=2,
            nat_gateways=cfg.vpc_nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                # Flink ENIs: egress via NAT to Kinesis, SNS, CloudWatch, Secrets Manager, Timestream APIs.
                ec2.SubnetConfiguration(
                    name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
                ec2.SubnetConfiguration(
                    name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
        )
        flow_logs = encrypted_log_group(
            self, "FlowLogs", f"/iot-anomaly/{cfg.env_name}/vpc-flow-logs", key=key, cfg=cfg
        )
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))

        self.client_security_group = ec2.SecurityGroup(
            self,
            "FlinkSecurityGroup",
            vpc=self.vpc,
            security_group_name=cfg.name("flink"),
            description="Managed Flink ENIs (InfluxDB client)",
            allow_all_outbound=True,
        )
        self.db_security_group = ec2.SecurityGroup(
            self,
            "InfluxDbSecurityGroup",
            vpc=self.vpc,
            security_group_name=cfg.name("influxdb"),
            description="Timestream for InfluxDB: HTTPS API from the Flink job and token rotation",
            allow_all_outbound=False,
        )
        self.db_security_group.add_ingress_rule(
            self.client_security_group, ec2.Port.tcp(INFLUXDB_PORT), "InfluxDB API from Flink"
        )

        # Initial admin password: generated in Secrets Manager, passed as a dynamic reference so it
        # never appears in the template. InfluxDB stores the operator token in its own secret.
        self.admin_secret = secretsmanager.Secret(
            self,
            "AdminSecret",
            secret_name=f"iot-anomaly/{cfg.env_name}/influxdb-admin",
            description="Initial InfluxDB admin password (bootstrap only; the job has its own token)",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template='{"username": "iotadmin"}',
                generate_string_key="password",
                exclude_punctuation=True,
                password_length=32,
            ),
            removal_policy=removal_policy(cfg),
        )
        acknowledge(
            self.admin_secret,
            "AwsSolutions-SMG4",
            "Bootstrap-only copy of the initial InfluxDB admin password (CreateDbInstance requires one). "
            "Rotating this secret would not change the password inside InfluxDB; the service keeps the "
            "live admin credentials in its own secret, which only the token rotation reads; the job "
            "writes with its own token, which is rotated (InfluxTokenSecret).",
        )

        isolated = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids
        self.instance = timestream.CfnInfluxDBInstance(
            self,
            "Instance",
            name=cfg.name("influxdb"),
            db_instance_type=cfg.influxdb_instance_type,
            db_storage_type="InfluxIOIncludedT1",
            allocated_storage=cfg.influxdb_storage_gb,
            deployment_type="WITH_MULTIAZ_STANDBY" if cfg.is_production else "SINGLE_AZ",
            publicly_accessible=False,
            vpc_subnet_ids=isolated,
            vpc_security_group_ids=[self.db_security_group.security_group_id],
            port=INFLUXDB_PORT,
            organization=ORGANIZATION,
            bucket=BUCKET,
            username="iotadmin",
            password=self.admin_secret.secret_value_from_json("password").unsafe_unwrap(),
            log_delivery_configuration=timestream.CfnInfluxDBInstance.LogDeliveryConfigurationProperty(
                s3_configuration=timestream.CfnInfluxDBInstance.S3ConfigurationProperty(
                    bucket_name=log_bucket.bucket_name, enabled=True
                )
            ),
        )
        self.instance.apply_removal_policy(removal_policy(cfg))
        self.endpoint_url = f"https://{self.instance.attr_endpoint}:{INFLUXDB_PORT}"
        self.token = InfluxTokenSecret(
            self,
            "Token",
            cfg=cfg,
            key=key,
            vpc=self.vpc,
            db_security_group=self.db_security_group,
            influxdb_url=self.endpoint_url,
            admin_secret_arn=self.instance.attr_influx_auth_parameters_secret_arn,
            organization=ORGANIZATION,
            bucket=BUCKET,
            port=INFLUXDB_PORT,
        )
        # InfluxDB engine logs go to the (SSE-S3) log bucket; the service needs a bucket-policy grant.
        log_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowTimestreamInfluxDbEngineLogs",
                principals=[iam.ServicePrincipal("timestream-influxdb.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[log_bucket.arn_for_objects("*")],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )

    def sink(self) -> TimeSeriesSink:
        return TimeSeriesSink(
            store="influxdb",
            properties={
                "influxdb.endpoint": self.endpoint_url,
                "influxdb.organization": ORGANIZATION,
                "influxdb.bucket": BUCKET,
                "influxdb.auth_secret_arn": self.token.secret.secret_arn,
            },
            statements=[
                iam.PolicyStatement(
                    sid="ReadInfluxDbToken",
                    actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    resources=[self.token.secret.secret_arn],
                )
            ],
            vpc=self.vpc,
            client_security_group=self.client_security_group,
        )


def no_store_sink() -> TimeSeriesSink:
    return TimeSeriesSink(store="none")
