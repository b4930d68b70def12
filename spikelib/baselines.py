"""Non-spiking reference points on the same encoding and error measure.

- the mean-image predictor (every reconstruction is the training mean),
- PCA with as many components as the embedding (the best linear code),
- the conventional autoencoder of the same embedding size
  (`spikelib.conventional`).

All work on values in [0, 1] (`as_values`: a silent input counts as 1.0),
so their mean squared error is the spike-time MSE of `reconstruction_error`.
"""

import numpy as np

from spikelib.encoding import as_values


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
