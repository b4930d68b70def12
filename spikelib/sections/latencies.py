"""Section "Target latencies" (claim C3).

The tuned row of every target latency of the profile (noise 0, 32 hidden
neurons) on each data set and seed, beside the mean-image predictor, and
when the trained output neurons fire relative to their target.
"""

import numpy as np

from spikelib.analysis import sample_spike_times
from spikelib.baselines import mean_image_error
from spikelib.encoding import as_values
from spikelib.runs import Run
from spikelib.sections.common import CURVE, RUN, curve_rows, run_row
from spikelib.sections.schema import BUDGET, Table

NOISE, N_HIDDEN = 0.0, 32
# Test images whose output spike times are pooled in the timing table.
N_TIMING = 200
PIXELS = ("non-black", "black")
# Histogram bins of (spike time - L); times outside go to the first or last bin.
BIN_EDGES = np.linspace(-1.0, 2.0, 61)

TABLES = {
    # One row per data set, latency and seed: the SAE run, its tuned row and the mean image.
    "latencies": Table("latencies", {**RUN, "mean_image_mse": "float", "decay_rate": "float",
                                     "threshold": "float", "n_pulses": "int"}),
    # When the outputs fire, relative to L, for non-black and black target pixels.
    "latencies_timing": Table("latencies_timing", {
        "dataset": "str", "latency": "float", "seed": "int", "pixel": "str",
        "n_outputs": "int", "silent_share": "float", "outside_target_share": "float",
        "median_time_minus_latency": "float", **BUDGET}),
    # Their distribution: firing outputs per bin of (spike time - L).
    "latencies_timing_histogram": Table("latencies_timing_histogram", {
        "dataset": "str", "latency": "float", "seed": "int", "pixel": "str",
        "bin_low": "float", "bin_high": "float", "count": "int", **BUDGET}),
    "latencies_curves": Table("latencies_curves", CURVE),
}


def run(profile, dataset, latency, seed):
    """The spiking run of `dataset` at target `latency` with `seed` under `profile`."""
    return Run("sae", profile.config(dataset, noise=NOISE, latency=latency, n_hidden=N_HIDDEN,
                                     seed=seed))


def runs(profile):
    return [run(profile, dataset, latency, seed)
            for dataset in profile.datasets_for("latencies")
            for latency in profile.latencies for seed in profile.seeds]


def relative_output_times(results, item, n_images=N_TIMING):
    """Output spike times minus L of the first test images, with their target pixels.

    Returns (times_minus_latency, non_black): arrays (n_images, 784); silent
    outputs are +inf, `non_black` marks target pixels that spike in the image.
    """
    data = results.table_data(item.config)
    _, times = sample_spike_times(results.model(item), data.test_inputs[:n_images])
    return times - item.config.latency, as_values(data.test_clean[:n_images]) < 1.0


def timing_rows(profile, item, relative, non_black):
    """Silent share, share outside the target band [0, 1] and median time, per pixel kind."""
    rows = []
    for pixel, mask in zip(PIXELS, (non_black, ~non_black)):
        chosen = relative[mask]
        fired = chosen[np.isfinite(chosen)]
        rows.append(dict(
            dataset=item.config.data.dataset, latency=item.config.latency, seed=item.config.seed,
            pixel=pixel, n_outputs=int(chosen.size),
            silent_share=float(1.0 - fired.size / chosen.size) if chosen.size else np.nan,
            outside_target_share=float(np.mean((fired < 0) | (fired > 1))) if fired.size
            else np.nan,
            median_time_minus_latency=float(np.median(fired)) if fired.size else np.nan,
            **profile.budget()))
    return rows


def histogram_rows(profile, item, relative, non_black):
    """Firing outputs per bin of (spike time - L), per pixel kind; outliers in the edge bins."""
    rows = []
    for pixel, mask in zip(PIXELS, (non_black, ~non_black)):
        fired = relative[mask & np.isfinite(relative)]
        clipped = np.clip(fired, BIN_EDGES[0], BIN_EDGES[-1])
        counts, _ = np.histogram(clipped, BIN_EDGES)
        rows.extend(dict(dataset=item.config.data.dataset, latency=item.config.latency,
                         seed=item.config.seed, pixel=pixel, bin_low=low, bin_high=high,
                         count=int(count), **profile.budget())
                    for low, high, count in zip(BIN_EDGES[:-1], BIN_EDGES[1:], counts))
    return rows


def tables(profile, results):
    rows, timing, histogram, curves = [], [], [], []
    for item in runs(profile):
        found = results(item)
        data = results.table_data(item.config)
        config = item.config
        rows.append(dict(**run_row(profile, item, found),
                         mean_image_mse=float(mean_image_error(data.train_clean,
                                                               data.test_clean).mean()),
                         decay_rate=config.neuron.decay_rate, threshold=config.neuron.threshold,
                         n_pulses=config.network.n_pulses))
        relative, non_black = relative_output_times(results, item)
        timing.extend(timing_rows(profile, item, relative, non_black))
        histogram.extend(histogram_rows(profile, item, relative, non_black))
        curves.extend(curve_rows(profile, item, found))
    return {"latencies": TABLES["latencies"].frame(rows),
            "latencies_timing": TABLES["latencies_timing"].frame(timing),
            "latencies_timing_histogram": TABLES["latencies_timing_histogram"].frame(histogram),
            "latencies_curves": TABLES["latencies_curves"].frame(curves)}
