"""Section "Spiking versus conventional autoencoders" (claim C2).

For every data set, embedding size and seed: the SAE of the tuned row with
noise 0 and latency 1, and the conventional autoencoder (ANN AE,
`spikelib.conventional`) trained on the same encoded inputs, clean targets
and split, trained under its own budget (`Profile.conventional`) until it
is no longer learning (`conventional.StopWhenFlat`), both scored with the
same test MSE.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from spikelib.analysis import reference_errors
from spikelib.convergence import still_learning
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
    config = profile.config(dataset, noise=NOISE, latency=LATENCY, n_hidden=n_hidden, seed=seed)
    return Run(model, profile.conventional(config) if model == "ann" else config)


def runs(profile):
    return [run(profile, dataset, n_hidden, seed, model) for dataset in profile.datasets
            for n_hidden in profile.hidden_sizes for seed in profile.seeds for model in MODELS]


def ann_run_row(profile, item, results):
    """The RUN columns of a finished conventional autoencoder run."""
    validation = results["history"]["val_loss"]
    epochs_run = len(validation)
    budget = item.config.budget
    stop_reason = "max_epochs" if epochs_run >= budget.epochs else "patience"
    return dict(**identity(item), test_mse=results["test_mse"],
                best_epoch=int(np.argmin(validation)) + 1, epochs_run=epochs_run,
                stop_reason=stop_reason,
                still_learning=still_learning(validation, stop_reason, budget.patience,
                                              budget.min_delta),
                health="ok", silent_hidden_share=np.nan,
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


def _mean_sd(values):
    """'0.0123 ± 0.0004' over seeds ('–' for none, the mean alone for one)."""
    if not len(values):
        return "–"
    return f"{values.mean():.4f}" + (f" ± {values.std():.4f}" if len(values) > 1 else "")


SUMMARY_COLUMNS = ["dataset", "n_hidden", "SAE", "ANN AE", "PCA", "SAE / ANN AE", "ANN AE / PCA",
                   "SAE epochs", "ANN AE epochs", "still learning"]


def summary(table):
    """Per data set and size: each model's mean ± s.d. test MSE, PCA, ratios, epochs run."""
    rows = []
    for (dataset, n_hidden), part in table[table["health"] == "ok"].groupby(
            ["dataset", "n_hidden"]):
        by_model = {model: part[part["model"] == model] for model in MODELS}
        sae, ann = by_model["sae"]["test_mse"], by_model["ann"]["test_mse"]
        pca = float(part["pca_mse"].mean())
        rows.append({
            "dataset": dataset, "n_hidden": int(n_hidden),
            "SAE": _mean_sd(sae), "ANN AE": _mean_sd(ann),
            "PCA": pca, "SAE / ANN AE": sae.mean() / ann.mean(), "ANN AE / PCA": ann.mean() / pca,
            "SAE epochs": ", ".join(str(e) for e in by_model["sae"]["epochs_run"]),
            "ANN AE epochs": ", ".join(str(e) for e in by_model["ann"]["epochs_run"]),
            "still learning": int(part["still_learning"].sum()),
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


SEARCH_TABLE = Path(__file__).resolve().parent.parent / "baseline_search.csv"


def search_summary(path=SEARCH_TABLE):
    """The baseline search's choices, best first: best validation MSE relative to PCA."""
    search = pd.read_csv(path)
    choice = ["code_activation", "learning_rate", "batch_size"]
    best = search.groupby(["dataset", *choice]).agg(
        best=("validation_mse", "min"), pca=("pca_validation_mse", "first")).reset_index()
    best["relative"] = best["best"] / best["pca"]
    wide = best.pivot_table(index=choice, columns="dataset", values="relative")
    wide["mean"] = wide.mean(axis=1)
    wide = wide.sort_values("mean").reset_index()
    return wide.rename(columns={"code_activation": "code activation",
                                "learning_rate": "learning rate", "batch_size": "batch"})


def search_figure(path=SEARCH_TABLE):
    """Best validation MSE / PCA's of every searched choice, per data set."""
    import matplotlib.pyplot as plt

    from spikelib.sections.figures import WIDE, dataset_name
    wide = search_summary(path)
    datasets = [c for c in wide.columns if c not in ("code activation", "learning rate",
                                                     "batch", "mean")]
    labels = [f"{r['code activation']}, lr {r['learning rate']:g}, batch {r['batch']}"
              for _, r in wide.iterrows()]
    fig, ax = plt.subplots(figsize=(WIDE, 0.32 * len(wide) + 1.2))
    y = np.arange(len(wide))
    for k, dataset in enumerate(datasets):
        ax.barh(y + (k - 0.5) * 0.38, wide[dataset], height=0.36, color=f"C{k}",
                label=dataset_name(dataset))
    ax.axvline(1.0, color="0.3", linestyle=":", linewidth=1.2, label="PCA, same size")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("best validation MSE / PCA's validation MSE")
    ax.legend(loc="lower right", frameon=False, fontsize=9)
    fig.tight_layout()
    return fig
