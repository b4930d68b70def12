"""The "still learning" rule, on measured curves and hand-made edge cases."""

from spikelib.convergence import still_learning

# Validation MSE per epoch measured on MNIST (seed 0, full split): the (0, 16, 32)
# row, still falling steeply at its 14-epoch cap, and the README row, flat at 10.
FALLING = [0.0960, 0.0685, 0.0644, 0.0642, 0.0645, 0.0640, 0.0640, 0.0640, 0.0617, 0.0552,
           0.0384, 0.0318, 0.0272, 0.0238]
FLAT = [0.0209, 0.0138, 0.0131, 0.0123, 0.0121, 0.0118, 0.0117, 0.0116, 0.0115, 0.0115]


# The conventional autoencoder (MNIST, 8 hidden, seed 0) under the book profile: falling
# by ~0.4 % per epoch, so the stopping rule (5 epochs without a 0.5 % gain on the best
# so far) stopped it at epoch 8, although it had gained 2.2 % in its last 5 epochs.
STEADY = [0.03576, 0.03525, 0.03504, 0.03487, 0.03471, 0.03457, 0.03442, 0.03427]


def test_a_run_stopped_by_the_rule_on_a_flat_curve_is_not_still_learning():
    assert not still_learning(FLAT, "patience", patience=2, min_delta=0.02)
    assert not still_learning(FALLING[:8], "patience", patience=2, min_delta=0.02)


def test_a_run_stopped_by_the_rule_while_falling_steadily_is_still_learning():
    from spikelib.stopping import epochs_without_improvement
    best, since = float("inf"), 0
    for epoch, error in enumerate(STEADY, start=1):
        since = epochs_without_improvement(error, best, since, 0.005)
        best = min(best, error)
    assert since == 5  # the rule stops it here
    assert still_learning(STEADY, "patience", patience=5, min_delta=0.005)


def test_a_run_falling_at_its_cap_is_still_learning():
    assert still_learning(FALLING, "max_epochs", patience=2, min_delta=0.02)


def test_a_run_flat_at_its_cap_is_not_still_learning():
    # Last two epochs 0.0115, 0.0115 against the best before, 0.0116: 0.9 % < 2 %.
    assert not still_learning(FLAT, "max_epochs", patience=2, min_delta=0.02)
    # ... but a finer rule (0.5 % over 2 epochs) sees it still improving.
    assert still_learning(FLAT, "max_epochs", patience=2, min_delta=0.005)


def test_a_run_on_the_plateau_at_its_cap_is_still_learning():
    flat_on_plateau = [0.1136, 0.0665, 0.0645, 0.0645, 0.0646, 0.0641, 0.0641, 0.0641]
    assert not still_learning(flat_on_plateau, "max_epochs", patience=2, min_delta=0.02)
    assert still_learning(flat_on_plateau, "max_epochs", patience=2, min_delta=0.02,
                          on_plateau=[False] + [True] * 7)


def test_a_budget_without_patience_is_judged_by_the_default_rule():
    assert still_learning([0.05], "max_epochs")  # one epoch: nothing says it has flattened
    assert still_learning([0.05, 0.04], "max_epochs")
    assert still_learning([0.05, 0.049, 0.049], "max_epochs")  # fewer epochs than the patience
    assert not still_learning([0.05, 0.049, 0.0489, 0.0488, 0.0487], "max_epochs")


def test_a_run_at_the_mean_image_error_is_off_target():
    from spikelib.sections.common import OFF_TARGET_SHARE, run_health
    mean_image = 0.0639

    def health(test_mse, found="ok"):
        return run_health(dict(health=found, test_mse=test_mse, mean_image_mse=mean_image))

    # The book's latency-16 ablation: equal to the mean image to three digits.
    assert health(0.0639) == "off_target"
    assert health(mean_image * OFF_TARGET_SHARE * 1.001) == "off_target"
    assert health(mean_image * OFF_TARGET_SHARE * 0.999) == "ok"
    assert health(0.0213) == "ok"
    assert health(0.0213, found="dead") == "dead"


def test_the_window_rule_trains_a_steadily_falling_curve_on():
    from spikelib.stopping import replay
    falling = [0.05 * 0.995 ** epoch for epoch in range(40)]
    assert replay(falling, 3, 0.01) == 4  # each epoch gains 0.5 %: stopped at once
    stop = replay(falling, 3, 0.01, rule="window")
    assert stop is None  # 3 epochs gain 1.5 % > 1 %: never flat
    assert replay(STEADY, 5, 0.005, rule="window") is None


def test_a_run_the_window_stops_is_flat_by_the_convergence_criterion():
    from spikelib.stopping import replay
    stop = replay(FLAT, 2, 0.02, rule="window")
    assert stop is not None
    assert not still_learning(FLAT[:stop], "patience", patience=2, min_delta=0.02)
    assert all(still_learning(FLAT[:epoch], "patience", patience=2, min_delta=0.02)
               for epoch in range(3, stop))


def test_the_window_never_stops_before_the_per_epoch_rule():
    import numpy as np
    from spikelib.stopping import replay
    rng = np.random.default_rng(0)
    for _ in range(2000):
        steps = rng.choice([0.97, 0.99, 0.995, 1.0, 1.01], size=30)
        curve = list(0.08 * np.cumprod(steps))
        plateau = 0.07 if rng.random() < 0.5 else None
        patience, min_delta = int(rng.integers(1, 5)), float(rng.choice([0.005, 0.01, 0.02]))
        per_epoch = replay(curve, patience, min_delta, plateau)
        window = replay(curve, patience, min_delta, plateau, rule="window")
        if window is not None:
            assert per_epoch is not None and per_epoch <= window


def test_the_window_waits_while_the_run_is_on_the_plateau():
    from spikelib.stopping import window_flat
    on_plateau = [0.064, 0.0641, 0.0642, 0.0643, 0.0644]
    assert window_flat(on_plateau, 3, 0.01)
    assert not window_flat(on_plateau, 3, 0.01, [error >= 0.06 for error in on_plateau])
