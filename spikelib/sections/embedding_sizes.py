"""Section "Embedding sizes" (claim C5).

The tuned row of every embedding size of the profile (noise 0, latency 1)
on each data set and seed, beside PCA with as many components and the
mean-image predictor.  Sizes outside the tuned grid (`extra_hidden_sizes`,
e.g. 64) reuse the hyperparameters of the largest tuned size.
"""

import numpy as np

from spikelib.baselines import mean_image_error, mse
from spikelib.config import HIDDEN_SIZES
from spikelib.encoding import as_values
from spikelib.runs import Run
from spikelib.sections.common import CURVE, RUN, curve_rows, run_row
from spikelib.sections.schema import Table

NOISE, LATENCY = 0.0, 1

TABLES = {
    # One row per data set, embedding size and seed: the SAE run, PCA of that size, mean image.
    "embedding_sizes": Table("embedding_sizes", {**RUN, "pca_mse": "float",
                                                 "mean_image_mse": "float", "tuned": "bool"}),
    "embedding_sizes_curves": Table("embedding_sizes_curves", CURVE),
}


def sizes(profile):
    """The profile's embedding sizes: the tuned ones, then the extensions, ascending."""
    return sorted(set(profile.hidden_sizes) | set(profile.extra_hidden_sizes))


def run(profile, dataset, n_hidden, seed):
    """The spiking run of `dataset` with `n_hidden` hidden neurons and `seed`."""
    return Run("sae", profile.config(dataset, noise=NOISE, latency=LATENCY, n_hidden=n_hidden,
                                     seed=seed))


def runs(profile):
    return [run(profile, dataset, n_hidden, seed) for dataset in profile.datasets
            for n_hidden in sizes(profile) for seed in profile.seeds]


def principal_axes(train_clean):
    """Mean and principal axes (rows, by decreasing variance) of the training values."""
    train = as_values(train_clean).astype(np.float64)
    mean = train.mean(axis=0)
    return mean, np.linalg.svd(train - mean, full_matrices=False)[2]


def pca_errors(axes, test_inputs, test_clean, n_components):
    """Per-example error of the rank-`n_components` PCA code (as `baselines.pca_error`).

    `axes` is `principal_axes` of the training set, shared by every size.
    """
    mean, components = axes
    basis = components[:n_components]
    codes = (as_values(test_inputs) - mean) @ basis.T
    return mse(np.clip(codes @ basis + mean, 0.0, 1.0), test_clean)


def tables(profile, results):
    rows, curves, axes = [], [], {}
    for item in runs(profile):
        found = results(item)
        data = results.data(item.config)
        n_hidden = item.config.network.n_hidden
        # The clean training images do not depend on the seed: one SVD per data split.
        if item.config.data not in axes:
            axes[item.config.data] = principal_axes(data.train_clean)
        rows.append(dict(**run_row(profile, item, found),
                         pca_mse=float(pca_errors(axes[item.config.data], data.test_inputs,
                                                  data.test_clean, n_hidden).mean()),
                         mean_image_mse=float(mean_image_error(data.train_clean,
                                                               data.test_clean).mean()),
                         tuned=n_hidden in HIDDEN_SIZES))
        curves.extend(curve_rows(profile, item, found))
    return {"embedding_sizes": TABLES["embedding_sizes"].frame(rows),
            "embedding_sizes_curves": TABLES["embedding_sizes_curves"].frame(curves)}
