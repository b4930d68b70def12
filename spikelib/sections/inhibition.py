"""Section "Inhibition and the role of the pulses" (claim C7).

For each data set, target latency and seed: the tuned row with noise 0 and
32 hidden neurons.  Per layer we measure how much of the ordinary weight is
inhibitory, how the pulse weights are signed, and how often a neuron's
membrane potential goes below rest before it spikes.  The ablation retrains
the same rows with non-negative ordinary weights (pulse weights free), on
`ABLATION_DATASETS` only and at the profile's `ablated_latencies()` only
(cost), under the profile's ablation epoch cap.

Means over seeds count every run, healthy or not, as claim C7's verdict
does (`spikelib.claims.check_c7`), so the chapter and the claims page quote
the same numbers.
"""

import dataclasses

import numpy as np
import pandas as pd

from spikelib.analysis import (layer_negative_before_spike_share, layer_weight_statistics,
                               reference_errors, sample_spike_times)
from spikelib.runs import Run
from spikelib.sections.common import (CURVE, RUN, curve_rows, run_health, run_row,
                                      run_still_learning)
from spikelib.sections.schema import BUDGET, Table
from spikelib.training import plateau_error

NOISE, N_HIDDEN = 0.0, 32
ABLATION_DATASETS = ("mnist",)
# Test images on which the membrane potentials are checked.
N_SAMPLED = 100
LAYERS = ("hidden", "output")
NOT_RUN = "not_run"
# A run is on the mean-image plateau while its validation error is at least
# this share of the mean image's, where its budget sets no share of its own
# (the `book` profile's stopping rule).
PLATEAU_SHARE = 0.9
# The per-layer measures of the `inhibition` table.
MEASURES = ("negative_share", "negative_mass", "pulse_positive_share",
            "negative_before_spike_share")

TABLES = {
    # One row per data set, latency, seed and layer; the run's RUN columns,
    # the mean image's test MSE, and the ablation's test MSE, health, epochs
    # and whether it was still learning (NaN / "not_run" / 0 / False where
    # it did not run).
    "inhibition": Table("inhibition", {
        **RUN, "layer": "str", "mean_image_mse": "float", "test_mse_nonnegative": "float",
        "health_nonnegative": "str", "epochs_run_nonnegative": "int",
        "still_learning_nonnegative": "bool",
        "negative_share": "float", "negative_mass": "float", "pulse_positive_share": "float",
        "negative_before_spike_share": "float"}),
    # One row per pulse of each layer: its time and the sign of its weights.
    "inhibition_pulses": Table("inhibition_pulses", {
        "dataset": "str", "latency": "float", "seed": "int", "layer": "str", "pulse": "int",
        "pulse_time": "float", "weight_median": "float", "positive_share": "float",
        **BUDGET}),
    # One row per epoch of every run and ablation run; `on_plateau`: its
    # validation error was still on the mean-image plateau (PLATEAU_SHARE).
    "inhibition_curves": Table("inhibition_curves", {
        **CURVE, "nonnegative_weights": "bool", "on_plateau": "bool",
        "mean_image_mse": "float", "pca_mse": "float"}),
}


def run(profile, dataset, latency, seed, nonnegative_weights=False):
    """The run of `dataset`, latency and seed; `nonnegative_weights`: its ablation."""
    config = profile.config(dataset, noise=NOISE, latency=latency, n_hidden=N_HIDDEN, seed=seed)
    return Run("sae", profile.ablation(config) if nonnegative_weights else config)


def ablated(dataset):
    """Whether the ablation runs on `dataset`."""
    return dataset in ABLATION_DATASETS


def ablated_at(profile, dataset, latency):
    """Whether `profile` trains the ablation of `dataset` at `latency`."""
    return ablated(dataset) and latency in profile.ablated_latencies()


def ablation_latencies(profile):
    """The latencies of the profile at which the ablation is trained, in order."""
    return [latency for latency in sorted(profile.latencies)
            if latency in profile.ablated_latencies()]


def runs(profile):
    found = []
    for dataset in profile.datasets_for("inhibition"):
        for latency in profile.latencies:
            for seed in profile.seeds:
                found.append(run(profile, dataset, latency, seed))
                if ablated_at(profile, dataset, latency):
                    found.append(run(profile, dataset, latency, seed, nonnegative_weights=True))
    return found


def layer_rows(model, data):
    """{layer: weight statistics and negative-before-spike share} of a trained model."""
    inputs = data.test_inputs[:N_SAMPLED]
    hidden_times, output_times = sample_spike_times(model, inputs)
    layers = {"hidden": (model.hidden, inputs, hidden_times),
              "output": (model.reconstruction, hidden_times, output_times)}
    return {name: dict(**layer_weight_statistics(layer),
                       negative_before_spike_share=layer_negative_before_spike_share(
                           layer, layer_input, spikes))
            for name, (layer, layer_input, spikes) in layers.items()}


def pulse_rows(profile, item, model):
    """One row per pulse of each layer of a trained model."""
    rows = []
    for name, layer in (("hidden", model.hidden), ("output", model.reconstruction)):
        times, weights = layer.pulse_times.numpy(), layer.pulse_kernel.numpy()
        rows += [dict(dataset=item.config.data.dataset, latency=item.config.latency,
                      seed=item.config.seed, layer=name, pulse=pulse,
                      pulse_time=float(times[pulse]),
                      weight_median=float(np.median(weights[pulse])),
                      positive_share=float(np.mean(weights[pulse] > 0)), **profile.budget())
                 for pulse in range(len(times))]
    return rows


def plateau_threshold(config, data):
    """Validation error below which a run of `config` has left the mean-image plateau."""
    budget = config.budget
    if budget.plateau is None:
        budget = dataclasses.replace(budget, plateau=PLATEAU_SHARE)
    return plateau_error(budget, data)


def _curves(profile, item, found, references, threshold):
    return [dict(point, nonnegative_weights=item.config.network.nonnegative_weights,
                 on_plateau=point["validation_mse"] >= threshold, **references)
            for point in curve_rows(profile, item, found)]


def tables(profile, results):
    rows, pulses, curves = [], [], []
    for dataset in profile.datasets_for("inhibition"):
        for latency in profile.latencies:
            for seed in profile.seeds:
                item = run(profile, dataset, latency, seed)
                found, model = results(item), results.model(item)
                data = results.data(item.config)
                references = reference_errors(item.config)
                threshold = plateau_threshold(item.config, data)
                ablation = {"test_mse_nonnegative": np.nan, "health_nonnegative": NOT_RUN,
                            "epochs_run_nonnegative": 0, "still_learning_nonnegative": False}
                if ablated_at(profile, dataset, latency):
                    ablation_run = run(profile, dataset, latency, seed, nonnegative_weights=True)
                    ablation_found = results(ablation_run)
                    ablation = {"test_mse_nonnegative": ablation_found["test_mse"],
                                "health_nonnegative": run_health(ablation_found),
                                "epochs_run_nonnegative": ablation_found["epochs_run"],
                                "still_learning_nonnegative": run_still_learning(
                                    ablation_run, ablation_found)}
                    curves += _curves(profile, ablation_run, ablation_found, references,
                                      threshold)
                per_layer = layer_rows(model, data)
                rows += [dict(**run_row(profile, item, found), layer=name,
                              mean_image_mse=references["mean_image_mse"], **ablation,
                              **per_layer[name]) for name in LAYERS]
                pulses += pulse_rows(profile, item, model)
                curves += _curves(profile, item, found, references, threshold)
    return {"inhibition": TABLES["inhibition"].frame(rows),
            "inhibition_pulses": TABLES["inhibition_pulses"].frame(pulses),
            "inhibition_curves": TABLES["inhibition_curves"].frame(curves)}


def layer_means(table):
    """Mean over seeds of the test MSE and each measure, per data set, layer and latency."""
    return (table.groupby(["dataset", "layer", "latency"], as_index=False)
            [["test_mse", "mean_image_mse", *MEASURES]].mean())


def ablation_runs(table):
    """One row per ablation run: its error, the full model's, health, epochs, still learning."""
    output = table[(table["layer"] == "output") & (table["health_nonnegative"] != NOT_RUN)]
    return pd.DataFrame(dict(
        dataset=output["dataset"], noise=output["noise"], latency=output["latency"],
        n_hidden=output["n_hidden"], seed=output["seed"],
        test_mse=output["test_mse_nonnegative"], full_test_mse=output["test_mse"],
        mean_image_mse=output["mean_image_mse"], health=output["health_nonnegative"],
        epochs_run=output["epochs_run_nonnegative"],
        still_learning=output["still_learning_nonnegative"])).reset_index(drop=True)


def ablation_means(table):
    """Per data set and ablated latency: mean test MSE over seeds of both models, their ratio.

    The ratio is that of the means (ablation / full model), as in claim C7's verdict.
    """
    found = ablation_runs(table)
    means = found.groupby(["dataset", "latency"], as_index=False).agg(
        full_test_mse=("full_test_mse", "mean"), test_mse=("test_mse", "mean"),
        mean_image_mse=("mean_image_mse", "mean"), seeds=("seed", "size"),
        fewest_epochs=("epochs_run", "min"), most_epochs=("epochs_run", "max"),
        still_learning=("still_learning", "sum"))
    means["ratio"] = means["test_mse"] / means["full_test_mse"]
    return means


def plateau_exits(curves):
    """Per run (and ablation run): epochs run and the first epoch off the plateau (NaN: never)."""
    rows = []
    keys = ["dataset", "latency", "seed", "nonnegative_weights"]
    for key, part in curves.sort_values("epoch").groupby(keys):
        off = part.loc[~part["on_plateau"].astype(bool), "epoch"]
        rows.append(dict(zip(keys, key), epochs=int(part["epoch"].max()),
                         left_at=float(off.iloc[0]) if len(off) else np.nan))
    return pd.DataFrame(rows, columns=[*keys, "epochs", "left_at"])


def trend(values):
    """How `values` (in latency order, NaN skipped) change: 'rises', 'falls', 'stays level'
    or 'changes non-monotonically'."""
    values = np.asarray(values, float)
    steps = np.diff(values[np.isfinite(values)])
    if not len(steps) or np.all(steps == 0):
        return "stays level"
    if np.all(steps >= 0):
        return "rises"
    if np.all(steps <= 0):
        return "falls"
    return "changes non-monotonically"
