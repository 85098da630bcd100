"""The fleet simulator's sensor relations (a shared per-device load), its anomaly kinds including
"decouple", and the demo's matching of alerts to injected anomalies. No Flink, no emulator."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import statistics
from collections import Counter

import pytest

from flink_job.core.detection.config import DEFAULT_SENSOR_LEVELS
from localdev.demo import (
    DemoSettings,
    alerted_anomalies,
    human_summary,
    latency_summary,
    on_outlier,
    top_sensors,
    unmatched_alerts,
)
from localdev.simulator import (
    ANOMALY_KINDS,
    OUTLIER_SIGMAS,
    SIGNALS,
    SPIKE_VALUES,
    DeviceLoad,
    Simulation,
    SimulationConfig,
    generate,
)

START = 1_700_000_000_000
SENSORS = tuple(SIGNALS)


def simulate(**settings: object) -> tuple[Simulation, dict[str, list[dict]]]:
    """Run the simulator; return the labels and the valid readings per device, in time order."""
    defaults = {"interval_ms": 100, "duration_s": 60.0, "start_ms": START, "malformed_share": 0.0}
    cfg = SimulationConfig(**{**defaults, **settings})  # type: ignore[arg-type]
    sim = Simulation(cfg)
    readings: dict[str, list[dict]] = {}
    for _ts, device, line in generate(cfg, sim):
        rec = json.loads(line)
        readings.setdefault(device, []).append(rec)
    return sim, readings


def corr(rows: list[dict], a: str = "temperature", b: str = "pressure") -> float:
    return statistics.correlation([r[a] for r in rows], [r[b] for r in rows])


# -- the load model ----------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_records_and_labels():
    cfg = SimulationConfig(devices=6, interval_ms=100, duration_s=20.0, start_ms=START, anomalies=6)
    first, second = Simulation(cfg), Simulation(cfg)
    assert list(generate(cfg, first)) == list(generate(cfg, second))
    assert first.labels() == second.labels()
    assert list(generate(cfg)) != list(generate(dataclasses.replace(cfg, seed=43)))


def test_a_device_load_depends_on_seed_device_and_time_only():
    times = [START + t * 250 for t in range(2000)]  # 500 s: many random-walk knots
    forward = DeviceLoad(42, "machine-0003", START)
    backward = DeviceLoad(42, "machine-0003", START)
    late_first = [backward(t) for t in reversed(times)][::-1]
    assert [forward(t) for t in times] == late_first
    assert [DeviceLoad(42, "machine-0004", START)(t) for t in times[:50]] != late_first[:50]
    assert max(abs(v) for v in late_first) < 1.6


def test_temperature_and_pressure_move_together_over_any_100_normal_readings():
    _sim, readings = simulate(devices=20, anomalies=0)
    worst = min(corr(rows[i : i + 100]) for rows in readings.values() for i in range(0, len(rows) - 99, 5))
    assert worst > 0.8
    # vibration follows the load only weakly
    vib = [corr(rows, "temperature", "vibration") for rows in readings.values()]
    assert max(vib) < 0.6


@pytest.mark.parametrize("seed", [42, 7])
def test_normal_readings_stay_well_inside_the_default_static_levels(seed):
    _sim, readings = simulate(devices=200, interval_ms=1000, duration_s=120.0, anomalies=0, seed=seed)
    rows = [r for rs in readings.values() for r in rs]
    temperature = DEFAULT_SENSOR_LEVELS["temperature"]
    pressure = DEFAULT_SENSOR_LEVELS["pressure"]
    vibration = DEFAULT_SENSOR_LEVELS["vibration"]
    assert max(r["temperature"] for r in rows) < temperature["warning_high"] - 3.0
    assert min(r["pressure"] for r in rows) > pressure["warning_low"] + 0.5
    assert max(r["pressure"] for r in rows) < pressure["warning_high"] - 0.5
    assert max(r["vibration"] for r in rows) < vibration["warning_high"] - 1.0


# -- anomaly kinds -----------------------------------------------------------------------------------


def _episode(readings: dict[str, list[dict]], a) -> tuple[list[dict], list[dict], list[dict]]:  # noqa: ANN001
    """(before: the 100 readings before the start, during, normal: every reading outside it)."""
    rows = readings[a.device_id]
    during = [r for r in rows if a.start_ms <= r["ts"] < a.end_ms]
    before = [r for r in rows if r["ts"] < a.start_ms][-100:]
    normal = [r for r in rows if not a.start_ms <= r["ts"] < a.end_ms]
    return before, during, normal


def test_spikes_and_drifts_still_cross_the_critical_levels_and_the_other_kinds_keep_their_shape():
    sim, readings = simulate(devices=30, anomalies=len(ANOMALY_KINDS) * 3, silent_ms=20_000)
    seen = Counter(a.kind for a in sim.anomalies)
    assert seen == dict.fromkeys(ANOMALY_KINDS, 3)
    for a in sim.anomalies:
        before, during, normal = _episode(readings, a)
        if a.kind == "silent":
            assert a.sensor is None and not during
            continue
        values = [r[a.sensor] for r in during]
        critical = DEFAULT_SENSOR_LEVELS[a.sensor]["critical_high"]
        sigma = SIGNALS[a.sensor][2]
        assert a.threshold_breach == (a.kind in ("spike", "drift"))
        if a.kind == "spike":
            assert values == [SPIKE_VALUES[a.sensor]] and SPIKE_VALUES[a.sensor] > critical
        elif a.kind == "drift":
            assert values[-1] > critical
        elif a.kind == "stuck":
            assert len(set(values)) == 1
        elif a.kind == "level_shift":
            shift = statistics.mean(values) - statistics.mean(r[a.sensor] for r in normal)
            assert 8 * sigma < shift < 16 * sigma


def test_a_decouple_is_labelled_on_pressure_without_a_threshold_breach():
    sim, _ = simulate(devices=6, anomalies=3, kinds=("decouple",))
    span = 600 * 100
    assert [(a.sensor, a.kind, a.threshold_breach, a.end_ms - a.start_ms) for a in sim.anomalies] == [
        ("pressure", "decouple", False, span // 6)
    ] * 3


@pytest.mark.parametrize("seed", [42, 7, 123])
def test_a_decouple_keeps_each_sensor_in_its_normal_range_but_breaks_the_relation(seed):
    sim, readings = simulate(devices=12, anomalies=6, kinds=("decouple",), seed=seed)
    assert len({a.device_id for a in sim.anomalies}) == 6
    for a in sim.anomalies:
        before, during, normal = _episode(readings, a)
        assert len(during) == 100 and len(before) == 100
        for sensor in SENSORS:
            ref = [r[sensor] for r in normal]
            values = [r[sensor] for r in during]
            sigma = SIGNALS[sensor][2]
            # Inside the device's own normal min/max, with two noise sigmas of slack: 100 draws of
            # the same distribution beat the extremes of 500 one time in six or so (over 240
            # episodes the untouched temperature did by up to 1.6 sigma, pressure by up to 1.9).
            assert min(ref) - 2 * sigma <= min(values) and max(values) <= max(ref) + 2 * sigma, (a, sensor)
            if sensor != "vibration":  # vibration is unaffected: its z is that of plain noise
                mean, sd = statistics.mean(ref), statistics.pstdev(ref)
                assert max(abs(v - mean) / sd for v in values) < 3.0, (a, sensor)
        assert corr(before) > 0.8, a
        assert corr(during) < 0.2, a


def test_the_demo_plan_has_decouples_next_to_spikes_and_drifts():
    s = DemoSettings()
    assert s.anomalies == 15
    cfg = s.simulation(start_ms=START)
    sim = Simulation(cfg)
    next(generate(cfg, sim))  # the plan is made before the first record
    kinds = Counter(a.kind for a in sim.anomalies)
    assert len(sim.anomalies) == 15 and set(kinds) == set(ANOMALY_KINDS)
    assert kinds["decouple"] >= 1 and kinds["spike"] >= 1 and kinds["drift"] >= 1
    assert all(a.threshold_breach for a in sim.anomalies if a.kind in ("spike", "drift"))


# -- matching alerts to injected anomalies (localdev.demo) -------------------------------------------

SLACK = 1_000


def label(device: str, sensor: str | None, kind: str, start: int = 10_000, end: int = 20_000) -> dict:
    return {
        "device_id": device,
        "sensor": sensor,
        "kind": kind,
        "start_ms": start,
        "end_ms": end,
        "threshold_breach": kind in ("spike", "drift"),
    }


def alert(device: str, sensor: str, ts: int, detectors: list[str], reason: str = "") -> dict:
    return {"device_id": device, "sensor": sensor, "ts": ts, "detectors": detectors, "reason": reason}


def mv(device: str, ts: int, top: str) -> dict:
    return alert(device, "device", ts, ["multivariate"], f"multivariate: T2=45.1 > limit 14.2; top: {top}")


def test_top_sensors_reads_the_multivariate_reason():
    assert top_sensors("multivariate: T2=45.1 > limit 14.2; top: pressure 71%, temperature 25%") == [
        "pressure",
        "temperature",
    ]
    assert top_sensors("multivariate: T2=9.1 vs limit 8.4; top: -") == []
    assert top_sensors("temperature 104.2 > critical_high 100.0") == []


def test_a_decouple_counts_as_alerted_by_a_multivariate_device_alert_or_one_on_its_sensor():
    dec = label("m1", "pressure", "decouple")
    assert alerted_anomalies([dec], [mv("m1", 15_000, "temperature 60%, vibration 30%")], SLACK) == [dec]
    assert alerted_anomalies([dec], [alert("m1", "pressure", 12_000, ["ewma"])], SLACK) == [dec]
    assert alerted_anomalies([dec], [mv("m1", 20_000 + SLACK, "pressure 90%")], SLACK) == [dec]
    for miss in (
        mv("m2", 15_000, "pressure 90%"),  # another device
        mv("m1", 9_999, "pressure 90%"),  # before the episode
        mv("m1", 20_001 + SLACK, "pressure 90%"),  # after it and the slack
        alert("m1", "temperature", 15_000, ["zscore"]),  # a univariate alert on another sensor
        alert("m1", "device", 15_000, ["silence"], "device: no reading for 15 s"),
    ):
        assert alerted_anomalies([dec], [miss], SLACK) == [], miss


def test_other_kinds_also_count_a_multivariate_alert_that_names_their_sensor():
    shift = label("m1", "temperature", "level_shift")
    assert alerted_anomalies([shift], [alert("m1", "temperature", 15_000, ["ewma"])], SLACK) == [shift]
    assert alerted_anomalies([shift], [mv("m1", 15_000, "pressure 55%, temperature 40%")], SLACK) == [shift]
    assert alerted_anomalies([shift], [mv("m1", 15_000, "pressure 70%, vibration 30%")], SLACK) == []
    assert alerted_anomalies([shift], [alert("m1", "pressure", 15_000, ["ewma"])], SLACK) == []
    silent = label("m3", None, "silent")
    assert alerted_anomalies([silent], [alert("m3", "device", 25_000, ["silence"])], SLACK) == []
    assert alerted_anomalies([silent], [alert("m3", "device", 20_500, ["silence"])], SLACK) == [silent]
    assert alerted_anomalies([silent], [mv("m3", 15_000, "pressure 90%")], SLACK) == []


def test_unmatched_alerts_are_those_no_injected_anomaly_explains():
    labels = [label("m1", "pressure", "decouple"), label("m2", "vibration", "spike", 30_000, 30_100)]
    explained = [
        mv("m1", 10_000, "pressure 80%"),
        alert("m1", "temperature", 21_000, ["zscore"]),  # same device, in the slack: not a false alarm
        alert("m2", "vibration", 30_000, ["threshold"]),
    ]
    stray = [
        alert("m1", "pressure", 9_000, ["ewma"]),
        alert("m2", "vibration", 31_200, ["ewma"]),
        mv("m9", 15_000, "temperature 100%"),
    ]
    assert unmatched_alerts(labels, explained + stray, SLACK) == stray
    assert unmatched_alerts([], stray, SLACK) == stray
    assert alerted_anomalies(labels, explained + stray, SLACK) == labels


def test_the_simulator_lists_the_normal_readings_its_noise_put_beyond_the_outlier_sigmas():
    # the demo's seed: machine-0044's vibration draws -4.9 sigma 14.8 s in, in no anomaly's episode,
    # which the default zscore flags (the demo's one "false" alert before outliers were listed)
    cfg = DemoSettings().simulation(START)  # its malformed lines too: they draw from the same generator
    sim, readings = Simulation(cfg), {}
    for _ts, device, line in generate(cfg, sim):
        with contextlib.suppress(ValueError):
            rec = json.loads(line)
            if isinstance(rec, dict) and isinstance(rec.get("vibration"), float):
                readings.setdefault(device, {})[rec["ts"]] = rec
    assert sim.outliers, "the demo's seed draws a few"
    for o in sim.outliers:
        assert abs(o.sigmas) >= OUTLIER_SIGMAS
        assert not any(a.device_id == o.device_id and a.sensor in (o.sensor, None)
                       and a.start_ms <= o.ts < a.end_ms for a in sim.anomalies)
    drop = next(o for o in sim.outliers if o.device_id == "machine-0044")
    assert (drop.sensor, drop.ts - START, drop.sigmas) == ("vibration", 14_800, -4.92)
    around = [readings["machine-0044"][drop.ts + k * cfg.interval_ms]["vibration"] for k in (-1, 0, 1)]
    _base, _amp, sigma = SIGNALS["vibration"]
    assert around[1] < min(around[0], around[2]) - 4 * sigma


def test_an_alert_on_a_chance_outlier_is_its_sensors_at_or_just_after_its_reading():
    outliers = [{"device_id": "m1", "sensor": "vibration", "ts": 14_800, "sigmas": -4.9}]
    assert on_outlier(outliers, alert("m1", "vibration", 14_800, ["zscore"]))
    assert on_outlier(outliers, alert("m1", "vibration", 15_300, ["ewma"]))  # debounced
    assert on_outlier(outliers, mv("m1", 14_800, "vibration 80%, pressure 20%"))
    assert not on_outlier(outliers, mv("m1", 14_800, "pressure 90%"))
    assert not on_outlier(outliers, alert("m1", "pressure", 14_800, ["zscore"]))
    assert not on_outlier(outliers, alert("m2", "vibration", 14_800, ["zscore"]))
    assert not on_outlier(outliers, alert("m1", "vibration", 14_700, ["zscore"]))  # before it
    assert not on_outlier(outliers, alert("m1", "vibration", 16_000, ["zscore"]))  # long after
    assert not on_outlier([], alert("m1", "vibration", 14_800, ["zscore"]))


def test_the_demo_summary_reports_the_unmatched_alerts():
    labels = [label("m1", "pressure", "decouple"), label("m2", "vibration", "spike")]
    r = {
        "events_sent": 10, "events_archived": 9, "dead_letters": 1, "malformed_sent": 1,
        "anomalies_injected": 2, "anomalies_alerted": 1, "threshold_anomalies_injected": 1,
        "threshold_anomalies_alerted": 1, "alerts_raised": 4, "alerts_unmatched": 2, "alerts_published": 4,
        "events_archived_twice": 0, "alerts_published_twice": 0, "restored_mid_stream": False,
        "timestream_records": 0, "timestream_records_by_table": {}, "events_per_second": 1.0,
        "producer_events_per_second": 1.0, "_detail": {"labels": labels, "alerted": labels[1:]},
        **latency_summary({"threshold": [0.8], "statistical": []}),
    }  # fmt: skip
    text = human_summary(r)
    assert "alerts raised 4 (2 match no injected anomaly)" in text
    text = human_summary({**r, "alerts_unmatched": 1, "noise_outliers": 5, "alerts_on_noise_outliers": 1})
    assert "alerts raised 4 (1 match no injected anomaly; 1 on the 5 chance outliers of the simulated " \
           f"noise, >= {OUTLIER_SIGMAS} sigma)" in text
    assert "decouple 0/1, spike 1/1" in text
    assert "(1 alerts): p50 0.8 s, p99 0.8 s (threshold p99 0.8 s, statistical p99 n/a)" in text
