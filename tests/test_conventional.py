"""The conventional autoencoder: its stopping rule, its budget under a profile, its reload."""

import numpy as np

from spikelib.config import paper_config
from spikelib.conventional import StopWhenStalled, train_conventional
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
    callback = StopWhenStalled(patience, min_delta)
    callback.set_model(_Model())
    for epoch, error in enumerate(curve):
        callback.on_epoch_end(epoch, {"val_loss": error})
        if callback.model.stop_training:
            return epoch + 1
    return None


def test_it_stops_by_the_spiking_runs_relative_rule():
    # Gains of 10 %, then 1 %, 1 %, 1 %: a 2 % rule with patience 2 stops at epoch 4,
    # a 0.5 % rule never does.
    curve = [0.10, 0.09, 0.0891, 0.0882, 0.0873]
    assert _stopped_after(curve, patience=2, min_delta=0.02) == 4
    assert _stopped_after(curve, patience=2, min_delta=0.005) is None
    assert _stopped_after(curve, patience=None, min_delta=0.0) is None


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
