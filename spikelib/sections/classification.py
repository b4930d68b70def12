"""Section "Classification from the embeddings" (claim C6).

The autoencoder of the README row (the reference implementation's example
row of the tuned grid: noise 0, latency 1, 32 hidden neurons) never sees a
label.  A logistic regression fitted on its hidden spike times
(silent neurons set to the latest training spike time + 1) is scored on the
test split, beside the same classifier on the code of the conventional
autoencoder of the same size and on the 784 raw input values.
"""

import hashlib

import numpy as np

from spikelib.analysis import (confusion_shares, hidden_spike_times, linear_accuracy,
                               reference_errors, same_width_events, silent_as_late)
from spikelib.encoding import as_values
from spikelib.runs import Run
from spikelib.sections.common import CURVE, RUN, curve_rows, identity, run_row
from spikelib.sections.comparison import ann_run_row
from spikelib.sections.schema import BUDGET, Table

NOISE, LATENCY, N_HIDDEN = 0.0, 1, 32
FEATURES = ("sae_embedding", "ann_embedding", "raw_pixels")
N_CLASSES = 10

TABLES = {
    # One row per data set, feature set and seed; `health` and `still_learning` are the
    # SAE run's on its row, "ok" and False on the others (the claim rests on that row).
    "classification": Table("classification", {
        "dataset": "str", "noise": "float", "latency": "float", "n_hidden": "int",
        "seed": "int", "features": "str", "n_features": "int", "accuracy": "float",
        "chance": "float", "autoencoder_test_mse": "float", "health": "str",
        "still_learning": "bool", "silent_share": "float", "silent_value": "float",
        **BUDGET}),
    # The autoencoders whose codes are classified: how each run ended (`model` "sae"/"ann").
    "classification_runs": Table("classification_runs", {**RUN, "model": "str"}),
    # The SAE read-out's confusion matrix: share of each true class predicted as each class.
    "classification_confusion": Table("classification_confusion", {
        "dataset": "str", "seed": "int", "true_class": "int", "predicted_class": "int",
        "share": "float", **BUDGET}),
    "classification_curves": Table("classification_curves", {
        **CURVE, "mean_image_mse": "float", "pca_mse": "float"}),
}


def run(profile, dataset, seed, kind="sae"):
    """The autoencoder (`kind` "sae" or "ann") of `dataset` and `seed` under `profile`."""
    config = profile.config(dataset, noise=NOISE, latency=LATENCY, n_hidden=N_HIDDEN, seed=seed)
    return Run(kind, profile.conventional(config) if kind == "ann" else config)


def runs(profile):
    return [run(profile, dataset, seed, kind) for dataset in profile.datasets
            for seed in profile.seeds for kind in ("sae", "ann")]


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def feature_sets(sae, ann, data):
    """{features: (train, test, silent share, silent value)} for one data set and seed."""
    train_events, test_events = same_width_events(data.train_inputs, data.test_inputs)
    train_sae, silent_value = silent_as_late(hidden_spike_times(sae, train_events))
    test_times = hidden_spike_times(sae, test_events)
    test_sae, _ = silent_as_late(test_times, silent_value)
    train_values, test_values = as_values(data.train_inputs), as_values(data.test_inputs)
    silent_share = float(np.mean(~np.isfinite(test_times)))
    return {"sae_embedding": (train_sae, test_sae, silent_share, silent_value),
            "ann_embedding": (np.asarray(ann.embed(train_values)),
                              np.asarray(ann.embed(test_values)), 0.0, np.nan),
            "raw_pixels": (train_values, test_values, 0.0, np.nan)}


def tables(profile, results):
    rows, confusion, curves, autoencoders = [], [], [], []
    fitted = {}  # identical features (raw pixels of noiseless data) are fitted once
    for dataset in profile.datasets:
        for seed in profile.seeds:
            sae_run, ann_run = run(profile, dataset, seed), run(profile, dataset, seed, "ann")
            sae_results, ann_results = results(sae_run), results(ann_run)
            sae_row = run_row(profile, sae_run, sae_results)
            autoencoders += [dict(sae_row, model="sae"),
                             dict(ann_run_row(profile, ann_run, ann_results), model="ann")]
            data = results.data(sae_run.config)
            sets = feature_sets(results.model(sae_run), results.model(ann_run), data)
            for features, (train_x, test_x, silent_share, silent_value) in sets.items():
                if features not in (profile.classification_features or FEATURES):
                    continue
                key = (_digest(train_x), _digest(test_x), _digest(data.train_labels))
                if key not in fitted:
                    fitted[key] = linear_accuracy(train_x, data.train_labels, test_x,
                                                  data.test_labels)
                accuracy, predictions = fitted[key]
                autoencoder = {"sae_embedding": sae_results,
                               "ann_embedding": ann_results}.get(features)
                rows.append(dict(
                    **identity(sae_run), features=features, n_features=train_x.shape[1],
                    accuracy=accuracy, chance=1.0 / N_CLASSES,
                    autoencoder_test_mse=autoencoder["test_mse"] if autoencoder else np.nan,
                    health=sae_row["health"] if features == "sae_embedding" else "ok",
                    still_learning=(sae_row["still_learning"] if features == "sae_embedding"
                                    else False),
                    silent_share=silent_share, silent_value=silent_value, **profile.budget()))
                if features == "sae_embedding":
                    shares = confusion_shares(data.test_labels, predictions, N_CLASSES)
                    confusion += [dict(dataset=dataset, seed=seed, true_class=true,
                                       predicted_class=predicted, share=shares[true, predicted],
                                       **profile.budget())
                                  for true in range(N_CLASSES) for predicted in range(N_CLASSES)]
            references = reference_errors(sae_run.config)
            curves += [dict(row, **references)
                       for row in curve_rows(profile, sae_run, sae_results)]
    return {"classification": TABLES["classification"].frame(rows),
            "classification_runs": TABLES["classification_runs"].frame(autoencoders),
            "classification_confusion": TABLES["classification_confusion"].frame(confusion),
            "classification_curves": TABLES["classification_curves"].frame(curves)}
