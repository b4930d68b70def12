"""What a chapter says about its runs, in one wording for every chapter.

Reader names for table columns, captioned tables, the list of runs that are
unhealthy (left out) or still learning when they stopped (kept, with the
caveat: see `spikelib.convergence`), the coverage of a sweep under a
profile, and a claim's verdict with its caveats.
"""

import pandas as pd

from spikelib.sections.figures import dataset_name

# Column -> the name a reader sees.
READER_NAMES = {
    "dataset": "data set", "noise": "noise", "latency": "latency L", "n_hidden": "hidden neurons",
    "seed": "seed", "model": "model", "test_mse": "test MSE", "best_epoch": "best epoch",
    "epochs_run": "epochs run", "stop_reason": "stopped by", "still_learning": "still learning",
    "health": "health", "mean_image_mse": "mean-image MSE", "pca_mse": "PCA MSE",
    "noisy_input_mse": "noisy-input MSE", "silent_hidden_share": "silent hidden share",
    "silent_output_share": "silent output share", "decay_rate": "decay rate",
    "threshold": "threshold", "n_pulses": "pulses", "validation_mse": "validation MSE",
    "train_mse": "training MSE", "epoch": "epoch", "features": "features",
    "accuracy": "test accuracy", "layer": "layer",
    "negative_share": "negative-weight share", "negative_mass": "negative-weight mass",
    "pulse_positive_share": "positive pulse-weight share",
    "negative_before_spike_share": "share dipping below 0 before the spike",
    "test_mse_nonnegative": "test MSE, weights >= 0",
    "still_learning_nonnegative": "weights >= 0 still learning",
    "epochs_run_nonnegative": "weights >= 0 epochs run",
}
# Columns whose values are levels of the grid, shown as they are written (1, 0.4).
LEVELS = ("noise", "latency", "n_hidden", "seed", "epoch", "best_epoch", "epochs_run")
# Values a reader sees instead of internal keys.
READER_VALUES = {
    "stop_reason": {"patience": "the stopping rule", "max_epochs": "the epoch cap"},
    "health": {"ok": "ok", "dead": "dead", "input_blind": "input-blind",
               "off_target": "off-target"},
    "model": {"sae": "spiking AE", "ann": "conventional AE"},
    "dataset": {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"},
    "still_learning": {True: "yes", False: "no"},
}
# What the health values mean, for a chapter's glossary sentence.
HEALTH_MEANING = (
    "A run's *health* is *ok*, or *dead* (no output neuron ever fires), *input-blind* (the "
    "hidden layer is silent or fires identically for every image, so the output cannot "
    "depend on the input) or *off-target* (its test error is still at least 90 % of the "
    "mean image's: it has not left the mean-image plateau). Unhealthy runs are drawn as "
    "hollow grey circles and left out of the figures' mean lines; the claims' means count "
    "every run.")
STILL_LEARNING_MEANING = (
    "A run is *still learning* when its validation error had still fallen by at least the "
    "stopping rule's gain over its last epochs when it stopped (at its epoch cap, or by "
    "the rule, which compares each epoch with the best so far and so stops a curve that "
    "falls steadily but slowly), or when it reached its cap still on the mean-image "
    "plateau; its error is an upper bound on what its row reaches.")


def list_words(values, fmt="{:g}"):
    """'1, 4 and 16' from [1, 4, 16]."""
    words = [fmt.format(v) if not isinstance(v, str) else v for v in values]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def coverage(profile, section, parameter=None):
    """What `section` trains under `profile`, e.g. 'latencies 1, 4 and 16 on MNIST'."""
    datasets = list_words([dataset_name(d) for d in profile.datasets_for(section)])
    values = {"latencies": ("latencies", profile.latencies),
              "noise": ("noise levels", profile.noise_levels),
              "embedding_sizes": ("embedding sizes", profile.hidden_sizes)}
    name, levels = values.get(parameter or section, (None, None))
    return f"{name} {list_words(levels)} on {datasets}" if name else datasets


def reader_frame(frame, columns=None):
    """`frame` (its `columns`) with reader names and values, rows of only NaN values dropped."""
    frame = frame[list(columns)] if columns is not None else frame
    frame = frame.dropna(how="all", subset=[c for c in frame.columns
                                            if pd.api.types.is_float_dtype(frame[c])] or None)
    frame = frame.copy()
    for column, values in READER_VALUES.items():
        if column in frame:
            frame[column] = frame[column].map(lambda v, m=values: m.get(v, v))
    return frame.rename(columns=READER_NAMES)


def show_table(frame, caption, columns=None, digits=4):
    """A captioned table for a chapter: reader names, no index, `digits` decimals.

    Grid levels (latency, noise, sizes, seeds, epochs) are shown as written.
    """
    levels = [READER_NAMES[c] for c in LEVELS
              if c in (frame.columns if columns is None else columns)]
    shown = reader_frame(frame, columns)
    return (shown.style.hide(axis="index").set_caption(caption)
            .format(precision=digits, na_rep="–")
            .format(_level, subset=[c for c in levels if c in shown.columns], na_rep="–"))


def _level(value):
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def run_status(table, describe):
    """A sentence on the runs of `table` that are unhealthy or still learning.

    `describe(row)` names one run (a row of `table`), e.g. "MNIST L = 16 seed 0".
    """
    unhealthy = table[table["health"] != "ok"]
    learning = table[table["still_learning"].astype(bool) & (table["health"] == "ok")]
    if unhealthy.empty and learning.empty:
        return (f"All {len(table)} runs are healthy, and none was still learning when it "
                "stopped.")
    parts = []
    if len(unhealthy):
        parts.append(f"{len(unhealthy)} of {len(table)} runs are unhealthy (left out of the "
                     "figures' mean lines): "
                     + ", ".join(f"{describe(r)} ({READER_VALUES['health'].get(r.health, r.health)})"
                                 for r in unhealthy.itertuples()) + ".")
    if len(learning):
        parts.append(f"{len(learning)} of {len(table)} runs were still learning when they "
                     "stopped, so their errors are upper bounds: "
                     + ", ".join(f"{describe(r)} ({r.epochs_run} epoch"
                                 f"{'s' if r.epochs_run != 1 else ''})"
                                 for r in learning.itertuples()) + ".")
    return " ".join(parts)


def verdict(check):
    """A claim's verdict (`claims.ClaimCheck`) as one Markdown paragraph, caveats included."""
    if check is None:
        return ""
    text = f"**Verdict: {check.status}** (claim {check.id}): {check.criterion}."
    if check.caveats:
        text += " *Caveat:* " + " ".join(check.caveats)
    return text
