"""Section "Inhibition and the role of the pulses" (claim C7).

For each data set, target latency and seed: the tuned row with noise 0 and
32 hidden neurons.  Per layer we measure how much of the ordinary weight is
inhibitory, how the pulse weights are signed, and how often a neuron's
membrane potential goes below rest before it spikes.  The ablation retrains
the same rows with non-negative ordinary weights (pulse weights free), on
`ABLATION_DATASETS` only (cost), at every latency of the profile.
"""

import numpy as np

from spikelib.analysis import (layer_negative_before_spike_share, layer_weight_statistics,
                               reference_errors)
from spikelib.runs import Run
from spikelib.sections.common import CURVE, RUN, curve_rows, run_row
from spikelib.sections.schema import BUDGET, Table
from spikelib.training import spike_times_of

NOISE, N_HIDDEN = 0.0, 32
ABLATION_DATASETS = ("mnist",)
# Test images on which the membrane potentials are checked.
N_SAMPLED = 100
LAYERS = ("hidden", "output")
NOT_RUN = "not_run"

TABLES = {
    # One row per data set, latency, seed and layer; the run's RUN columns,
    # the ablation's test MSE and health (NaN / "not_run" where it did not run).
    "inhibition": Table("inhibition", {
        **RUN, "layer": "str", "test_mse_nonnegative": "float", "health_nonnegative": "str",
        "negative_share": "float", "negative_mass": "float", "pulse_positive_share": "float",
        "negative_before_spike_share": "float"}),
    # One row per pulse of each layer: its time and the sign of its weights.
    "inhibition_pulses": Table("inhibition_pulses", {
        "dataset": "str", "latency": "float", "seed": "int", "layer": "str", "pulse": "int",
        "pulse_time": "float", "weight_median": "float", "positive_share": "float",
        **BUDGET}),
    "inhibition_curves": Table("inhibition_curves", {
        **CURVE, "nonnegative_weights": "bool", "mean_image_mse": "float",
        "pca_mse": "float"}),
}


def run(profile, dataset, latency, seed, nonnegative_weights=False):
    """The run of `dataset`, latency and seed; `nonnegative_weights`: its ablation."""
    config = profile.config(dataset, noise=NOISE, latency=latency, n_hidden=N_HIDDEN, seed=seed)
    return Run("sae", config.replace(nonnegative_weights=True) if nonnegative_weights
               else config)


def ablated(dataset):
    """Whether the ablation runs on `dataset`."""
    return dataset in ABLATION_DATASETS


def ablated_at(profile, dataset, latency):
    """Whether `profile` trains the ablation of `dataset` at `latency`."""
    return ablated(dataset) and latency in profile.ablated_latencies()


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
    hidden_times, output_times = spike_times_of(model, inputs)
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


def _curves(profile, item, found):
    references = reference_errors(item.config)
    return [dict(point, nonnegative_weights=item.config.network.nonnegative_weights,
                 **references) for point in curve_rows(profile, item, found)]


def tables(profile, results):
    rows, pulses, curves = [], [], []
    for dataset in profile.datasets_for("inhibition"):
        for latency in profile.latencies:
            for seed in profile.seeds:
                item = run(profile, dataset, latency, seed)
                found, model = results(item), results.model(item)
                ablation = {"test_mse_nonnegative": np.nan, "health_nonnegative": NOT_RUN}
                if ablated_at(profile, dataset, latency):
                    ablation_run = run(profile, dataset, latency, seed, nonnegative_weights=True)
                    ablation_found = results(ablation_run)
                    ablation = {"test_mse_nonnegative": ablation_found["test_mse"],
                                "health_nonnegative": ablation_found["health"]}
                    curves += _curves(profile, ablation_run, ablation_found)
                per_layer = layer_rows(model, results.data(item.config))
                rows += [dict(**run_row(profile, item, found), layer=name, **ablation,
                              **per_layer[name]) for name in LAYERS]
                pulses += pulse_rows(profile, item, model)
                curves += _curves(profile, item, found)
    return {"inhibition": TABLES["inhibition"].frame(rows),
            "inhibition_pulses": TABLES["inhibition_pulses"].frame(pulses),
            "inhibition_curves": TABLES["inhibition_curves"].frame(curves)}
