"""A seeded sensor-fleet simulator with labelled anomalies and malformed records.

N devices each report temperature, pressure and vibration every ``interval_ms``: a daily cycle,
noise, a slow per-device drift and a shared per-device operating load (`DeviceLoad`) that moves
temperature and pressure together (vibration weakly), so the sensors of a healthy device are
strongly correlated. Injected anomalies (spikes, level shifts, drift to failure, stuck sensors,
silent devices, and "decouple": pressure swinging against the load while each sensor stays in its
normal range) are labelled; malformed records (bad JSON, missing fields, wrong types, NaN,
timestamps far in the future) are extra records, so every valid sample still arrives. The same seed
gives the same records and labels.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

DAY_MS = 86_400_000

# (base, daily amplitude, noise sigma); values in deg C, bar, mm/s.
SIGNALS = {
    "temperature": (65.0, 4.0, 0.4),
    "pressure": (5.5, 0.25, 0.04),
    "vibration": (2.5, 0.3, 0.15),
}
# Values that cross the default critical thresholds (100 deg C, 2.0 / 9.0 bar, 11.2 mm/s).
SPIKE_VALUES = {"temperature": 118.0, "pressure": 9.8, "vibration": 15.5}
DRIFT_TARGETS = {"temperature": 112.0, "pressure": 9.6, "vibration": 13.5}

# How far each sensor follows its device's load, in units of its own noise sigma. Temperature and
# pressure at 4 sigma keep their correlation above 0.8 over any 100 readings; vibration follows weakly
# (a gain near 1 is the worst for an EWMA chart: a swing the size of its own noise).
LOAD_GAIN = {"temperature": 4.0, "pressure": 4.0, "vibration": 0.25}
# The load's swing is a duty cycle, tanh(c * sin)/tanh(c): smooth, with flat tops (a crest factor
# near 1), since the EWMA chart and the z-score take a sine's peaks or any slow excursion for an
# anomaly. Its period is shorter than the detectors' warm-up (100 readings, 10 s at the demo's
# 100 ms), so their baselines have seen the whole swing before they score.
LOAD_CYCLE_S = (6.0, 10.0)
LOAD_CYCLE_SHARPNESS = 2.0
# The load's slow base: a wave of minutes plus a mean-reverting random walk (knots every 15 s). Kept
# small: a base of 0.1 already costs a few univariate false alerts per 100 devices and minute.
LOAD_SLOW_WAVE = (0.08, (90.0, 240.0))
LOAD_WALK_STEP_S, LOAD_WALK_SIGMA, LOAD_WALK_REVERSION = 15.0, 0.05, 0.7
# A decouple episode mirrors the pressure swing over this ramp (no step for a rate-of-change detector).
DECOUPLE_RAMP_MS = 2_000

# A normal reading whose own noise draw is this many sigmas or more from its mean is listed as a chance
# outlier (`Simulation.outliers`): not an injected anomaly, yet a point a z-score detector is right to
# flag (the default zscore alerts near |z| 4.9). Gaussian noise makes one in ~150,000 draws.
OUTLIER_SIGMAS = 4.5

ANOMALY_KINDS = ("spike", "level_shift", "drift", "stuck", "silent", "decouple")
MALFORMED_KINDS = ("bad_json", "missing_field", "wrong_type", "nan", "future_ts")


@dataclass(frozen=True)
class SimulationConfig:
    devices: int = 50
    interval_ms: int = 1000
    duration_s: float = 60.0
    start_ms: int = 0
    seed: int = 42
    malformed_share: float = 0.01
    anomalies: int = 12
    # silences must outlast the detector's silence timeout (60 s by default) to be detectable
    silent_ms: int = 90_000
    kinds: tuple[str, ...] = ANOMALY_KINDS

    def __post_init__(self) -> None:
        if self.devices < 1:
            raise ValueError("devices must be >= 1")
        if self.interval_ms < 1:
            raise ValueError("interval_ms must be >= 1")
        if not 0.0 <= self.malformed_share < 1.0:
            raise ValueError("malformed_share must be in [0, 1)")
        unknown = set(self.kinds) - set(ANOMALY_KINDS)
        if unknown:
            raise ValueError(f"unknown anomaly kinds {sorted(unknown)}; known: {', '.join(ANOMALY_KINDS)}")

    @property
    def ticks(self) -> int:
        return max(1, int(self.duration_s * 1000 // self.interval_ms))

    @property
    def events_per_second(self) -> float:
        return self.devices * 1000.0 / self.interval_ms


@dataclass(frozen=True)
class Anomaly:
    """One injected, labelled anomaly episode."""

    device_id: str
    sensor: str | None  # None: the whole device (silent); "pressure" for a decouple
    kind: str
    start_ms: int
    end_ms: int
    threshold_breach: bool  # crosses a default critical threshold: must raise an alert


@dataclass(frozen=True)
class Outlier:
    """A normal reading that its noise alone put ``sigmas`` (signed) from its mean (`OUTLIER_SIGMAS`)."""

    device_id: str
    sensor: str
    ts: int
    sigmas: float


@dataclass
class Simulation:
    """Records in send order, the labels and counts of what was made."""

    config: SimulationConfig
    anomalies: list[Anomaly] = field(default_factory=list)
    outliers: list[Outlier] = field(default_factory=list)
    malformed: dict[str, int] = field(default_factory=dict)
    valid: int = 0

    @property
    def events(self) -> int:
        return self.valid + sum(self.malformed.values())

    def labels(self) -> list[dict]:
        return [asdict(a) for a in self.anomalies]


def device_ids(n: int) -> list[str]:
    return [f"machine-{i:04d}" for i in range(n)]


class DeviceLoad:
    """One device's operating load L(t) = base(t) + swing(t), dimensionless (|L| < ~1.3).

    swing: the duty cycle (`LOAD_CYCLE_S`) with a seeded period and phase; base: the slow wave of
    `LOAD_SLOW_WAVE` plus a mean-reverting random walk, cosine-interpolated between knots so it is
    smooth. Seeded by (seed, device) and a function of simulated time only, so a device's load does
    not depend on the fleet size, the anomalies or ``interval_ms``.
    """

    def __init__(self, seed: int, device: str, start_ms: int = 0) -> None:
        rng = random.Random(f"load:{seed}:{device}")
        self.start_ms = start_ms
        self.cycle_ms = rng.uniform(*LOAD_CYCLE_S) * 1000.0
        self.cycle_phase = rng.uniform(0, 2 * math.pi)
        amp, periods = LOAD_SLOW_WAVE
        self.slow = (amp, rng.uniform(*periods) * 1000.0, rng.uniform(0, 2 * math.pi))
        self._rng = rng
        self.knots = [rng.gauss(0, LOAD_WALK_SIGMA)]

    def swing(self, ts: int) -> float:
        c = LOAD_CYCLE_SHARPNESS
        angle = 2 * math.pi * (ts - self.start_ms) / self.cycle_ms + self.cycle_phase
        return math.tanh(c * math.sin(angle)) / math.tanh(c)

    def base(self, ts: int) -> float:
        t = (ts - self.start_ms) / (LOAD_WALK_STEP_S * 1000.0)
        i = max(0, math.floor(t))
        while len(self.knots) < i + 2:  # knots are drawn in order, so any query order gives the same walk
            self.knots.append(LOAD_WALK_REVERSION * self.knots[-1] + self._rng.gauss(0, LOAD_WALK_SIGMA))
        w = (1 - math.cos(math.pi * min(max(t - i, 0.0), 1.0))) / 2
        amp, period, phase = self.slow
        walk = self.knots[i] * (1 - w) + self.knots[i + 1] * w
        return walk + amp * math.sin(2 * math.pi * (ts - self.start_ms) / period + phase)

    def __call__(self, ts: int) -> float:
        return self.base(ts) + self.swing(ts)


def _mirror_weight(a: Anomaly, ts: int) -> float:
    """0 outside a decouple episode, 1 inside it, ramped over DECOUPLE_RAMP_MS at both ends."""
    ramp = min(DECOUPLE_RAMP_MS, (a.end_ms - a.start_ms) / 2)
    if ramp <= 0:
        return 1.0
    return max(0.0, min(1.0, (ts - a.start_ms) / ramp, (a.end_ms - ts) / ramp))


def _plan_anomalies(cfg: SimulationConfig, rng: random.Random) -> list[Anomaly]:
    span = cfg.ticks * cfg.interval_ms
    devices = device_ids(cfg.devices)
    plans: list[Anomaly] = []
    # Leave the first fifth of the run for the detectors to warm up.
    earliest = cfg.start_ms + span // 5
    # Distinct devices while there are enough, so episodes do not hide each other (a spike
    # inside a silence would never be sent).
    order = rng.sample(devices, len(devices))
    for i in range(cfg.anomalies):
        kind = cfg.kinds[i % len(cfg.kinds)]
        device = order[i % len(order)]
        if kind == "silent":
            sensor = None
        elif kind == "decouple":
            sensor = "pressure"  # stops following the load that temperature still follows
        else:
            sensor = rng.choice(tuple(SIGNALS))
        length = {
            "spike": cfg.interval_ms,
            "level_shift": span // 6,
            "decouple": span // 6,
            "drift": span // 5,
            "stuck": span // 6,
            "silent": cfg.silent_ms,
        }[kind]
        length = max(length, cfg.interval_ms)
        latest = cfg.start_ms + span - length
        start = earliest if latest <= earliest else rng.randrange(earliest, latest)
        start -= (start - cfg.start_ms) % cfg.interval_ms
        plans.append(
            Anomaly(device, sensor, kind, start, start + length, threshold_breach=kind in ("spike", "drift"))
        )
    return plans


def _malformed(kind: str, device: str, ts: int, rng: random.Random) -> str:
    if kind == "bad_json":
        good = json.dumps({"device_id": device, "ts": ts, "temperature": 60.0})
        return good[: rng.randrange(5, len(good) - 1)]
    if kind == "missing_field":
        missing = rng.choice(("device_id", "ts"))
        obj = {"device_id": device, "ts": ts, "pressure": 5.0}
        del obj[missing]
        return json.dumps(obj)
    if kind == "wrong_type":
        return json.dumps({"device_id": device, "ts": ts, "vibration": "high"})
    if kind == "nan":
        return json.dumps({"device_id": device, "ts": ts, "temperature": float("nan")})
    if kind == "future_ts":
        return json.dumps({"device_id": device, "ts": ts + 7 * DAY_MS, "temperature": 60.0})
    raise ValueError(kind)


def generate(cfg: SimulationConfig, sim: Simulation | None = None) -> Iterator[tuple[int, str, str]]:
    """Yield ``(ts_ms, partition_key, record)`` in send order; fills ``sim`` with labels and counts."""
    sim = sim if sim is not None else Simulation(cfg)
    rng = random.Random(cfg.seed)
    devices = device_ids(cfg.devices)
    # Per device: phase of the daily cycle, offset, drift per hour.
    profile = {
        d: (rng.uniform(0, 2 * math.pi), {s: rng.gauss(0, 1) for s in SIGNALS}, rng.uniform(-0.2, 0.2))
        for d in devices
    }
    loads = {d: DeviceLoad(cfg.seed, d, cfg.start_ms) for d in devices}
    sim.anomalies = _plan_anomalies(cfg, rng)
    by_series: dict[tuple[str, str | None], list[Anomaly]] = {}
    for a in sim.anomalies:
        by_series.setdefault((a.device_id, a.sensor), []).append(a)
    stuck_values: dict[tuple[str, str], float] = {}
    sim.malformed = dict.fromkeys(MALFORMED_KINDS, 0)

    for tick in range(cfg.ticks):
        ts = cfg.start_ms + tick * cfg.interval_ms
        for device in devices:
            if any(a.start_ms <= ts < a.end_ms for a in by_series.get((device, None), ())):
                continue  # silent device: sends nothing
            phase, offsets, drift_per_h = profile[device]
            load = loads[device]
            load_base, swing = load.base(ts), load.swing(ts)
            rec: dict[str, object] = {"device_id": device, "ts": ts, "seq": tick}
            for sensor, (base, amp, sigma) in SIGNALS.items():
                episodes = by_series.get((device, sensor), ())
                # A decouple episode mirrors the swing around the base: the same marginal range,
                # but the opposite of what temperature does.
                mirror = max((_mirror_weight(a, ts) for a in episodes if a.kind == "decouple"), default=0.0)
                noise = rng.gauss(0, sigma)
                normal = (
                    base
                    + offsets[sensor] * amp
                    + amp * math.sin(2 * math.pi * ts / DAY_MS + phase)
                    + drift_per_h * amp * (ts - cfg.start_ms) / 3_600_000
                    + LOAD_GAIN[sensor] * sigma * (load_base + (1 - 2 * mirror) * swing)
                    + noise
                )
                value = normal
                in_episode = False
                for a in episodes:
                    if not a.start_ms <= ts < a.end_ms:
                        continue
                    in_episode = True
                    if a.kind == "spike":
                        value = SPIKE_VALUES[sensor]
                    elif a.kind == "level_shift":
                        value = normal + 12 * sigma
                    elif a.kind == "drift":
                        frac = (ts - a.start_ms + cfg.interval_ms) / (a.end_ms - a.start_ms)
                        value = normal + frac * (DRIFT_TARGETS[sensor] - base)
                    elif a.kind == "stuck":
                        value = stuck_values.setdefault((device, sensor), round(normal, 2))
                if not in_episode and abs(noise) >= OUTLIER_SIGMAS * sigma:
                    sim.outliers.append(Outlier(device, sensor, ts, round(noise / sigma, 2)))
                rec[sensor] = round(max(value, 0.0), 3)
            sim.valid += 1
            yield ts, device, json.dumps(rec, separators=(",", ":"))
            if cfg.malformed_share and rng.random() < cfg.malformed_share:
                kind = MALFORMED_KINDS[rng.randrange(len(MALFORMED_KINDS))]
                sim.malformed[kind] += 1
                yield ts, device, _malformed(kind, device, ts, rng)


def send_to_kinesis(
    records: Iterator[tuple[int, str, str]],
    client,  # noqa: ANN001 - a boto3 Kinesis client
    stream_name: str,
    rate_per_s: float | None,
    progress=None,  # noqa: ANN001 - optional callable(sent: int)
    put_times: dict[tuple[str, int], int] | None = None,
) -> int:
    """PutRecords in batches of at most 500 at ``rate_per_s`` (None: as fast as the stream takes).

    Records a shard refuses (throughput exceeded) are sent again, so every record lands once.
    ``put_times``, if given, gets (partition key, ts_ms) -> wall-clock epoch ms at which Kinesis
    accepted that record: the start of the demo's ingest-to-alert latency.
    """
    import time

    started = time.monotonic()
    sent = 0
    batch: list[dict] = []
    keys: list[tuple[str, int]] = []

    def flush() -> None:
        nonlocal sent, batch, keys
        pending = list(zip(batch, keys, strict=True))
        delay = 0.05
        while pending:
            resp = client.put_records(StreamName=stream_name, Records=[r for r, _ in pending])
            if put_times is not None:
                accepted_ms = int(time.time() * 1000)
                for (_, key), res in zip(pending, resp["Records"], strict=True):
                    if "ErrorCode" not in res:
                        put_times[key] = accepted_ms
            if not resp.get("FailedRecordCount"):
                break
            pending = [p for p, res in zip(pending, resp["Records"], strict=True) if "ErrorCode" in res]
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        sent += len(batch)
        batch = []
        keys = []
        if progress:
            progress(sent)
        if rate_per_s:
            ahead = sent / rate_per_s - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)

    for ts, key, data in records:
        batch.append({"Data": data.encode("utf-8"), "PartitionKey": key})
        keys.append((key, ts))
        if len(batch) == 500:
            flush()
    if batch:
        flush()
    return sent
