"""Customer managed KMS key (rotation on) and the API-credentials secret (rotation on)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .config import DeploymentConfig
from .nag import acknowledge, iam5_resource

ROTATION_CODE_DIR = Path(__file__).resolve().parent / "lambdas" / "rotate_api_credentials"


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


class ApiCredentials(Construct):
    """Secrets Manager secret for the job's external API credentials, rotated by a Lambda.

    The rotation function implements the standard four steps; ``set_secret`` is the single place
    where the upstream API's "change credential" call belongs (see the function's docstring).
    """

    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeploymentConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=f"iot-anomaly/{cfg.env_name}/api-credentials",
            description="Credentials the Flink job uses for external APIs",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template='{"username": "iot-anomaly"}',
                generate_string_key="password",
                exclude_punctuation=True,
                password_length=40,
            ),
            removal_policy=removal_policy(cfg),
        )

        log_group = encrypted_log_group(
            self, "RotationLogs", f"/aws/lambda/{cfg.name('secret-rotation')}", key=key, cfg=cfg
        )
        role = iam.Role(
            self,
            "RotationRole",
            role_name=cfg.name("secret-rotation"),
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Rotation of the API-credentials secret (no managed policies)",
        )
        log_group.grant_write(role)
        self.rotation_function = lambda_.Function(
            self,
            "RotationFunction",
            function_name=cfg.name("secret-rotation"),
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(ROTATION_CODE_DIR)),
            timeout=Duration.seconds(30),
            memory_size=256,
            role=role,
            log_group=log_group,
            environment={"SECRETS_MANAGER_ENDPOINT": f"https://secretsmanager.{cfg.region}.amazonaws.com"},
            description="Rotates the IoT anomaly API credentials",
        )
        # add_rotation_schedule grants the function read/write on this secret and the key, and lets
        # Secrets Manager invoke it.
        self.secret.add_rotation_schedule(
            "Rotation",
            rotation_lambda=self.rotation_function,
            automatically_after=Duration.days(cfg.secret_rotation_days),
        )
        # add_rotation_schedule also adds secretsmanager:GetRandomPassword on "*".
        acknowledge(
            role,
            iam5_resource("*"),
            "secretsmanager:GetRandomPassword is not resource-scoped (the Service Authorization "
            "Reference lists no resource type for it); it only returns random bytes.",
        )
