"""Hostile input through the real path: moto Kinesis -> our source -> parse/validate -> S3 archive.

Every byte sequence a device (or an attacker) can put on the stream must end as exactly one valid
reading in ``raw/`` (canonical one-line JSON) or one dead letter with its reason, and the job must
never fail: it runs with ``local.restart_attempts = 0``, so a single task failure would end it.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections import Counter

import pytest

from flink_job.core import schema
from localdev.demo import JAR, PLUGINS, archive_lines, stop_drained

pytestmark = pytest.mark.e2e

NOW = int(time.time() * 1000)


def reading(i: int, **extra: object) -> dict:
    return {
        "device_id": f"dev-{i % 25:03d}",
        "ts": NOW - 60_000 + i * 10,
        "temperature": 60.0 + i % 7,
        **extra,
    }


def hostile_records() -> list[tuple[str, bytes, str]]:
    """(class, data, expected reason substring or "" for a valid reading) per record."""
    rng = random.Random(11)
    base = json.dumps(reading(0)).encode()
    cases: list[tuple[str, bytes, str]] = [
        ("not UTF-8", b'{"device_id": "dev-1", "ts": 1, "temperature": \xff}', "not UTF-8"),
        ("not UTF-8", b"\xc0\xaf overlong", "not UTF-8"),
        ("not UTF-8", b'{"device_id": "\xed\xa0\x80"}', "not UTF-8"),  # CESU-8 surrogate
        ("not UTF-8", b"\xff" * 1000, "not UTF-8"),
        ("empty", b" ", "empty record"),
        ("empty", b"\n\n", "empty record"),
        ("1 MB record", json.dumps(reading(1, pad="x" * 1_000_000)).encode(), "record larger than"),
        ("deep nesting", b"[" * 10_000 + b"]" * 10_000, "invalid JSON"),
        ("deep nesting", b'{"a":' * 9_000 + b"1" + b"}" * 9_000, "invalid JSON"),
        ("deep nesting", b"[" * 200_000, "record larger than"),
        ("top-level non-object", b"[1, 2, 3]", "JSON list"),
        ("top-level non-object", b"42", "JSON int"),
        ("top-level non-object", b'"a string"', "JSON str"),
        ("top-level non-object", b"null", "JSON NoneType"),
        ("top-level non-object", b"true", "JSON bool"),
        ("NaN/Infinity literal", json.dumps(reading(2, temperature=float("nan"))).encode(), "not finite"),
        ("NaN/Infinity literal", json.dumps(reading(3, extra=float("-inf"))).encode(), "not finite"),
        ("huge number", json.dumps(reading(4, temperature=10**400)).encode(), "out of range"),
        ("huge number", json.dumps(reading(5, ts=10**400)).encode(), "in the future"),
        ("huge number", base.replace(b"60.0", b"1e999"), "number out of range"),
        ("huge number", base.replace(b"60.0", b"1" + b"0" * 5000), "invalid JSON"),
        ("control characters", base.replace(b'"dev-000"', b'"dev\\u0000"'), "invalid 'device_id'"),
        ("control characters", base.replace(b'"dev-000"', b'"dev-000\\n"'), "invalid 'device_id'"),
        ("control characters", base.replace(b'"dev-000"', b'"dev\t000"'), "invalid JSON"),
        ("control characters", b"\x00" + base, "invalid JSON"),
        ("unicode", json.dumps(reading(6, device_id="d\u00e9v-\U0001f525")).encode(), "invalid 'device_id'"),
        ("duplicate keys", base[:-1] + b', "temperature": 99.0}', "duplicate key"),
        ("duplicate keys", base[:-1] + b', "m": {"k": 1, "k": 1}}', "duplicate key"),
        ("bad timestamp", json.dumps(reading(7, ts="yesterday")).encode(), "invalid 'ts'"),
        ("bad timestamp", json.dumps(reading(8, ts=True)).encode(), "invalid 'ts'"),
        ("bad timestamp", json.dumps(reading(9, ts=-5)).encode(), "before 2000-01-01"),
        ("bad timestamp", json.dumps(reading(10, ts="2026-01-01T00:00:00")).encode(), "invalid 'ts'"),
        ("bad timestamp", json.dumps(reading(11, ts=NOW + 86_400_000)).encode(), "in the future"),
        ("bad timestamp", json.dumps(reading(12, ts=1e300)).encode(), "in the future"),
        ("wrong types", json.dumps(reading(13, temperature="hot")).encode(), "not a number"),
        ("missing fields", json.dumps({"ts": NOW, "temperature": 1.0}).encode(), "missing field 'device_id'"),
        ("bad measurements", json.dumps(reading(14, measurements=[1.0])).encode(), "'measurements' is list"),
        ("bad measurements", json.dumps(reading(15, measurements={"rpm": "fast"})).encode(),
         "measurement not a number"),
        ("bad measurements", json.dumps(reading(16, measurements={"spindle-rpm": 1})).encode(),
         "invalid measurement name"),
        ("bad measurements", json.dumps(reading(17, measurements={f"m{i}": i for i in range(64)})).encode(),
         "too many measurements"),
        ("bad measurements", json.dumps(reading(18, measurements={"temperature": 1.0})).encode(),
         "measurement given twice"),
    ]
    for _ in range(40):
        cases.append(("random bytes", bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000))), "?"))
    # valid, but written in ways that must not reach raw/ verbatim
    cases.append(("pretty-printed (valid)", json.dumps(reading(20, seq=1), indent=4).encode(), ""))
    cases.append(
        ("unicode (valid)", json.dumps(reading(21, note="\u00e9\u4e2d"), ensure_ascii=False).encode(), "")
    )
    cases.append(
        ("unicode (valid)", json.dumps(reading(22, note="\ud83d")).encode(), "")
    )  # escaped lone surrogate
    cases.append(("named measurements (valid)", json.dumps(reading(23, measurements={
        "spindle_rpm": 1480, "motor_current_a": 12.5, "unset": None})).encode(), ""))
    cases.append(("named measurements (valid)", json.dumps({"device_id": "dev-wide", "ts": NOW - 30_000,
        "measurements": {f"m{i:02d}": float(i) for i in range(64)}}).encode(), ""))
    return cases


def original(letter: dict) -> bytes:
    """The bytes a dead letter stands for."""
    if "record_base64" in letter:
        return base64.b64decode(letter["record_base64"])
    return letter["record"].encode("utf-8")


def canonical(data: bytes) -> str:
    return json.dumps(json.loads(data), separators=(",", ":"), ensure_ascii=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory, uber_jar, local_aws):
    """Valid readings interleaved with every hostile class, read from Kinesis by the job."""
    from pyflink.common import JobStatus

    from flink_job.main import JOB_NAME, build

    work = tmp_path_factory.mktemp("hostile")
    hostile = hostile_records()
    valid = [json.dumps(reading(i), separators=(",", ":")).encode() for i in range(100, 1100)]
    records = [(cls, data, reason) for cls, data, reason in hostile] + [("valid", d, "") for d in valid]
    random.Random(3).shuffle(records)

    groups = {
        "source": {
            "stream.arn": local_aws.stream_arn,
            "aws.region": local_aws.region,
            "source.init.position": "TRIM_HORIZON",
            "shard_discovery_interval_ms": "2000",
        },
        "sinks": {"s3.archive_path": local_aws.archive_path, "timeseries.store": "none"},
        "pipeline": {"batch_window_ms": "1000", "aggregate_window_s": "10"},
        "local": {
            "aws_endpoint": local_aws.endpoint,
            "jars": JAR.as_uri(),
            "plugins_dir": str(PLUGINS),
            "checkpoint_interval_ms": "2000",
            "checkpoint_dir": (work / "checkpoints").as_uri(),
            "restart_attempts": "0",
        },
    }
    props = work / "application_properties.json"
    props.write_text(json.dumps(schema.document(groups)))
    import os

    os.environ["IOT_ANOMALY_LOCAL"] = "true"
    env, _cfg, _graph = build(str(props))
    client = env.execute_async(JOB_NAME)

    kinesis = local_aws.client("kinesis")
    for i, (_cls, data, _reason) in enumerate(records):
        # one PutRecord each: a 1 MB record alone fills a PutRecords call
        kinesis.put_record(StreamARN=local_aws.stream_arn, Data=data, PartitionKey=f"k{i % 50}")

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = client.get_job_status().result()
        assert status == JobStatus.RUNNING, f"job is {status}: a record failed it"
        n = len(archive_lines(local_aws, "raw/")) + len(archive_lines(local_aws, "dead-letters/"))
        if n >= len(records):
            break
        time.sleep(3)
    status = client.get_job_status().result()
    stop_drained(client, work / "savepoints")
    return {
        "records": records,
        "status_before_stop": status,
        "raw": archive_lines(local_aws, "raw/"),
        "dead": [json.loads(x) for x in archive_lines(local_aws, "dead-letters/")],
    }


def test_the_job_never_failed_and_every_record_is_accounted_for(run):
    assert str(run["status_before_stop"]) == str(run["status_before_stop"].RUNNING)
    assert len(run["raw"]) + len(run["dead"]) == len(run["records"])
    # the per-class table of the closing note (pytest -s shows it)
    dead = Counter(
        base64.b64decode(x["record_base64"]) if "record_base64" in x else x["record"].encode()
        for x in run["dead"]
    )
    raw = Counter(run["raw"])
    table: dict[str, list[int]] = {}
    for cls, data, reason in run["records"]:
        row = table.setdefault(cls, [0, 0, 0])
        row[0] += 1
        if reason and dead[data]:
            dead[data] -= 1
            row[2] += 1
        elif not reason and raw[canonical(data)]:
            raw[canonical(data)] -= 1
            row[1] += 1
    print("\nclass | sent | archived | dead-lettered | lost")
    for cls, (n, archived, dead_lettered) in sorted(table.items()):
        print(f"{cls} | {n} | {archived} | {dead_lettered} | {n - archived - dead_lettered}")
    assert all(n == a + d for n, a, d in table.values()), table


def test_valid_readings_are_archived_once_as_canonical_json_lines(run):
    expected = Counter(canonical(d) for cls, d, _ in run["records"] if cls == "valid" or "(valid)" in cls)
    assert Counter(run["raw"]) == expected
    for line in run["raw"]:
        assert line.isascii() and json.loads(line)["device_id"]


def test_every_hostile_record_is_one_dead_letter_with_its_reason(run):
    dead = run["dead"]
    by_record: Counter = Counter()
    for letter in dead:
        assert letter["reason"] and letter["received_at"]
        by_record[original(letter)] += 1
    hostile = [(cls, d, reason) for cls, d, reason in run["records"] if reason]
    assert sum(by_record.values()) == len(hostile)
    for cls, data, reason in hostile:
        assert by_record[data] >= 1, f"{cls}: record lost: {data[:80]!r}"
        if reason != "?":
            letters = [
                x
                for x in dead
                if (base64.b64decode(x["record_base64"]) if "record_base64" in x else x["record"].encode())
                == data
            ]
            assert any(reason in x["reason"] for x in letters), (cls, reason, [x["reason"] for x in letters])


def test_bytes_that_are_not_utf8_keep_their_exact_bytes(run):
    binary = [x for x in run["dead"] if "record_base64" in x]
    assert binary and all(x["reason"] == "not UTF-8" for x in binary)
    sent = {d for _cls, d, _r in run["records"]}
    assert all(base64.b64decode(x["record_base64"]) in sent for x in binary)
