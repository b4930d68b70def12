"""Section "Reconstructing MNIST and Fashion-MNIST" (claim C1).

The README row (the reference implementation's example row of the tuned
grid: noise 0, latency 1, 32 hidden neurons) on each data set, beside the
mean-image predictor and a PCA code of the same size, and how far apart
its seeds are once the epochs at which early stopping ended them are
taken out.
"""

from spikelib.analysis import reference_errors
from spikelib.runs import Run
from spikelib.sections.common import CURVE, RUN, curve_rows, run_row
from spikelib.sections.schema import BUDGET, Table

NOISE, LATENCY, N_HIDDEN = 0.0, 1, 32

TABLES = {
    # One row per data set and seed: the SAE run and its two reference points.
    "datasets": Table("datasets", {**RUN, "mean_image_mse": "float", "pca_mse": "float"}),
    "datasets_curves": Table("datasets_curves", CURVE),
    # One row per data set: the spread of its healthy seeds' test MSE as reported (each at
    # its best epoch) and after the last epoch that all of them ran.
    "datasets_seed_spread": Table("datasets_seed_spread", {
        "dataset": "str", "n_seeds": "int", "spread": "float", "common_epoch": "int",
        "max_epochs_run": "int", "common_spread": "float", **BUDGET}),
}


def run(profile, dataset, seed):
    """The spiking run of `dataset` and `seed` under `profile`."""
    return Run("sae", profile.config(dataset, noise=NOISE, latency=LATENCY, n_hidden=N_HIDDEN,
                                     seed=seed))


def runs(profile):
    return [run(profile, dataset, seed) for dataset in profile.datasets for seed in profile.seeds]


def seed_spread(profile, table, curves, by=("dataset",)):
    """Per row `by`: the seeds' test MSE spread (max - min), as reported and at a common epoch.

    Early stopping ends the seeds of a row at different epochs, so the
    reported spread mixes seed and stopping time; at the common epoch (the
    last one every healthy seed of the row ran, from the learning `curves`)
    only the seed differs.  Rows without a healthy run are left out.
    """
    by, rows = list(by), []
    for key, part in table[table["health"] == "ok"].groupby(by, sort=False):
        common = int(part["epochs_run"].min())
        ran = curves.merge(part[by + ["seed"]], on=by + ["seed"])
        at_common = ran.loc[ran["epoch"] == common, "test_mse"]
        rows.append(dict(zip(by, key), n_seeds=len(part),
                         spread=float(part["test_mse"].max() - part["test_mse"].min()),
                         common_epoch=common, max_epochs_run=int(part["epochs_run"].max()),
                         common_spread=float(at_common.max() - at_common.min()),
                         **profile.budget()))
    return rows


def tables(profile, results):
    rows, curves = [], []
    for item in runs(profile):
        found = results(item)
        rows.append(dict(**run_row(profile, item, found), **reference_errors(item.config)))
        curves.extend(curve_rows(profile, item, found))
    table, curves = TABLES["datasets"].frame(rows), TABLES["datasets_curves"].frame(curves)
    return {"datasets": table, "datasets_curves": curves,
            "datasets_seed_spread": TABLES["datasets_seed_spread"].frame(
                seed_spread(profile, table, curves))}
