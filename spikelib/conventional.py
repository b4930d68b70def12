"""The conventional (non-spiking) autoencoder the spiking one is compared with.

784 -> n_hidden -> 784 dense layers on the same encoded values in [0, 1]
(`encoding.as_values`), noisy inputs and clean targets, split and error
measure as the spiking run it is matched to.  The paper does not say how
its conventional autoencoders were built; the few choices here (code
activation, learning rate, batch size) were picked by a search on the
validation split (`benchmarks/baseline_search.py`, its table in
`spikelib/baseline_search.csv`, shown in the comparison chapter), and it
stops by the same rule as the spiking autoencoder (`spikelib.stopping`)
under its own budget (`Profile.baseline_budget`).
"""

import dataclasses
import math

import keras
import numpy as np

from spikelib.baselines import mse
from spikelib.encoding import N_PIXELS, as_values
from spikelib.stopping import epochs_without_improvement


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


class StopWhenStalled(keras.callbacks.Callback):
    """The spiking autoencoder's stopping rule (`spikelib.stopping`), best weights restored."""

    def __init__(self, patience, min_delta):
        super().__init__()
        self.patience, self.min_delta = patience, min_delta
        self.best_error, self.best_weights, self.since = math.inf, None, 0

    def on_epoch_end(self, epoch, logs=None):
        validation = float(logs["val_loss"])
        self.since = epochs_without_improvement(validation, self.best_error, self.since,
                                                self.min_delta)
        if validation < self.best_error:
            self.best_error, self.best_weights = validation, self.model.get_weights()
        if self.patience is not None and self.since >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def train_conventional(config, data, parameters=ConventionalParameters(), progress=False):
    """Train a ConventionalAutoencoder on `data` (a PreparedData) as `config.budget` says.

    Adam on the MSE; stopped after `budget.patience` epochs without a
    relative gain of `budget.min_delta` in validation error, or at
    `budget.epochs`; the best-validation weights are the ones tested.
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
        callbacks=[StopWhenStalled(budget.patience, budget.min_delta)])
    reconstruction = model.predict(as_values(data.test_inputs), batch_size=1000, verbose=0)
    return model, mse(reconstruction, data.test_clean), history.history
