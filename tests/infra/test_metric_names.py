"""Every metric an alarm or a dashboard widget reads is one that is really published (issue 12, point 4).

CloudWatch accepts an alarm or a widget on any name, published or not, and an alarm on a name nobody
publishes stays OK forever (the FlinkRestarts alarm on ``fullRestarts``, gone in Flink 2.2, did). So the
synthesized template is read back, every (namespace, metric name, dimensions) it queries is collected,
from plain metrics, metric math and Metrics Insights queries, and each is looked up in
``monitoring.PUBLISHED_METRICS``, the one table of names MSF, the AWS services and the job publish.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from iot_anomaly_infra.flink_app import METRICS_NAMESPACE
from iot_anomaly_infra.monitoring import DEPRECATED_METRICS, MSF_NAMESPACE, PUBLISHED_METRICS

REPO = Path(__file__).resolve().parents[2]
JAVA_SOURCES = REPO / "connectors" / "java" / "src" / "main" / "java"

TOKEN = "TOKEN"  # what a Ref/GetAtt inside the dashboard body becomes (it is always inside a JSON string)
INSIGHTS = re.compile(
    r'^\s*SELECT\s+\w+\(\s*(?P<metric>"[^"]+"|[\w.]+)\s*\)\s+FROM\s+'
    r'(?:SCHEMA\(\s*"(?P<schema_ns>[^"]+)"(?P<schema_dims>(?:\s*,\s*[\w.]+)*)\s*\)|"(?P<ns>[^"]+)")'
    r"(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
WHERE_KEY = re.compile(r"(?:WHERE|AND|OR)\s+\"?([\w.]+)\"?\s*(?:=|!=|LIKE|IN)", re.IGNORECASE)
MATH = re.compile(r"^[\w\s()+\-*/,.\[\]]+$")  # metric math over ids: no quotes, so no SEARCH/SELECT text
DEPRECATED_WORD = re.compile(r"\b(" + "|".join(n for ns in DEPRECATED_METRICS.values() for n in ns) + r")\b")


@dataclass(frozen=True)
class Used:
    where: str  # alarm name or widget title
    namespace: str
    name: str
    dimensions: frozenset[str]
    insights: bool  # read with a Metrics Insights query (dimensions: those its WHERE filters on)


def flatten(value) -> str:
    """The text of an Fn::Join of strings and tokens, each token replaced by ``TOKEN``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(flatten(part) for part in parts)
    if isinstance(value, dict) and ({"Ref", "Fn::GetAtt", "Fn::Select", "Fn::Sub"} & set(value)):
        return TOKEN
    raise AssertionError(f"unexpected value in a dashboard body: {value!r}")


def from_expression(where: str, expression: str) -> list[Used]:
    """The metric a Metrics Insights query reads, or nothing for metric math over ids (the metrics those
    ids name are collected on their own). Anything else (SEARCH, ...) fails: this test cannot tell what it
    reads."""
    match = INSIGHTS.match(expression)
    if match:
        namespace = match["schema_ns"] or match["ns"]
        if match["schema_ns"]:
            dims = frozenset(d.strip() for d in match["schema_dims"].split(",") if d.strip())
        else:
            dims = frozenset(WHERE_KEY.findall(match["rest"]))
        return [Used(where, namespace, match["metric"].strip('"'), dims, insights=True)]
    assert MATH.match(expression), f"{where}: cannot tell which metrics {expression!r} reads"
    return []


def alarm_metrics(raw: dict) -> list[Used]:
    used = []
    for resource in raw["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        where = flatten(props["AlarmName"])
        if "MetricName" in props:
            dims = frozenset(d["Name"] for d in props.get("Dimensions", []))
            used.append(Used(where, props["Namespace"], props["MetricName"], dims, insights=False))
        for query in props.get("Metrics", []):
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                dims = frozenset(d["Name"] for d in metric.get("Dimensions", []))
                used.append(Used(where, metric["Namespace"], metric["MetricName"], dims, insights=False))
            else:
                used.extend(from_expression(where, query["Expression"]))
        assert "MetricName" in props or props.get("Metrics"), f"{where}: an alarm without a metric"
    return used


def dashboard_bodies(raw: dict) -> list[dict]:
    return [
        json.loads(flatten(r["Properties"]["DashboardBody"]))
        for r in raw["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]


def widget_metrics(raw: dict) -> list[Used]:
    """A graph's ``metrics`` rows are ``[namespace, name, dim, value, ..., {options}]`` (a namespace or
    name of "." repeats the row above) or ``[{"expression": ...}]``."""
    used = []
    for body in dashboard_bodies(raw):
        for widget in body["widgets"]:
            props = widget.get("properties", {})
            where = props.get("title", widget["type"])
            previous: list = []
            for row in props.get("metrics", []):
                fields = [f for f in row if not isinstance(f, dict)]
                options = next((f for f in row if isinstance(f, dict)), {})
                if not fields:
                    used.extend(from_expression(where, options["expression"]))
                    continue
                padded = previous + [None] * len(fields)
                fields = [padded[i] if f == "." else f for i, f in enumerate(fields)]
                previous = fields
                namespace, name, *pairs = fields
                used.append(Used(where, namespace, name, frozenset(pairs[0::2]), insights=False))
    return used


@pytest.fixture(params=["dev", "default_stack"])
def synthesized(request):
    return request.getfixturevalue(request.param)


def test_every_alarm_and_widget_metric_is_published(synthesized):
    used = alarm_metrics(synthesized.raw) + widget_metrics(synthesized.raw)
    # the parsing found what the stack has: Flink, Kinesis, Firehose, the job's own metrics (and Lambda
    # where a secret is rotated)
    assert {MSF_NAMESPACE, "AWS/Kinesis", "AWS/Firehose", METRICS_NAMESPACE} <= {u.namespace for u in used}
    problems = []
    for u in sorted(used, key=repr):
        published = PUBLISHED_METRICS.get(u.namespace, {}).get(u.name)
        if published is None:
            problems.append(f"{u.where}: {u.namespace} {u.name} is not published")
        elif u.insights and u.dimensions != published.dimensions:
            problems.append(f"{u.where}: {u.name} is filtered on {sorted(u.dimensions)}, "
                            f"expected {sorted(published.dimensions)}")
        elif not u.insights and not published.exact:
            problems.append(f"{u.where}: {u.name} has dimensions beyond {sorted(published.dimensions)}: "
                            "read it with a Metrics Insights query")
        elif not u.insights and u.dimensions != published.dimensions:
            problems.append(f"{u.where}: {u.name} with dimensions {sorted(u.dimensions)}, "
                            f"published with {sorted(published.dimensions)}")
    assert not problems, "\n".join(problems)


def test_no_deprecated_metric_name(synthesized):
    used = alarm_metrics(synthesized.raw) + widget_metrics(synthesized.raw)
    for u in used:
        assert u.name not in DEPRECATED_METRICS.get(u.namespace, {}), f"{u.where}: {u.name}"
    # nor anywhere in an alarm or the dashboard (a title, a description, an expression)
    for resource in synthesized.raw["Resources"].values():
        if resource["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard"):
            found = DEPRECATED_WORD.findall(json.dumps(resource))
            assert not found, found
    for namespace, names in DEPRECATED_METRICS.items():
        assert not set(names) & set(PUBLISHED_METRICS.get(namespace, {}))


def _alarm(s, construct_id: str) -> dict:
    name = s.stack.cfg.name(construct_id)
    (alarm,) = [r["Properties"] for r in s.resources("AWS::CloudWatch::Alarm").values()
                if r["Properties"]["AlarmName"] == name]
    return alarm


@pytest.mark.parametrize(
    ("construct_id", "metric"),
    [("FlinkRestarts", "numRestarts"), ("FlinkCheckpointFailures", "numberOfFailedCheckpoints")],
)
def test_alarm_on_an_increase_of_a_flink_counter(dev, construct_id, metric):
    alarm = _alarm(dev, construct_id)
    (stat,) = [q["MetricStat"] for q in alarm["Metrics"] if "MetricStat" in q]
    (expression,) = [q for q in alarm["Metrics"] if q.get("ReturnData")]
    assert stat["Metric"]["Namespace"] == MSF_NAMESPACE and stat["Metric"]["MetricName"] == metric
    # any growth of the cumulative counter within five minutes
    assert expression["Expression"].startswith("DIFF(") and stat["Period"] == 300
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["EvaluationPeriods"] == 1


def test_alarm_on_the_jobs_lag_behind_the_stream(dev):
    alarm = _alarm(dev, "FlinkMillisBehindLatest")
    (query,) = alarm["Metrics"]
    # the largest millisBehindLatest of any series of this application: the most-behind shard
    assert query["Expression"] == (
        f'SELECT MAX(millisBehindLatest) FROM "{MSF_NAMESPACE}" '
        f"WHERE Application = '{dev.stack.flink.application_name}'"
    )
    assert alarm["Threshold"] == dev.stack.cfg.iterator_age_alarm_ms == 60_000  # iteratorAgeAlarmMs
    assert query["Period"] * alarm["EvaluationPeriods"] == 300  # above it for five minutes
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


REQUIRED_ALARMS = ("FlinkRestarts", "FlinkCheckpointFailures", "FlinkMillisBehindLatest")


@pytest.mark.parametrize("construct_id", REQUIRED_ALARMS)
def test_required_alarms_notify_the_operations_topic(dev, construct_id):
    ops = {"Ref": dev.logical_id(dev.stack.topics.operations)}
    alarm = _alarm(dev, construct_id)
    assert alarm["AlarmActions"] == [ops] and alarm["OKActions"] == [ops]


def test_dashboard_shows_the_flink_2_metrics(dev):
    shown = {(u.namespace, u.name) for u in widget_metrics(dev.raw)}
    for name in ("runningTime", "restartingTime", "numRestarts", "numberOfFailedCheckpoints",
                 "lastCheckpointDuration", "lastCheckpointSize", "millisBehindLatest",
                 "containerMemoryUtilization", "heapMemoryUtilization", "numRecordsInPerSecond",
                 "numRecordsOutPerSecond"):
        assert (MSF_NAMESPACE, name) in shown, name


def test_the_table_names_what_the_job_publishes():
    """The job's own names, read from the code that publishes them."""
    from connectors.cloudwatch import METRIC_NAME

    assert set(PUBLISHED_METRICS[METRICS_NAMESPACE]) == {METRIC_NAME}
    reader = next(JAVA_SOURCES.rglob("KinesisShardSplitReader.java")).read_text()
    # the Kinesis source's gauge, per shard, also under the group MSF forwards to CloudWatch
    assert 'MILLIS_BEHIND_LATEST = "millisBehindLatest"' in reader
    assert 'MSF_METRIC_GROUP = "kinesisanalytics"' in reader
    assert re.search(r"addGroup\(MSF_METRIC_GROUP\)[^;]*\.gauge\(MILLIS_BEHIND_LATEST", reader)
    assert "millisBehindLatest" in PUBLISHED_METRICS[MSF_NAMESPACE]


def test_the_check_sees_a_removed_metric():
    """The parsing is not vacuous: a widget row or a query on fullRestarts is reported."""
    body = {"widgets": [{"type": "metric", "properties": {"title": "t", "metrics": [
        [MSF_NAMESPACE, "fullRestarts", "Application", TOKEN, {"stat": "Maximum"}],
        [{"expression": f"SELECT MAX(uptime) FROM \"{MSF_NAMESPACE}\" WHERE Application = 'a'"}],
    ]}}]}
    raw = {"Resources": {"D": {"Type": "AWS::CloudWatch::Dashboard",
                               "Properties": {"DashboardBody": json.dumps(body)}}}}
    assert [(u.name, u.insights) for u in widget_metrics(raw)] == [("fullRestarts", False), ("uptime", True)]
