"""Non-spiking reference points on the same encoding and error measure.

- the mean-image predictor (every reconstruction is the training mean),
- PCA with as many components as the embedding (the best linear code),
- a conventional autoencoder of the same embedding size, trained on the
  same encoded inputs and clean targets with the same split and epochs.

All work on values in [0, 1] (`as_values`: a silent input counts as 1.0),
so their mean squared error is the spike-time MSE of `reconstruction_error`.
"""

import keras
import numpy as np

from spikelib.encoding import N_PIXELS, as_values


def mse(reconstruction, clean_times):
    """Per-example mean squared error against the clean values, (n,)."""
    return np.mean((np.asarray(reconstruction) - as_values(clean_times)) ** 2, axis=1)


def mean_image_error(train_clean, test_clean):
    """Per-example error of predicting the mean training image."""
    mean = as_values(train_clean).mean(axis=0, keepdims=True)
    return mse(np.broadcast_to(mean, as_values(test_clean).shape), test_clean)


def pca_error(train_clean, test_inputs, test_clean, n_components):
    """Per-example error of the rank-n_components PCA code of the training values."""
    train = as_values(train_clean).astype(np.float64)
    mean = train.mean(axis=0)
    _, _, components = np.linalg.svd(train - mean, full_matrices=False)
    basis = components[:n_components]
    codes = (as_values(test_inputs) - mean) @ basis.T
    return mse(np.clip(codes @ basis + mean, 0.0, 1.0), test_clean)


class ConventionalAutoencoder(keras.Model):
    """784 -> n_hidden (sigmoid) -> 784 (sigmoid) dense autoencoder."""

    def __init__(self, n_hidden, hidden_activation="sigmoid", seed=0, **kwargs):
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


def train_conventional(config, data, learning_rate=1e-3, batch_size=32, progress=False):
    """Train a ConventionalAutoencoder on `data` (a PreparedData) as `config.budget` says.

    Same embedding size, noisy inputs, clean targets, split and epoch budget
    as the spiking run of `config`; Adam on the MSE, stopped early with the
    same patience (on an absolute improvement), best validation epoch kept.
    Returns (model, per-example test errors, history).
    """
    budget = config.budget
    keras.utils.set_random_seed(config.seed)
    model = ConventionalAutoencoder(config.network.n_hidden, seed=config.seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse", jit_compile=True)
    keep_best = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=budget.patience or budget.epochs, restore_best_weights=True)
    history = model.fit(
        as_values(data.train_inputs), as_values(data.train_clean),
        validation_data=(as_values(data.validation_inputs), as_values(data.validation_clean)),
        epochs=budget.epochs, batch_size=batch_size, shuffle=True,
        verbose=1 if progress else 0, callbacks=[keep_best])
    reconstruction = model.predict(as_values(data.test_inputs), batch_size=1000, verbose=0)
    return model, mse(reconstruction, data.test_clean), history.history
