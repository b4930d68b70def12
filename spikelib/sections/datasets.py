"""Section "Reconstructing MNIST and Fashion-MNIST" (claim C1).

The README row (noise 0, latency 1, 32 hidden neurons) on each data set,
beside the mean-image predictor and a PCA code of the same size.
"""

from spikelib.baselines import mean_image_error, pca_error
from spikelib.runs import Run
from spikelib.sections.common import CURVE, RUN, curve_rows, run_row
from spikelib.sections.schema import Table

NOISE, LATENCY, N_HIDDEN = 0.0, 1, 32

TABLES = {
    # One row per data set and seed: the SAE run and its two reference points.
    "datasets": Table("datasets", {**RUN, "mean_image_mse": "float", "pca_mse": "float"}),
    "datasets_curves": Table("datasets_curves", CURVE),
}


def run(profile, dataset, seed):
    """The spiking run of `dataset` and `seed` under `profile`."""
    return Run("sae", profile.config(dataset, noise=NOISE, latency=LATENCY, n_hidden=N_HIDDEN,
                                     seed=seed))


def runs(profile):
    return [run(profile, dataset, seed) for dataset in profile.datasets for seed in profile.seeds]


def tables(profile, results):
    rows, curves = [], []
    for item in runs(profile):
        found = results(item)
        data = results.data(item.config)
        rows.append(dict(**run_row(profile, item, found),
                         mean_image_mse=float(mean_image_error(data.train_clean,
                                                               data.test_clean).mean()),
                         pca_mse=float(pca_error(data.train_clean, data.test_inputs,
                                                 data.test_clean, N_HIDDEN).mean())))
        curves.extend(curve_rows(profile, item, found))
    return {"datasets": TABLES["datasets"].frame(rows),
            "datasets_curves": TABLES["datasets_curves"].frame(curves)}
