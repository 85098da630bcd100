"""The arrival-order rule the job, score-csv and the NAB run share (flink_job.core.detection.order)."""

from flink_job.core.detection.order import aside_reason, behind_ms, in_order


def test_behind_is_zero_for_the_first_reading_equal_and_later_times():
    assert behind_ms(None, 5) == 0
    assert behind_ms(-1, 5) == 0  # the job's "no reading yet"
    assert behind_ms(5, 5) == 0
    assert behind_ms(5, 9) == 0
    assert behind_ms(9, 5) == 4


def test_in_order_sets_aside_every_reading_older_than_the_newest_judged():
    # NAB's machine_temperature file repeats an hour: 02:55 is followed by 02:00 .. 02:55 again
    ts = [0, 10, 20, 30, 5, 15, 25, 30, 31, 29, 40]
    assert list(in_order(ts)) == [True, True, True, True, False, False, False, True, True, False, True]


def test_the_reason_names_the_gap_and_the_newest_reading():
    assert aside_reason(3000, 1_700_000_003_000) == (
        "out of order: 3000 ms older than its device's newest reading (ts 1700000003000); not in detection")
