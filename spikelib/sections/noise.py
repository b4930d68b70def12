"""Section "Noisy inputs: denoising" (claim C4).

The tuned row of every noise level of the profile (latency 1, 32 hidden
neurons) on each data set and seed, beside the error of the noisy input
itself and of the mean-image predictor, all against the clean images.
"""

from spikelib.baselines import mean_image_error, mse
from spikelib.encoding import as_values
from spikelib.runs import Run
from spikelib.sections.common import CURVE, RUN, curve_rows, run_row
from spikelib.sections.schema import Table

LATENCY, N_HIDDEN = 1, 32

TABLES = {
    # One row per data set, noise level and seed: the SAE run and its two reference points.
    "noise": Table("noise", {**RUN, "noisy_input_mse": "float", "mean_image_mse": "float"}),
    "noise_curves": Table("noise_curves", CURVE),
}


def run(profile, dataset, noise, seed):
    """The spiking run of `dataset` at input `noise` with `seed` under `profile`."""
    return Run("sae", profile.config(dataset, noise=noise, latency=LATENCY, n_hidden=N_HIDDEN,
                                     seed=seed))


def runs(profile):
    return [run(profile, dataset, noise, seed) for dataset in profile.datasets_for("noise")
            for noise in sorted(profile.noise_levels) for seed in profile.seeds]


def noisy_input_error(data):
    """Test MSE of the noisy inputs themselves (a network that copies its input)."""
    return float(mse(as_values(data.test_inputs), data.test_clean).mean())


def tables(profile, results):
    rows, curves = [], []
    for item in runs(profile):
        found = results(item)
        data = results.table_data(item.config)
        rows.append(dict(**run_row(profile, item, found), noisy_input_mse=noisy_input_error(data),
                         mean_image_mse=float(mean_image_error(data.train_clean,
                                                               data.test_clean).mean())))
        curves.extend(curve_rows(profile, item, found))
    return {"noise": TABLES["noise"].frame(rows),
            "noise_curves": TABLES["noise_curves"].frame(curves)}
