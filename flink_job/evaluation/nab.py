"""Faithful NAB scorer (see shared/datasets/NAB/SCORING.md).

A file is scored from its per-row anomaly scores, its labelled windows mapped to row indices and a
profile.  The corpus threshold is optimised by an exact sweep over every distinct score value: the rows
of all files are sorted by score once and the raw score is updated incrementally as theta falls.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from flink_job.core.floats import add_up


@dataclass(frozen=True)
class Profile:
    """Cost matrix of one NAB application profile."""

    name: str
    a_tp: float
    a_fp: float
    a_fn: float


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", 1.0, 0.11, 1.0),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", 1.0, 0.11, 2.0),
}


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def scaled_sigmoid(y: float) -> float:
    """NAB's S(y): 2*sigmoid(-5y) - 1 for y <= 3, else -1."""
    if y > 3.0:
        return -1.0
    return 2.0 * sigmoid(-5.0 * y) - 1.0


S_MINUS_ONE = scaled_sigmoid(-1.0)  # 0.98661..., normalises a first-row detection to exactly A_TP


def probation_length(n: int) -> int:
    """Rows i < P are never scored: P = min(floor(0.15 n), 750)."""
    return min(math.floor(0.15 * n), 750)


def windows_to_rows(timestamps: Sequence[np.datetime64] | np.ndarray,
                    windows: Sequence[tuple[np.datetime64, np.datetime64]]) -> list[tuple[int, int]]:
    """Map [start, end] timestamp windows to inclusive row ranges [L, R] of a sorted timestamp column.

    Windows that cover no row are dropped only if they lie entirely outside the file; NAB's labels
    always fall inside their file.
    """
    ts = np.asarray(timestamps, dtype="datetime64[ns]")
    out: list[tuple[int, int]] = []
    for start, end in windows:
        left = int(np.searchsorted(ts, np.datetime64(start, "ns"), side="left"))
        right = int(np.searchsorted(ts, np.datetime64(end, "ns"), side="right")) - 1
        if right >= left:
            out.append((left, right))
    return out


@dataclass
class RowWeights:
    """Per-row scoring weights of one file for one profile (rows >= probation only)."""

    probation: int
    window_of_row: np.ndarray  # int32, window index or -1 (outside windows)
    weight: np.ndarray  # float64, weight of a detection at that row
    n_windows: int


def row_weights(n: int, windows: Sequence[tuple[int, int]], profile: Profile) -> RowWeights:
    """Weight of a detection at every row, following SCORING.md step 3."""
    probation = probation_length(n)
    window_of_row = np.full(n, -1, dtype=np.int32)
    weight = np.empty(n, dtype=np.float64)
    wins = sorted(windows)
    starts = [w[0] for w in wins]
    ends = [w[1] for w in wins]
    for i in range(n):
        k = bisect_right(starts, i) - 1  # last window starting at or before i
        if k >= 0 and i <= ends[k]:
            left, right = wins[k]
            width = right - left + 1
            y = -(right - i + 1) / width
            window_of_row[i] = k
            weight[i] = profile.a_tp * scaled_sigmoid(y) / S_MINUS_ONE
            continue
        j = bisect_left(ends, i) - 1  # most recent window that ended before i
        if j < 0:
            weight[i] = -profile.a_fp
        else:
            right_p = ends[j]
            width_p = right_p - wins[j][0] + 1
            y = (i - right_p) / max(width_p - 1, 1)
            weight[i] = profile.a_fp * scaled_sigmoid(y)
    return RowWeights(probation, window_of_row, weight, len(wins))


@dataclass
class FileResult:
    """Score of one file at one threshold."""

    score: float
    detections: int  # scored rows (>= probation) at or above theta
    true_positives: int  # windows with at least one detection
    false_negatives: int
    false_positives: int  # detected scored rows outside every window
    window_scores: list[float] = field(default_factory=list)


def score_file(scores: Sequence[float] | np.ndarray, weights: RowWeights, theta: float,
               profile: Profile) -> FileResult:
    """File score at threshold theta (SCORING.md step 4)."""
    s = np.asarray(scores, dtype=np.float64)
    p = weights.probation
    detected = np.nonzero(s[p:] >= theta)[0] + p
    best = [None] * weights.n_windows
    fp_rows = 0
    total = 0.0
    for i in detected:
        k = weights.window_of_row[i]
        w = float(weights.weight[i])
        if k < 0:
            fp_rows += 1
            total += w
        elif best[k] is None or w > best[k]:
            best[k] = w
    window_scores = [-profile.a_fn if b is None else b for b in best]
    total += add_up(window_scores)
    tp = sum(1 for b in best if b is not None)
    return FileResult(total, int(detected.size), tp, weights.n_windows - tp, fp_rows, window_scores)


def normalise(raw: float, n_windows: int, profile: Profile) -> float:
    """100 * (raw - null) / (perfect - null); null = never fires, perfect = first row of every window."""
    perfect = profile.a_tp * n_windows
    null = -profile.a_fn * n_windows
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)


@dataclass
class SweepResult:
    """Best corpus threshold for one profile (exact sweep over all distinct score values)."""

    theta: float
    raw: float
    normalised: float
    candidates: int


def optimise_threshold(files: Sequence[tuple[np.ndarray, RowWeights]], profile: Profile) -> SweepResult:
    """Exact sweep: the theta among distinct scores maximising the corpus raw score.

    All scored rows of all files are sorted by score, descending; lowering theta past a group of equal
    scores adds their rows as detections.  A false positive adds its weight; a window keeps its largest
    weight (its earliest detection), replacing -A_FN on its first detection.  O(N log N).
    """
    all_scores, all_weights, all_windows = [], [], []
    offset = 0
    n_windows = 0
    for scores, w in files:
        p = w.probation
        s = np.asarray(scores, dtype=np.float64)[p:]
        all_scores.append(s)
        all_weights.append(w.weight[p:])
        win = w.window_of_row[p:].astype(np.int64)
        all_windows.append(np.where(win >= 0, win + offset, -1))
        offset += w.n_windows
        n_windows += w.n_windows
    s = np.concatenate(all_scores) if all_scores else np.empty(0)
    wt = np.concatenate(all_weights) if all_weights else np.empty(0)
    win = np.concatenate(all_windows) if all_windows else np.empty(0, dtype=np.int64)
    order = np.argsort(-s, kind="stable")
    s, wt, win = s[order].tolist(), wt[order].tolist(), win[order].tolist()

    best_in_window: list[float | None] = [None] * n_windows
    total = -profile.a_fn * n_windows
    best_raw, best_theta = total, math.inf  # theta above every score = the null detector
    candidates = 0
    i, n = 0, len(s)
    while i < n:
        theta = s[i]
        while i < n and s[i] == theta:
            k = win[i]
            if k < 0:
                total += wt[i]
            else:
                prev = best_in_window[k]
                if prev is None:
                    total += wt[i] + profile.a_fn
                    best_in_window[k] = wt[i]
                elif wt[i] > prev:
                    total += wt[i] - prev
                    best_in_window[k] = wt[i]
            i += 1
        candidates += 1
        if total > best_raw:
            best_raw, best_theta = total, theta
    return SweepResult(best_theta, best_raw, normalise(best_raw, n_windows, profile), candidates)


def score_corpus(files: Sequence[tuple[np.ndarray, RowWeights]], theta: float,
                 profile: Profile) -> tuple[float, float, list[FileResult]]:
    """Raw and normalised corpus score at a fixed theta, plus per-file results."""
    results = [score_file(scores, w, theta, profile) for scores, w in files]
    raw = add_up(r.score for r in results)
    n_windows = sum(w.n_windows for _, w in files)
    return raw, normalise(raw, n_windows, profile), results
