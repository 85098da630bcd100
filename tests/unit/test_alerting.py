"""Alert policy: onset, hold-off during the episode, recovery with hysteresis, cooldown, debounce."""

from flink_job.core.detection.alerting import AlertPolicy, NoveltyGate


def feed(policy, scores, t0=0, dt=1000):
    return [policy.step(s, t0 + i * dt) for i, s in enumerate(scores)]


def test_one_alert_at_onset_none_during_the_episode():
    p = AlertPolicy(alert_threshold=0.5, recovery_threshold=0.3, recovery_readings=2)
    out = feed(p, [0.1, 0.6, 0.9, 0.4, 0.2, 0.7, 0.2, 0.2, 0.1])
    assert [a for a, _ in out] == [False, True, True, True, True, True, True, False, False]
    assert [al for _, al in out] == [False, True, False, False, False, False, False, False, False]


def test_new_alert_after_recovery_and_cooldown():
    p = AlertPolicy(alert_threshold=0.5, recovery_threshold=0.3, recovery_readings=1, cooldown_readings=5)
    out = feed(p, [0.9, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1, 0.9])
    assert [al for _, al in out] == [True, False, False, False, False, False, False, True]
    # the episode that started inside the cooldown is flagged anomalous but not alerted
    assert out[2] == (True, False)


def test_cooldown_in_event_time():
    p = AlertPolicy(alert_threshold=0.5, recovery_threshold=0.3, cooldown_ms=10_000)
    out = feed(p, [0.9, 0.1, 0.9, 0.1] + [0.1] * 8 + [0.9])
    assert [i for i, (_, al) in enumerate(out) if al] == [0, 12]


def test_hysteresis_score_hovering_at_threshold_does_not_flap():
    p = AlertPolicy(alert_threshold=0.5, recovery_threshold=0.3)
    out = feed(p, [0.55, 0.45, 0.52, 0.48, 0.51])
    assert all(a for a, _ in out) and sum(al for _, al in out) == 1


def test_debounce_needs_consecutive_readings():
    p = AlertPolicy(alert_threshold=0.5, recovery_threshold=0.3, debounce_readings=3)
    out = feed(p, [0.9, 0.9, 0.1, 0.9, 0.9, 0.9])
    assert [al for _, al in out] == [False, False, False, False, False, True]


def test_state_round_trip():
    p = AlertPolicy(cooldown_readings=3)
    feed(p, [0.9, 0.1])
    q = AlertPolicy(cooldown_readings=3)
    q.load_state(p.to_state())
    assert feed(p, [0.9, 0.1, 0.1, 0.9]) == feed(q, [0.9, 0.1, 0.1, 0.9])


def test_novelty_gate_halves_scores_below_the_recent_peak():
    g = NoveltyGate(decay=0.9)
    assert g.apply(0.8) == 0.8
    assert g.apply(0.6) == 0.3  # below the decayed peak 0.72
    assert g.apply(0.7) == 0.7  # beats the peak decayed twice (0.648)
    assert NoveltyGate(decay=0.0).apply(0.3) == 0.3
