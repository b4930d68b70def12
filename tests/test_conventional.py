"""The conventional autoencoder: its stopping rule, its budget under a profile, its reload."""

import numpy as np

from spikelib.config import paper_config
from spikelib.conventional import StopWhenFlat, train_conventional
from spikelib.experiment import prepare_data
from spikelib.profiles import get_profile
from spikelib.sections import comparison, inhibition


def _tiny(**changes):
    budget = dict(epochs=6, train_examples=300, validation_examples=100, test_examples=100)
    return paper_config(0.0, 1, 8, **{**budget, **changes})


class _Model:
    stop_training = False

    def get_weights(self):
        return [np.zeros(1)]


def _stopped_after(curve, patience, min_delta):
    callback = StopWhenFlat(patience, min_delta)
    callback.set_model(_Model())
    for epoch, error in enumerate(curve):
        callback.on_epoch_end(epoch, {"val_loss": error})
        if callback.model.stop_training:
            return epoch + 1
    return None


def _falling(start, gain, epochs):
    return [start * (1.0 - gain) ** epoch for epoch in range(epochs)]


def test_it_stops_once_its_last_epochs_together_gained_less_than_the_margin():
    # A 10 % gain, then 0.9 % per epoch: two epochs together gain 1.8 %, under a
    # 2 % margin (stop at epoch 4, the first judged on two such epochs) and over 0.5 %.
    curve = [0.10] + _falling(0.09, 0.009, 6)
    assert _stopped_after(curve, patience=2, min_delta=0.02) == 4
    assert _stopped_after(curve, patience=2, min_delta=0.005) is None
    assert _stopped_after(curve, patience=None, min_delta=0.0) is None


def test_a_slow_steady_decline_is_not_stopped():
    # 0.4 % per epoch: each epoch is under a 0.5 % margin on the best (the spiking
    # autoencoder's per-epoch rule would stop it after 5), five together are not.
    assert _stopped_after(_falling(0.05, 0.004, 30), patience=5, min_delta=0.005) is None
    flattening = _falling(0.05, 0.004, 10) + [0.05 * 0.996 ** 9 * (1 - 0.0005 * k)
                                             for k in range(1, 10)]
    assert _stopped_after(flattening, patience=5, min_delta=0.005) == 15


def test_training_stops_early_and_keeps_the_best_validation_weights():
    config = _tiny(patience=1, min_delta=0.9)
    model, errors, history = train_conventional(config, prepare_data(config))
    assert len(history["val_loss"]) == 2
    data = prepare_data(config)
    from spikelib.encoding import as_values
    validation = model.evaluate(as_values(data.validation_inputs),
                                as_values(data.validation_clean), verbose=0)
    np.testing.assert_allclose(validation, min(history["val_loss"]), rtol=1e-5)
    assert errors.shape == (100,)


def test_the_book_profile_gives_the_baseline_and_the_ablation_their_own_budgets():
    book = get_profile("book")
    sae = comparison.run(book, "mnist", 16, 0).config.budget
    ann = comparison.run(book, "mnist", 16, 0, "ann").config.budget
    assert (sae.epochs, sae.patience) == (book.epochs, book.patience)
    assert (ann.epochs, ann.patience, ann.min_delta) == (100, 5, 0.005)
    ablation = inhibition.run(book, "mnist", 16, 0, nonnegative_weights=True).config
    assert ablation.network.nonnegative_weights and ablation.budget.epochs == 30
    assert inhibition.run(book, "mnist", 16, 0).config.budget.epochs == book.epochs
