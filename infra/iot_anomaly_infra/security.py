"""Customer managed KMS key (rotation on) and the job's InfluxDB token secret (rotation on)."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy, SecretValue
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .config import DeploymentConfig
from .nag import acknowledge, iam5_resource

ROTATION_CODE_DIR = Path(__file__).resolve().parent / "lambdas" / "rotate_influxdb_token"


def removal_policy(cfg: DeploymentConfig) -> RemovalPolicy:
    """Production keeps data when the stack is deleted; other environments clean up."""
    return RemovalPolicy.RETAIN if cfg.is_production else RemovalPolicy.DESTROY


def encrypted_log_group(
    scope: Construct, construct_id: str, name: str, *, key: kms.IKey, cfg: DeploymentConfig
) -> logs.LogGroup:
    """A log group encrypted with the CMK, plus the key-policy grant CloudWatch Logs needs for it.

    (aws-cdk-lib's LogGroup does not add that grant; without it CreateLogGroup fails.)
    """
    log_group = logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        retention=logs.RetentionDays.THREE_MONTHS,
        encryption_key=key,
        removal_policy=removal_policy(cfg),
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{cfg.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnEquals": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{Aws.PARTITION}:logs:{cfg.region}:{Aws.ACCOUNT_ID}:log-group:{name}"
                    )
                }
            },
        )
    )
    return log_group


class EncryptionKey(Construct):
    """One customer managed key for every data store of one environment."""

    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{cfg.name('data')}",
            description=f"IoT anomaly pipeline data key ({cfg.env_name})",
            enable_key_rotation=True,
            rotation_period=Duration.days(365),
            removal_policy=removal_policy(cfg),
            pending_window=Duration.days(30 if cfg.is_production else 7),
        )
        # CloudWatch alarms publish to the KMS-encrypted SNS topics: the service needs the key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseKeyForEncryptedTopics",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means "this key"
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        # Managed Service for Apache Flink encrypts running/durable application state with the CMK
        # (ApplicationEncryptionConfiguration); MSF requires both service principals in the key policy.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowManagedFlinkApplicationStateEncryption",
                principals=[
                    iam.ServicePrincipal("kinesisanalytics.amazonaws.com"),
                    iam.ServicePrincipal("infrastructure.kinesisanalytics.amazonaws.com"),
                ],
                actions=[
                    "kms:DescribeKey",
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*",
                    "kms:CreateGrant",
                ],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )


class InfluxTokenSecret(Construct):
    """The InfluxDB API token the Flink job writes with, in Secrets Manager, rotated by a Lambda.

    The token is an InfluxDB authorization limited to read/write on the one bucket (the job never
    holds the admin credentials). Rotation (``lambdas/rotate_influxdb_token``) creates a new
    authorization in InfluxDB, activates it, tests it, makes it current and deletes the old one;
    the job reads the secret again on the 401 that follows, without a restart. The first rotation
    runs when the stack creates the schedule: until then the secret holds no token and the job's
    InfluxDB writer fails and restarts (the points wait in checkpointed state).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DeploymentConfig,
        key: kms.IKey,
        vpc: ec2.IVpc,
        db_security_group: ec2.SecurityGroup,
        influxdb_url: str,
        admin_secret_arn: str,
        organization: str,
        bucket: str,
        port: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=f"iot-anomaly/{cfg.env_name}/influxdb-token",
            description="InfluxDB API token of the Flink job (read/write on one bucket), rotated",
            encryption_key=key,
            # no token yet: the first rotation, right after creation, makes one (names only here)
            secret_string_value=SecretValue.unsafe_plain_text(
                json.dumps({"organization": organization, "bucket": bucket})
            ),
            removal_policy=removal_policy(cfg),
        )

        log_group = encrypted_log_group(
            self, "RotationLogs", f"/aws/lambda/{cfg.name('influxdb-token-rotation')}", key=key, cfg=cfg
        )
        role = iam.Role(
            self,
            "RotationRole",
            role_name=cfg.name("influxdb-token-rotation"),
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Rotation of the InfluxDB token secret",
        )
        log_group.grant_write(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadInfluxDbAdminCredentials",
                actions=["secretsmanager:GetSecretValue"],
                resources=[admin_secret_arn],
            )
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "RotationSecurityGroup",
            vpc=vpc,
            security_group_name=cfg.name("influxdb-token-rotation"),
            description="InfluxDB token rotation Lambda: InfluxDB API, Secrets Manager via NAT",
            allow_all_outbound=True,
        )
        db_security_group.add_ingress_rule(
            self.security_group, ec2.Port.tcp(port), "InfluxDB API from the token rotation"
        )
        self.rotation_function = lambda_.Function(
            self,
            "RotationFunction",
            function_name=cfg.name("influxdb-token-rotation"),
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(ROTATION_CODE_DIR)),
            timeout=Duration.seconds(60),
            memory_size=256,
            role=role,
            log_group=log_group,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.security_group],
            environment={"INFLUXDB_URL": influxdb_url, "ADMIN_SECRET_ARN": admin_secret_arn},
            description="Rotates the Flink job's InfluxDB API token",
        )
        # add_rotation_schedule grants the function read/write on this secret and the key, and lets
        # Secrets Manager invoke it; the invoke permission is then narrowed to this account and secret.
        self.secret.add_rotation_schedule(
            "Rotation",
            rotation_lambda=self.rotation_function,
            automatically_after=Duration.days(cfg.secret_rotation_days),
        )
        for child in self.rotation_function.node.children:
            if isinstance(child, lambda_.CfnPermission) and "secretsmanager" in str(child.principal):
                child.source_account = Aws.ACCOUNT_ID
                child.source_arn = self.secret.secret_arn
        acknowledge(
            role,
            iam5_resource("*"),
            "secretsmanager:GetRandomPassword (added by add_rotation_schedule) and the ENI actions of a "
            "Lambda in a VPC are not resource-scoped (the Service Authorization Reference lists no "
            "resource type for them).",
        )
