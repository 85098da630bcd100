"""IAM statements, the MSF service role and MSF logging, shared by several constructs of the app.

The helpers create their constructs in the caller's scope under the ids the callers used before, so
logical ids (and the synthesized templates) do not depend on where the code lives.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisanalyticsv2 as msf
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from .config import DeploymentConfig
from .nag import acknowledge, iam5_resource, logical_id_of
from .security import encrypted_log_group, removal_policy

READ_STREAM_ACTIONS = [
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetShardIterator",
    "kinesis:GetRecords",
    "kinesis:ListShards",
]


def read_stream(sid: str, stream: kinesis.IStream) -> iam.PolicyStatement:
    """What a consumer (the Flink job, Firehose, the Studio notebook) needs to read the stream."""
    return iam.PolicyStatement(sid=sid, actions=READ_STREAM_ACTIONS, resources=[stream.stream_arn])


def use_data_key(key: kms.IKey) -> iam.PolicyStatement:
    """Decrypt and generate data keys with the CMK (encrypted stream, SSE-KMS writes, SNS, secrets)."""
    return iam.PolicyStatement(
        sid="UseDataKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]
    )


def log_group_arn(log_group_name: str) -> str:
    """ARN of a log group of this account and region (without the ``:*`` suffix)."""
    return f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{log_group_name}"


def msf_service_role(scope: Construct, role_name: str, description: str) -> iam.Role:
    """Service execution role of an MSF application (id ``Role``), assumable from this account only."""
    return iam.Role(
        scope,
        "Role",
        role_name=role_name,
        assumed_by=iam.ServicePrincipal(
            "kinesisanalytics.amazonaws.com",
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        ),
        description=description,
    )


@dataclass(frozen=True)
class MsfLogging:
    """The CloudWatch log group and stream of one MSF application, with what its role needs for them."""

    log_group: logs.LogGroup
    log_stream: logs.LogStream

    @classmethod
    def create(
        cls,
        scope: Construct,
        application_name: str,
        stream_name: str,
        *,
        key: kms.IKey,
        cfg: DeploymentConfig,
    ) -> MsfLogging:
        """Log group ``Logs`` (CMK-encrypted) and log stream ``LogStream`` in ``scope``."""
        log_group = encrypted_log_group(
            scope, "Logs", f"/aws/kinesis-analytics/{application_name}", key=key, cfg=cfg
        )
        log_stream = logs.LogStream(
            scope,
            "LogStream",
            log_group=log_group,
            log_stream_name=stream_name,
            removal_policy=removal_policy(cfg),
        )
        return cls(log_group, log_stream)

    @property
    def log_group_arn(self) -> str:
        return log_group_arn(self.log_group.log_group_name)

    @property
    def log_stream_arn(self) -> str:
        return f"{self.log_group_arn}:log-stream:{self.log_stream.log_stream_name}"

    def statements(self, sid_prefix: str, write_sid: str) -> list[iam.PolicyStatement]:
        """What MSF checks and uses to write the application's logs to this stream."""
        return [
            iam.PolicyStatement(
                sid=f"{sid_prefix}DescribeLogGroups",
                actions=["logs:DescribeLogGroups"],
                resources=[log_group_arn("*")],
            ),
            iam.PolicyStatement(
                sid=f"{sid_prefix}DescribeLogStreams",
                actions=["logs:DescribeLogStreams"],
                resources=[f"{self.log_group_arn}:log-stream:*"],
            ),
            iam.PolicyStatement(
                sid=write_sid, actions=["logs:PutLogEvents"], resources=[self.log_stream_arn]
            ),
        ]

    def acknowledge(self, policy: iam.Policy, owner: str) -> None:
        """cdk-nag: the two wildcards of :meth:`statements` (``owner``: whose log group it is)."""
        acknowledge(
            policy,
            iam5_resource("arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*"),
            "logs:DescribeLogGroups can only be granted on log-group:* in this account and region (MSF "
            "calls it to validate the logging option); it reveals names only, no log data.",
        )
        acknowledge(
            policy,
            iam5_resource(
                "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                f"<{logical_id_of(self.log_group)}>:log-stream:*"
            ),
            f"logs:DescribeLogStreams on the streams of {owner} own log group only.",
        )

    def attach(
        self, scope: Construct, application: msf.CfnApplication
    ) -> msf.CfnApplicationCloudWatchLoggingOption:
        """The application's logging option (id ``Logging``), created after the application."""
        option = msf.CfnApplicationCloudWatchLoggingOption(
            scope,
            "Logging",
            application_name=application.ref,
            cloud_watch_logging_option=msf.CfnApplicationCloudWatchLoggingOption.CloudWatchLoggingOptionProperty(
                log_stream_arn=self.log_stream_arn
            ),
        )
        option.node.add_dependency(application)
        return option
