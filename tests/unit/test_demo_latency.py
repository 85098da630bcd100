"""The demo's ingest-to-alert latency: matching SNS alerts to Kinesis puts, and the percentiles."""

from localdev.demo import alert_latencies, latency_summary, percentile


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_alerts_are_matched_to_their_reading_put_and_split_by_kind():
    put = {("d1", 1000): 5_000, ("d2", 2000): 6_000}
    published = [
        {"device_id": "d1", "ts": 1000, "detectors": ["threshold"]},
        {"device_id": "d2", "ts": 2000, "detectors": ["multivariate"]},
        {"device_id": "d3", "ts": 3000, "detectors": ["silence"]},  # no reading behind it
        {"device_id": "d9", "ts": 9000, "detectors": ["zscore"]},  # never put: not counted
    ]
    lat = alert_latencies(published, [5_400, 7_500, 9_000, 9_500], put)
    assert lat == {"threshold": [0.4], "statistical": [1.5]}
    summary = latency_summary(lat)
    assert summary["alert_latency_alerts"] == 2
    assert summary["alert_latency_p50_s"] == 0.4 and summary["alert_latency_p99_s"] == 1.5
    assert summary["alert_latency_threshold_p99_s"] == 0.4
    assert summary["alert_latency_statistical_p99_s"] == 1.5


def test_no_alerts_gives_none_not_zero():
    summary = latency_summary({"threshold": [], "statistical": []})
    assert summary["alert_latency_alerts"] == 0 and summary["alert_latency_p99_s"] is None
