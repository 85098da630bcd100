"""NAB scorer against hand-computed cases (SCORING.md)."""

import math

import numpy as np
import pytest

from flink_job.core.floats import add_up
from flink_job.evaluation import nab

STD = nab.PROFILES["standard"]
N = 1000  # probation = 150
WINDOWS = [(300, 349), (600, 699)]


def scores_at(rows, n=N, value=1.0):
    s = np.zeros(n)
    for r in rows:
        s[r] = value
    return s


def corpus(scores, windows=WINDOWS, profile=STD, n=N):
    return [(scores, nab.row_weights(n, windows, profile))]


def test_scaled_sigmoid_and_probation():
    assert pytest.approx(0.9866142981514305) == nab.S_MINUS_ONE
    assert nab.scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert nab.scaled_sigmoid(3.5) == -1.0
    assert nab.probation_length(1000) == 150
    assert nab.probation_length(100_000) == 750


@pytest.mark.parametrize("profile", list(nab.PROFILES.values()), ids=lambda p: p.name)
def test_perfect_detector_scores_100_and_null_scores_0(profile):
    perfect = corpus(scores_at([300, 600]), profile=profile)
    assert nab.score_corpus(perfect, 0.5, profile)[1] == pytest.approx(100.0)
    assert nab.optimise_threshold(perfect, profile).normalised == pytest.approx(100.0)
    null = corpus(np.zeros(N), profile=profile)
    assert nab.score_corpus(null, 0.5, profile)[1] == pytest.approx(0.0)
    assert nab.optimise_threshold(null, profile).normalised == pytest.approx(0.0)


def test_window_weight_by_position():
    w = nab.row_weights(N, WINDOWS, STD)
    assert w.weight[300] == pytest.approx(1.0)  # first row of the window
    mid = 300 + 25  # y = -(349 - 325 + 1) / 50 = -0.5
    assert w.weight[mid] == pytest.approx((2 / (1 + math.exp(-2.5)) - 1) / nab.S_MINUS_ONE)
    assert abs(w.weight[349]) < 0.1  # last row: about zero


def test_early_detection_beats_late():
    early = nab.score_file(scores_at([305]), nab.row_weights(N, WINDOWS, STD), 0.5, STD).score
    late = nab.score_file(scores_at([340]), nab.row_weights(N, WINDOWS, STD), 0.5, STD).score
    assert early > late


def test_only_earliest_detection_in_a_window_counts():
    w = nab.row_weights(N, WINDOWS, STD)
    one = nab.score_file(scores_at([305]), w, 0.5, STD)
    many = nab.score_file(scores_at(range(305, 340)), w, 0.5, STD)
    assert many.score == pytest.approx(one.score)
    assert many.false_positives == 0


def test_each_held_alarm_row_is_a_false_positive():
    w = nab.row_weights(N, WINDOWS, STD)
    res = nab.score_file(scores_at(range(200, 205)), w, 0.5, STD)  # before any window: -A_FP each
    assert res.false_positives == 5
    assert res.score == pytest.approx(-5 * 0.11 - 2 * 1.0)


def test_probation_rows_are_ignored():
    w = nab.row_weights(N, WINDOWS, STD)
    res = nab.score_file(scores_at([10, 100, 149]), w, 0.5, STD)
    assert res.detections == 0 and res.score == pytest.approx(-2.0)


def test_false_positive_after_a_window_decays_towards_minus_a_fp():
    w = nab.row_weights(N, WINDOWS, STD)
    assert -0.11 < w.weight[351] < 0  # just after the window: cheap
    assert w.weight[999] == pytest.approx(-0.11, abs=1e-3)  # y > 3 after the last window: full cost
    # between windows the decay refers to the most recent window that ended
    assert w.weight[450] == pytest.approx(0.11 * nab.scaled_sigmoid((450 - 349) / 49))


def test_optimised_threshold_drops_low_scored_false_positives():
    s = scores_at([300, 600], value=0.9)
    s[200:260] = 0.4  # 60 false positives at a lower score
    sweep = nab.optimise_threshold(corpus(s), STD)
    assert sweep.theta == pytest.approx(0.9)
    assert sweep.normalised == pytest.approx(100.0)
    assert sweep.candidates == 3  # 0.9, 0.4, 0.0


def test_sweep_matches_fixed_scoring_at_every_candidate():
    rng = np.random.default_rng(1)
    files = [(np.round(rng.random(N) ** 8, 2), nab.row_weights(N, WINDOWS, STD)),
             (np.round(rng.random(N) ** 8, 2), nab.row_weights(N, [(500, 560)], STD))]
    best = nab.optimise_threshold(files, STD)
    brute = max(nab.score_corpus(files, t, STD)[0] for t in np.unique(np.concatenate([f[0] for f in files])))
    assert best.raw == pytest.approx(max(brute, -3.0))


def test_windows_map_from_timestamps_to_rows():
    ts = np.arange("2020-01-01T00:00", "2020-01-01T01:00", np.timedelta64(5, "m"), dtype="datetime64[m]")
    rows = nab.windows_to_rows(ts, [(np.datetime64("2020-01-01T00:07"), np.datetime64("2020-01-01T00:20"))])
    assert rows == [(2, 4)]  # 00:10, 00:15, 00:20


def test_scores_add_up_left_to_right_on_every_python():
    """3.12's sum() compensates ([1e16, 1.0, -1e16] -> 1.0); the scorer adds as 3.11 and the official
    scorer's Python do, so a corpus score is the same last bit on the job's and the notebooks' Pythons."""
    assert add_up([1e16, 1.0, -1e16]) == 0.0
    assert add_up(iter([0.25, 0.5])) == 0.75
