"""Section "Spiking versus conventional autoencoders" (claim C2).

For every data set, embedding size and seed: the SAE of the tuned row with
noise 0 and latency 1, and the conventional autoencoder (ANN AE) trained on
the same encoded inputs, clean targets, split and epochs, both scored with
the same test MSE.
"""

import numpy as np

from spikelib.analysis import reference_errors
from spikelib.runs import Run
from spikelib.sections.common import CURVE, RUN, curve_rows, identity, run_row
from spikelib.sections.schema import Table

NOISE, LATENCY = 0.0, 1
MODELS = ("sae", "ann")

TABLES = {
    # One row per data set, size, seed and model.  ANN rows: health "ok",
    # silent shares NaN (its units do not spike).
    "comparison": Table("comparison", {**RUN, "model": "str", "mean_image_mse": "float",
                                       "pca_mse": "float"}),
    # Per epoch of every run; the ANN AE records no per-epoch test error (NaN).
    "comparison_curves": Table("comparison_curves", {**CURVE, "model": "str",
                                                     "mean_image_mse": "float",
                                                     "pca_mse": "float"}),
}


def run(profile, dataset, n_hidden, seed, model="sae"):
    """The `model` ("sae" or "ann") of `dataset`, embedding size and seed under `profile`."""
    return Run(model, profile.config(dataset, noise=NOISE, latency=LATENCY, n_hidden=n_hidden,
                                     seed=seed))


def runs(profile):
    return [run(profile, dataset, n_hidden, seed, model) for dataset in profile.datasets
            for n_hidden in profile.hidden_sizes for seed in profile.seeds for model in MODELS]


def ann_run_row(profile, item, results):
    """The RUN columns of a finished conventional autoencoder run."""
    validation = results["history"]["val_loss"]
    epochs_run = len(validation)
    stop_reason = "max_epochs" if epochs_run >= item.config.budget.epochs else "patience"
    return dict(**identity(item), test_mse=results["test_mse"],
                best_epoch=int(np.argmin(validation)) + 1, epochs_run=epochs_run,
                stop_reason=stop_reason, health="ok", silent_hidden_share=np.nan,
                silent_output_share=np.nan, **profile.budget())


def ann_curve_rows(profile, item, results):
    """Per-epoch training and validation MSE of a conventional autoencoder run."""
    history = results["history"]
    return [dict(**identity(item), epoch=epoch, train_mse=train, validation_mse=validation,
                 test_mse=np.nan, **profile.budget())
            for epoch, (train, validation) in enumerate(zip(history["loss"],
                                                            history["val_loss"]), start=1)]


def tables(profile, results):
    rows, curves = [], []
    for item in runs(profile):
        found = results(item)
        references = reference_errors(item.config)
        if item.kind == "sae":
            row, curve = run_row(profile, item, found), curve_rows(profile, item, found)
        else:
            row, curve = ann_run_row(profile, item, found), ann_curve_rows(profile, item, found)
        rows.append(dict(row, model=item.kind, **references))
        curves += [dict(point, model=item.kind, **references) for point in curve]
    return {"comparison": TABLES["comparison"].frame(rows),
            "comparison_curves": TABLES["comparison_curves"].frame(curves)}
