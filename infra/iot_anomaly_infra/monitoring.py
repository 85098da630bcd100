"""CloudWatch dashboard and alarms (alarms notify the operations topic).

Every metric name the dashboard and the alarms use must be one that is really published:
``PUBLISHED_METRICS`` lists them per namespace with where each comes from, and
``tests/infra/test_metric_names.py`` checks every alarm and widget of the synthesized template against
it. An alarm on a name nobody publishes never fires (``fullRestarts`` after Flink 2.2 did exactly that).
"""

from __future__ import annotations

from typing import NamedTuple

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
KINESIS_NAMESPACE = "AWS/Kinesis"
FIREHOSE_NAMESPACE = "AWS/Firehose"
LAMBDA_NAMESPACE = "AWS/Lambda"
ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)
SEVERITIES = ("warning", "critical")

MSF_METRICS_DOC = "https://docs.aws.amazon.com/managed-flink/latest/java/metrics-dimensions.html"
KINESIS_METRICS_DOC = "https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html"
FIREHOSE_METRICS_DOC = "https://docs.aws.amazon.com/firehose/latest/dev/monitoring-with-cloudwatch-metrics.html"
LAMBDA_METRICS_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html"


class Published(NamedTuple):
    dimensions: frozenset[str]  # the dimension names the metric is published with
    source: str  # where the name comes from
    # True: published with exactly these dimensions, so a plain metric on them finds it. False: with these
    # and others the docs do not spell out, so it is read with a Metrics Insights query (WHERE on these).
    exact: bool = True


def _msf(note: str, *, exact: bool = True) -> Published:
    """An MSF metric at the Application level (dimension ``Application``), the level this stack's
    ``MetricsLevel=APPLICATION`` publishes."""
    return Published(frozenset({"Application"}), f"{note}; {MSF_METRICS_DOC}", exact)


_PART_OF_DOWNTIME = "replaces part of the deprecated downtime"

# The names published to CloudWatch that the dashboard and alarms may use, per namespace. MSF (Flink 2.2,
# MetricsLevel APPLICATION) publishes Application-level metrics with the single dimension Application.
PUBLISHED_METRICS: dict[str, dict[str, Published]] = {
    MSF_NAMESPACE: {
        # Level "Application, Flow": the Flow dimension's value is not documented -> Metrics Insights
        "runningTime": _msf("Application, Flow; Flink 2.2+, replaces the deprecated uptime", exact=False),
        "restartingTime": _msf(f"Application, Flow; Flink 2.2+, {_PART_OF_DOWNTIME}", exact=False),
        "failingTime": _msf(f"Application, Flow; Flink 2.2+, {_PART_OF_DOWNTIME}", exact=False),
        "cancellingTime": _msf(f"Application, Flow; Flink 2.2+, {_PART_OF_DOWNTIME}", exact=False),
        "numRestarts": _msf(
            "Application; not a row of the metrics table: its 'Flink 2.2 metric changes' / migration notes "
            "name it the direct replacement of the removed fullRestarts"
        ),
        "numberOfFailedCheckpoints": _msf("Application; cumulative count"),
        "lastCheckpointDuration": _msf("Application; milliseconds"),
        "lastCheckpointSize": _msf("Application; bytes"),
        "cpuUtilization": _msf("Application; one sample per TaskManager JVM"),
        "containerCPUUtilization": _msf("Application; whole TaskManager container"),
        "containerMemoryUtilization": _msf(
            "Application; whole TaskManager container (working set), so it includes the PyFlink Python "
            "worker processes, which no MSF metric reports on their own"
        ),
        "containerDiskUtilization": _msf("Application"),
        "heapMemoryUtilization": _msf("Application; TaskManager JVM heap only"),
        "oldGenerationGCCount": _msf("Application"),
        "oldGenerationGCTime": _msf("Application"),
        "threadsCount": _msf("Application"),
        "numRecordsIn": _msf("Application, Operator, Task, Parallelism; 4 snapshots a minute"),
        "numRecordsInPerSecond": _msf("Application, Operator, Task, Parallelism"),
        "numRecordsOut": _msf("Application, Operator, Task, Parallelism; 4 snapshots a minute"),
        "numRecordsOutPerSecond": _msf("Application, Operator, Task, Parallelism"),
        "numLateRecordsDropped": _msf("Application, Operator, Task, Parallelism"),
        "currentInputWatermark": _msf("Application, Operator, Task, Parallelism"),
        "currentOutputWatermark": _msf("Application, Operator, Task, Parallelism"),
        "KPUs": _msf("Application; one sample per hour"),
        # Application plus stream/shard dimensions the page does not spell out -> Metrics Insights
        "millisBehindLatest": _msf(
            "'Kinesis Data Streams connector metrics': Application (for Stream), Parallelism (for ShardId) "
            "(the table spells it millisbehindLatest, its note and the Flink connector millisBehindLatest); "
            "our own source registers the gauge millisBehindLatest per shard under the group MSF sends to "
            "CloudWatch (kinesisanalytics, then shardId) in "
            "connectors/java .../kinesis/KinesisShardSplitReader.java#handleSplitsChanges",
            exact=False,
        ),
    },
    KINESIS_NAMESPACE: {
        name: Published(frozenset({"StreamName"}), f"basic stream-level metric; {KINESIS_METRICS_DOC}")
        for name in (
            "IncomingRecords",
            "IncomingBytes",
            "WriteProvisionedThroughputExceeded",
            "ReadProvisionedThroughputExceeded",
            "GetRecords.IteratorAgeMilliseconds",
            "GetRecords.Records",
            "GetRecords.Bytes",
        )
    },
    FIREHOSE_NAMESPACE: {
        name: Published(frozenset({"DeliveryStreamName"}), f"delivery stream metric; {FIREHOSE_METRICS_DOC}")
        for name in (
            "DeliveryToS3.Success",
            "DeliveryToS3.Records",
            "DeliveryToS3.DataFreshness",
            "DataReadFromKinesisStream.Records",
        )
    },
    LAMBDA_NAMESPACE: {
        "Errors": Published(frozenset({"FunctionName"}), f"invocation metric; {LAMBDA_METRICS_DOC}"),
    },
    # Sent by the job itself: connectors/cloudwatch.py AnomalyMetrics (METRIC_NAME, dimension Severity
    # "warning"/"critical"), PutMetricData to the namespace flink_app.py passes as sinks cloudwatch.namespace
    METRICS_NAMESPACE: {
        "AnomaliesDetected": Published(
            frozenset({"Severity"}), "the job: connectors/cloudwatch.py AnomalyMetrics (PutMetricData)"
        ),
    },
}

# Names that Flink 2.2 on MSF no longer publishes (or is about to drop): an alarm on them stays silent.
DEPRECATED_METRICS: dict[str, dict[str, str]] = {
    MSF_NAMESPACE: {
        "fullRestarts": f"removed in Flink 2.2, use numRestarts; {MSF_METRICS_DOC}",
        "uptime": f"deprecated in Flink 2.2, use runningTime; {MSF_METRICS_DOC}",
        "downtime": f"deprecated in Flink 2.2, use restarting/cancelling/failingTime; {MSF_METRICS_DOC}",
        "bytesRequestedPerFetch": f"removed with the Kinesis connector 6.0.0 (Flink 2.2); {MSF_METRICS_DOC}",
    },
}


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
        rotation_function: lambda_.IFunction | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.cfg = cfg

        def flink(
            metric: str, statistic: str = "Maximum", period: Duration = ONE_MINUTE, label: str | None = None
        ) -> cw.Metric:
            """An Application-level MSF metric (published with the single dimension Application)."""
            return cw.Metric(
                namespace=MSF_NAMESPACE,
                metric_name=metric,
                statistic=statistic,
                period=period,
                dimensions_map={"Application": application_name},
                label=label,
            )

        def flink_max(metric: str, label: str) -> cw.MathExpression:
            """The highest value of an MSF metric over every series of this application, whatever other
            dimensions MSF adds (Flow, stream, shard): a Metrics Insights query. One such query per widget or
            alarm (CloudWatch runs one per request)."""
            where = f"Application = '{application_name}'"
            return cw.MathExpression(
                expression=f'SELECT MAX({metric}) FROM "{MSF_NAMESPACE}" WHERE {where}',
                period=ONE_MINUTE,
                label=label,
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
        # the job's own lag, the most behind of its shards (the stream's iterator age is all consumers')
        millis_behind_latest = flink_max("millisBehindLatest", "millisBehindLatest, max over shards")
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
            "FlinkMillisBehindLatest",
            millis_behind_latest,
            cfg.iterator_age_alarm_ms,
            5,
            "The Flink job reads a shard of the readings stream too far behind its latest record",
            cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        self._alarm(
            # Flink 2.2 deprecates downtime: restartingTime is the time spent in the current restart
            "FlinkDowntime",
            flink_max("restartingTime", "restartingTime"),
            0,
            3,
            "The Flink job has been restarting for 3 minutes (restartingTime > 0)",
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
        if rotation_function is not None:  # a stack with a rotated secret
            self._alarm(
                "SecretRotationErrors",
                rotation_function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                0,
                1,
                "The secret rotation Lambda failed",
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
            graph("Kinesis iterator age, all consumers (ms)", [iterator_age]),
        )
        self.dashboard.add_widgets(
            graph("Flink running time (ms)", [flink_max("runningTime", "runningTime")]),
            graph("Flink restarting time (ms)", [flink_max("restartingTime", "restartingTime")]),
            graph(
                "Flink restarts / failed checkpoints (since start)",
                [flink("numRestarts"), flink("numberOfFailedCheckpoints")],
            ),
        )
        self.dashboard.add_widgets(
            graph(
                "Flink last checkpoint duration (ms) / size (bytes)",
                [flink("lastCheckpointDuration")],
                [flink("lastCheckpointSize")],
            ),
            graph("Flink millisBehindLatest, max over shards (ms)", [millis_behind_latest]),
            graph(
                "Flink records in / out per second, KPUs",
                [flink("numRecordsInPerSecond", "Average"), flink("numRecordsOutPerSecond", "Average")],
                [flink("KPUs", "Average", Duration.hours(1))],
            ),
        )
        self.dashboard.add_widgets(
            graph(
                # the Python workers run in the TaskManager container beside the JVM; MSF reports no
                # metric of their own, so container memory minus the heap's share is where they show
                "TaskManager memory (%): container (JVM + Python workers) / JVM heap",
                [
                    flink("containerMemoryUtilization", label="container memory (max TaskManager)"),
                    flink("heapMemoryUtilization", label="JVM heap (max TaskManager)"),
                ],
            ),
            graph(
                "Firehose delivery to S3",
                [firehose("DeliveryToS3.Records"), firehose("DataReadFromKinesisStream.Records")],
                [firehose("DeliveryToS3.DataFreshness", "Maximum")],
            ),
            graph("Anomalies by severity", list(anomalies.values())),
        )
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24, height=4),
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
