"""Section "Embedding sizes" (claim C5).

The tuned row of every embedding size of the profile (noise 0, latency 1)
on each data set and seed, beside PCA with as many components and the
mean-image predictor.  Sizes outside the tuned grid (`extra_hidden_sizes`,
e.g. 64) reuse the hyperparameters of the largest tuned size.
"""

from spikelib.analysis import reference_errors
from spikelib.config import HIDDEN_SIZES
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


def tables(profile, results):
    rows, curves = [], []
    for item in runs(profile):
        found = results(item)
        rows.append(dict(**run_row(profile, item, found), **reference_errors(item.config),
                         tuned=item.config.network.n_hidden in HIDDEN_SIZES))
        curves.extend(curve_rows(profile, item, found))
    return {"embedding_sizes": TABLES["embedding_sizes"].frame(rows),
            "embedding_sizes_curves": TABLES["embedding_sizes_curves"].frame(curves)}
