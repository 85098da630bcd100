"""Static thresholds: warning vs critical, low and high, hysteresis, per-device overrides, config errors."""

import pytest

from flink_job.core.detection import DetectionConfig, ThresholdConfig
from flink_job.core.detection.thresholds import CRITICAL, OK, WARNING, Levels, ThresholdDetector
from flink_job.core.errors import ConfigError


def test_defaults_per_sensor_type():
    cfg = ThresholdConfig()
    t = cfg.for_series("dev-1", "temperature")
    assert (t.warning_high, t.critical_high, t.warning_low) == (90.0, 100.0, None)
    p = cfg.for_series("dev-1", "pressure")
    assert (p.critical_low, p.warning_low, p.warning_high, p.critical_high) == (2.0, 3.0, 8.0, 9.0)
    assert cfg.for_series("dev-1", "vibration").critical_high == 11.2
    assert cfg.for_series("dev-1", "value").empty


def test_warning_vs_critical_both_sides():
    det = ThresholdDetector(ThresholdConfig().for_series("d", "pressure"))
    levels = [det.level(x) for x in (5.0, 8.2, 9.5, 5.0, 2.9, 1.5)]
    assert levels == [OK, WARNING, CRITICAL, OK, WARNING, CRITICAL]
    assert "critical_low" in det.last_reason


def test_hysteresis_holds_a_level_until_clear_of_the_band():
    det = ThresholdDetector(Levels(warning_high=90.0, critical_high=100.0, hysteresis_fraction=0.02))
    assert det.level(100.5) == CRITICAL
    assert det.level(99.0) == CRITICAL  # inside the 2 degC band below 100
    assert det.level(97.9) == WARNING
    assert det.level(88.5) == WARNING  # inside the 1.8 degC band below 90
    assert det.level(88.0) == OK
    assert det.level(99.0) == WARNING  # approaching from below: no band


def test_per_device_override_from_properties():
    cfg = ThresholdConfig.from_properties({
        "temperature.critical_high": "105", "hysteresis_fraction": "0.05",
        "device.pump-7.temperature.critical_high": "95", "device.site.a.pump-8.pressure.warning_high": "none",
        "humidity.warning_high": "80"})
    assert cfg.for_series("pump-1", "temperature").critical_high == 105.0
    assert cfg.for_series("pump-7", "temperature").critical_high == 95.0
    assert cfg.for_series("pump-7", "temperature").warning_high == 90.0  # others inherited
    assert cfg.for_series("site.a.pump-8", "pressure").warning_high is None
    assert cfg.for_series("x", "humidity").warning_high == 80.0
    assert cfg.for_series("x", "humidity").hysteresis_fraction == 0.05


@pytest.mark.parametrize("props,key", [
    ({"temperature.critical_hi": "1"}, "temperature.critical_hi"),
    ({"temperature.critical_high": "hot"}, "temperature.critical_high"),
    ({"device.p1.temperature.warning_high": "120"}, "device.p1.temperature.warning_high"),
    ({"hysteresis_fraction": "2"}, "hysteresis_fraction"),
    ({"temperature": "1"}, "temperature"),
])
def test_threshold_config_errors_name_group_and_key(props, key):
    with pytest.raises(ConfigError) as e:
        ThresholdConfig.from_properties(props, group="thresholds")
    assert (e.value.group, e.value.key) == ("thresholds", key)
    assert key in str(e.value)


@pytest.mark.parametrize("props,key", [
    ({"zscore_windw": "10"}, "zscore_windw"),
    ({"zscore_window": "ten"}, "zscore_window"),
    ({"alert_threshold": "1.5"}, "alert_threshold"),
    ({"detectors": "zscore,lstm"}, "detectors"),
    ({"recovery_threshold": "0.9"}, "recovery_threshold"),
    ({"novelty_scope": "device"}, "novelty_scope"),
    ({"seasonal_min_days": "1"}, "seasonal_min_days"),
    ({"seasonal_buckets": "0"}, "seasonal_buckets"),
    ({"learn_first_outlier": "maybe"}, "learn_first_outlier"),
])
def test_detection_config_errors_name_group_and_key(props, key):
    with pytest.raises(ConfigError) as e:
        DetectionConfig.from_properties(props, group="detection")
    assert (e.value.group, e.value.key) == ("detection", key)


def test_detection_config_parses_types():
    cfg = DetectionConfig.from_properties({"detectors": "zscore, mad", "zscore_window": "1_000",
                                           "alert_threshold": "0.6", "silence_timeout_ms": "30000"})
    assert cfg.detectors == ("zscore", "mad")
    assert (cfg.zscore_window, cfg.alert_threshold, cfg.silence_timeout_ms) == (1000, 0.6, 30_000)
    cfg = DetectionConfig.from_properties({"novelty_scope": " series ", "seasonal_buckets": "48",
                                           "episode_adapt_ms": "0", "learn_first_outlier": "false"})
    assert (cfg.novelty_scope, cfg.seasonal_buckets, cfg.episode_adapt_ms) == ("series", 48, 0)
    assert cfg.learn_first_outlier is False


def test_urgent_bounds_are_the_loosest_levels_over_every_device():
    cfg = ThresholdConfig.from_properties({
        "device.pump-7.temperature.warning_high": "80", "device.pump-8.pressure.warning_low": "4.5",
        "device.pump-9.vibration.critical_high": "none"})
    assert cfg.urgent_bounds("temperature") == (float("-inf"), 80.0)  # pump-7's level is the lowest high
    assert cfg.urgent_bounds("pressure") == (4.5, 8.0)
    assert cfg.urgent_bounds("vibration") == (float("-inf"), 7.1)  # a removed level widens nothing
    assert cfg.urgent_bounds("humidity") == (float("-inf"), float("inf"))


@pytest.mark.parametrize("seed", range(5))
def test_no_onset_of_a_breach_lies_strictly_inside_the_urgent_bounds(seed):
    """The micro-batcher holds back only readings strictly inside the bounds: none of them may breach."""
    import random

    rng = random.Random(seed)
    props = {f"device.d{i}.pressure.{lv}": str(round(rng.uniform(lo, hi), 2))
             for i in range(6) for lv, lo, hi in (("critical_low", 0.5, 2.5), ("warning_low", 2.6, 4.0),
                                                   ("warning_high", 6.0, 8.5), ("critical_high", 8.6, 10.0))
             if rng.random() < 0.5}
    cfg = ThresholdConfig.from_properties(props)
    low, high = cfg.urgent_bounds("pressure")
    for _ in range(2000):
        x = rng.uniform(0.0, 11.0)
        for dev in ("d0", "d3", "d5", "other"):
            if ThresholdDetector(cfg.for_series(dev, "pressure")).level(x) != OK:
                assert x <= low or x >= high, (dev, x, low, high)
