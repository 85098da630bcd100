"""Line protocol as InfluxDB 2.x documents it: escaping, field types, millisecond timestamps."""

from __future__ import annotations

import pytest

from connectors.influxdb import line


def test_types_and_order():
    got = line("window_stats", {"sensor": "temperature", "device_id": "m-1"},
               {"count": 5, "mean": 64.5, "ok": True, "note": 'say "hi"'}, 1_700_000_000_123)  # fmt: skip
    assert got == (
        "window_stats,device_id=m-1,sensor=temperature "
        'count=5i,mean=64.5,ok=true,note="say \\"hi\\"" 1700000000123'
    )


def test_escaping_of_measurement_tags_and_field_keys():
    got = line("my meas,x", {"dev id": "a=b,c"}, {"f k": 1.5}, 1)
    assert got == "my\\ meas\\,x,dev\\ id=a\\=b\\,c f\\ k=1.5 1"


def test_none_fields_and_empty_tags_are_left_out():
    assert line("m", {"a": ""}, {"x": None, "y": 2.0}, 7) == "m y=2.0 7"
    with pytest.raises(ValueError, match="no fields"):
        line("m", {}, {"x": None}, 7)
