"""CloudWatch dashboard and alarms (alarms notify the operations topic)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from .config import DeploymentConfig
from .flink_app import METRICS_NAMESPACE

MSF_NAMESPACE = "AWS/KinesisAnalytics"
FIREHOSE_NAMESPACE = "AWS/Firehose"
ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)
SEVERITIES = ("warning", "critical")


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DeploymentConfig,
        stream: kinesis.IStream,
        application_name: str,
        delivery_stream_name: str,
        operations_topic: sns.ITopic,
        rotation_function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.cfg = cfg

        def flink(metric: str, statistic: str = "Maximum", period: Duration = ONE_MINUTE) -> cw.Metric:
            return cw.Metric(
                namespace=MSF_NAMESPACE,
                metric_name=metric,
                statistic=statistic,
                period=period,
                dimensions_map={"Application": application_name},
            )

        def flink_increase(metric: str, name: str, label: str) -> cw.MathExpression:
            """How much a cumulative Flink counter grew within five minutes (``name``: its expression id)."""
            return cw.MathExpression(
                expression=f"DIFF({name})",
                using_metrics={name: flink(metric)},
                period=FIVE_MINUTES,
                label=label,
            )

        def firehose(metric: str, statistic: str = "Sum") -> cw.Metric:
            return cw.Metric(
                namespace=FIREHOSE_NAMESPACE,
                metric_name=metric,
                statistic=statistic,
                period=FIVE_MINUTES,
                dimensions_map={"DeliveryStreamName": delivery_stream_name},
            )

        incoming_records = stream.metric_incoming_records(statistic="Sum", period=ONE_MINUTE)
        incoming_bytes = stream.metric_incoming_bytes(statistic="Sum", period=ONE_MINUTE)
        write_throttles = stream.metric_write_provisioned_throughput_exceeded(
            statistic="Sum", period=ONE_MINUTE
        )
        read_throttles = stream.metric_read_provisioned_throughput_exceeded(
            statistic="Sum", period=ONE_MINUTE
        )
        iterator_age = stream.metric_get_records_iterator_age_milliseconds(
            statistic="Maximum", period=ONE_MINUTE
        )
        anomalies = {
            severity: cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="AnomaliesDetected",
                dimensions_map={"Severity": severity},
                statistic="Sum",
                period=ONE_MINUTE,
                label=f"anomalies ({severity})",
            )
            for severity in SEVERITIES
        }

        # ------------------------------------------------------------ alarms
        self.alarms: dict[str, cw.Alarm] = {}
        self._alarm(
            "KinesisWriteThrottles",
            write_throttles,
            0,
            3,
            "Producers are throttled by the readings stream",
            cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        self._alarm(
            "KinesisReadThrottles",
            read_throttles,
            0,
            3,
            "Consumers (Flink, Firehose) are throttled",
            cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        self._alarm(
            "KinesisIteratorAge",
            iterator_age,
            cfg.iterator_age_alarm_ms,
            5,
            "Oldest unread record in the readings stream is too old (consumers fall behind)",
            cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        self._alarm(
            "FlinkDowntime",
            flink("downtime"),
            0,
            3,
            "The Flink job is failing/restarting (downtime > 0)",
            cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        self._alarm(
            "FlinkCheckpointFailures",
            flink_increase("numberOfFailedCheckpoints", "failed", "new failed checkpoints"),
            0,
            1,
            "Flink checkpoints failed in the last 5 minutes",
            cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        self._alarm(
            "FlinkRestarts",
            # Flink 2.x publishes no fullRestarts (removed); numRestarts counts every restart
            flink_increase("numRestarts", "restarts", "new restarts"),
            0,
            1,
            "The Flink job restarted after an error",
            cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        self._alarm(
            "FirehoseDeliveryErrors",
            firehose("DeliveryToS3.Success", "Minimum"),
            1,
            3,
            "Firehose failed to deliver raw data to S3",
            cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        )
        self._alarm(
            "SecretRotationErrors",
            rotation_function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            0,
            1,
            "The API-credentials rotation Lambda failed",
            cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        for alarm in self.alarms.values():
            alarm.add_alarm_action(cw_actions.SnsAction(operations_topic))
            alarm.add_ok_action(cw_actions.SnsAction(operations_topic))

        # ------------------------------------------------------------ dashboard
        self.dashboard = cw.Dashboard(
            self, "Dashboard", dashboard_name=cfg.name("pipeline"), default_interval=Duration.hours(3)
        )

        def graph(
            title: str, left: list[cw.IMetric], right: list[cw.IMetric] | None = None
        ) -> cw.GraphWidget:
            return cw.GraphWidget(title=title, left=left, right=right or [], width=8, height=6)

        self.dashboard.add_widgets(
            graph("Kinesis incoming records / bytes", [incoming_records], [incoming_bytes]),
            graph("Kinesis throttles", [write_throttles, read_throttles]),
            graph("Kinesis iterator age (ms)", [iterator_age]),
        )
        self.dashboard.add_widgets(
            graph("Flink uptime / downtime (ms)", [flink("uptime")], [flink("downtime")]),
            graph(
                "Flink checkpoints",
                [flink("numberOfFailedCheckpoints"), flink("lastCheckpointDuration")],
                [flink("lastCheckpointSize")],
            ),
            graph(
                "Flink millisBehindLatest / KPUs", [flink("millisBehindLatest")], [flink("KPUs", "Average")]
            ),
        )
        self.dashboard.add_widgets(
            graph(
                "Firehose delivery to S3",
                [firehose("DeliveryToS3.Records"), firehose("DataReadFromKinesisStream.Records")],
                [firehose("DeliveryToS3.DataFreshness", "Maximum")],
            ),
            graph("Anomalies by severity", list(anomalies.values())),
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=8, height=6),
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cw.IMetric,
        threshold: float,
        periods: int,
        description: str,
        comparison: cw.ComparisonOperator,
    ) -> None:
        self.alarms[construct_id] = cw.Alarm(
            self,
            construct_id,
            alarm_name=f"{self.cfg.name(construct_id)}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=comparison,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
