"""The conventional (non-spiking) autoencoder the spiking one is compared with.

784 -> n_hidden -> 784 dense layers on the same encoded values in [0, 1]
(`encoding.as_values`), noisy inputs and clean targets, split and error
measure as the spiking run it is matched to.  The paper does not say how
its conventional autoencoders were built; the few choices here (code
activation, learning rate, batch size) were picked by a search on the
validation split (`benchmarks/baseline_search.py`, its table in
`spikelib/baseline_search.csv`, shown in the comparison chapter).  It
trains under its own budget (`Profile.baseline_budget`) until the book's
judgement of convergence (`spikelib.convergence`) says it is no longer
learning: its last `patience` epochs together gained less than
`min_delta` on the best before them.  The spiking autoencoder's per-epoch
rule (`spikelib.stopping`) stops a curve that falls steadily by a little
less than `min_delta` per epoch, which the conventional autoencoder's
curves do for tens of epochs; the baseline trains ~20x faster, so it can
afford to run until flat.
"""

import dataclasses
import math

import keras
import numpy as np

from spikelib.baselines import mse
from spikelib.encoding import N_PIXELS, as_values
from spikelib.convergence import still_learning


@dataclasses.dataclass(frozen=True)
class ConventionalParameters:
    """The conventional autoencoder's own choices (the search's best, see the module doc)."""

    code_activation: str = "linear"
    learning_rate: float = 1e-3
    batch_size: int = 32


class ConventionalAutoencoder(keras.Model):
    """784 -> n_hidden (code activation) -> 784 (sigmoid) dense autoencoder."""

    def __init__(self, n_hidden, hidden_activation="linear", seed=0, **kwargs):
        super().__init__(**kwargs)
        init = keras.initializers.GlorotUniform
        self.encoder = keras.layers.Dense(n_hidden, activation=hidden_activation,
                                          kernel_initializer=init(seed), name="encoder")
        self.decoder = keras.layers.Dense(N_PIXELS, activation="sigmoid",
                                          kernel_initializer=init(seed + 1), name="decoder")

    def call(self, values):
        return self.decoder(self.encoder(values))

    def embed(self, values):
        return self.encoder(values)


def new_conventional(n_hidden, seed, parameters=ConventionalParameters()):
    """An untrained ConventionalAutoencoder with its variables (built by a call)."""
    model = ConventionalAutoencoder(n_hidden, parameters.code_activation, seed=seed)
    model(np.zeros((1, N_PIXELS), "float32"))
    return model


class StopWhenFlat(keras.callbacks.Callback):
    """Stop once the curve is no longer learning (`convergence.still_learning`); best weights kept.

    Judged from epoch `patience` + 1 on, as a run stopped by its rule
    would be; no patience: never stopped early.
    """

    def __init__(self, patience, min_delta):
        super().__init__()
        self.patience, self.min_delta = patience, min_delta
        self.best_error, self.best_weights, self.curve = math.inf, None, []

    def on_epoch_end(self, epoch, logs=None):
        validation = float(logs["val_loss"])
        self.curve.append(validation)
        if validation < self.best_error:
            self.best_error, self.best_weights = validation, self.model.get_weights()
        if (self.patience is not None and len(self.curve) > self.patience
                and not still_learning(self.curve, "patience", self.patience, self.min_delta)):
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def train_conventional(config, data, parameters=ConventionalParameters(), progress=False):
    """Train a ConventionalAutoencoder on `data` (a PreparedData) as `config.budget` says.

    Adam on the MSE; stopped once its last `budget.patience` epochs together
    gained less than the relative `budget.min_delta` in validation error on
    the best before them, or at `budget.epochs`; the best-validation weights
    are the ones tested.
    Returns (model, per-example test errors, history).
    """
    budget = config.budget
    keras.utils.set_random_seed(config.seed)
    model = new_conventional(config.network.n_hidden, config.seed, parameters)
    model.compile(optimizer=keras.optimizers.Adam(parameters.learning_rate), loss="mse",
                  jit_compile=True)
    history = model.fit(
        as_values(data.train_inputs), as_values(data.train_clean),
        validation_data=(as_values(data.validation_inputs), as_values(data.validation_clean)),
        epochs=budget.epochs, batch_size=parameters.batch_size, shuffle=True,
        verbose=1 if progress else 0,
        callbacks=[StopWhenFlat(budget.patience, budget.min_delta)])
    reconstruction = model.predict(as_values(data.test_inputs), batch_size=1000, verbose=0)
    return model, mse(reconstruction, data.test_clean), history.history
