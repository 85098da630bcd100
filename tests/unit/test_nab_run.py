"""The NAB targets of the default configuration, on the real corpus (skipped where it is absent)."""

import pytest

from flink_job.evaluation import nab_run

DATA = nab_run.default_data_dir()


@pytest.mark.skipif(not (DATA / "labels" / "combined_windows.json").exists(),
                    reason=f"no NAB corpus at {DATA}")
def test_targets_on_the_real_corpus():
    report = nab_run.evaluate(DATA, workers=2, progress=False)
    assert len(report["files"]) == 58
    assert report["standard"] >= 65.0, report["standard"]
    assert report["reward_low_FP_rate"] >= 50.0, report["reward_low_FP_rate"]
    # production alerts as they are (no threshold above alert_threshold) meet them too
    assert report["fixed_threshold"]["standard"] >= 65.0
    assert report["fixed_threshold"]["reward_low_FP_rate"] >= 50.0
