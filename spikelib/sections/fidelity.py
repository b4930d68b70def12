"""Section "Fidelity to the reference implementation".

spikelib is meant to implement the authors' C++ code (google/ihmehimmeli,
branch autoencoder) exactly: the same neuron, pulses, loss, optimiser and
tuned hyperparameters.  This section shows how close it comes where the
reference itself was run (`cpp_reference_runs.csv`, packaged with
spikelib): on the same grid rows, the same split sizes (54,000 / 6,000 /
10,000), the same number of epochs and without early stopping, it sets the
test error of spikelib's runs after every epoch beside the reference's, and
their training and evaluation throughput beside the reference's.

Under a profile with a reduced split (the `ci` smoke profile) the same
tables are made from that profile's examples and at most `SMOKE_EPOCHS`
epochs: a check that the section runs, not a fidelity measurement.

`row_gaps` and `conclusion` turn the per-epoch table into the chapter's
conclusion: per grid row the mean relative gap, the largest and smallest
ratio and where, and whether spikelib lies within the reference's own spread.
"""

import functools
import math
import re
import statistics
import typing
from importlib import resources

import numpy as np
import pandas as pd

from spikelib.runs import Run
from spikelib.sections.common import CURVE, RUN, curve_rows, identity, run_row
from spikelib.sections.schema import BUDGET, Table

REFERENCE_FILE = "cpp_reference_runs.csv"
# Epochs of every row under a profile with a reduced split: at most this many.
SMOKE_EPOCHS = 2
# A first look on the full split (`quick`, one epoch per row elsewhere):
# the first two epochs of every reference curve, where the reference has
# most runs (the README row: four).
FIRST_LOOK_EPOCHS = 2
# Throughput of the C++ reference in examples per second (low, high), measured
# for the C++ code on this project's 2-core machine (the machine of the runs in
# REFERENCE_FILE): training examples/s and test-evaluation examples/s.  Only the
# README row and the (noise 0, latency 16, 8 hidden) row were timed.
REFERENCE_TRAIN_PER_SECOND = {("mnist", 0.0, 1.0, 32): (660.0, 1450.0),
                              ("mnist", 0.0, 16.0, 8): (2250.0, 2500.0)}
REFERENCE_EVALUATION_PER_SECOND = {("mnist", 0.0, 1.0, 32): (1500.0, 1800.0),
                                   ("mnist", 0.0, 16.0, 8): (9500.0, 9500.0)}  # "about 9500"
# The (noise 0, latency 16, 8 hidden) row: the reference's error falls from
# 0.063 to 0.037 over epochs 5-12, later than at the other rows; the
# conclusion states the gap over the epochs of that descent's end, 7-12.
SMALL_ROW = ("mnist", 0.0, 16.0, 8)
GAP_EPOCHS = (7, 12)
NAN = float("nan")
NOT_MEASURED = (NAN, NAN)
ROW = {"dataset": "str", "noise": "float", "latency": "float", "n_hidden": "int"}
IDENTITY = [*ROW, "seed"]

TABLES = {
    # One row per grid row and epoch: spikelib's healthy seeds beside the reference's runs.
    "fidelity": Table("fidelity", {
        **ROW, "epoch": "int", "spikelib_mean": "float", "spikelib_min": "float",
        "spikelib_max": "float", "spikelib_seeds": "int", "spikelib_unhealthy": "int",
        "reference_mean": "float", "reference_min": "float", "reference_max": "float",
        "reference_runs": "int", "ratio": "float", **BUDGET}),
    # One row per spiking run: how it ended (best-validation test error, health).
    "fidelity_runs": Table("fidelity_runs", RUN),
    "fidelity_curves": Table("fidelity_curves", CURVE),
    # One row per spiking run: median throughput over its epochs (examples/s), the
    # threads of the worker that trained it, and the reference's measured range
    # (NaN for a row the reference was not timed on).  Evaluation is of the
    # validation and test images after every epoch.
    "fidelity_throughput": Table("fidelity_throughput", {
        **ROW, "seed": "int", "worker": "str", "threads": "int", "epochs_run": "int",
        "train_examples_per_second": "float", "evaluation_examples_per_second": "float",
        "reference_train_low": "float", "reference_train_high": "float",
        "reference_evaluation_low": "float", "reference_evaluation_high": "float",
        **BUDGET}),
}


class GridRow(typing.NamedTuple):
    """A row of the tuned grid the reference was run on, and its longest run's epochs."""

    dataset: str
    noise: float
    latency: float
    n_hidden: int
    epochs: int

    def key(self):
        return (self.dataset, self.noise, self.latency, self.n_hidden)


@functools.cache
def _reference_header():
    with resources.files("spikelib").joinpath(REFERENCE_FILE).open() as handle:
        return " ".join(line.lstrip("#").strip() for line in handle if line.startswith("#"))


def reference_source():
    """The reference code the runs were made with, as the runs' file records it.

    {"repository", "branch", "commit"} from the comment lines of
    `cpp_reference_runs.csv`; a value the file does not record is None.
    """
    header = _reference_header()
    found = {"repository": re.search(r"\b([\w.-]+/[\w.-]+), branch\b", header),
             "branch": re.search(r"\bbranch ([\w./-]+)", header),
             "commit": re.search(r"\bcommit ([0-9a-f]{7,40})\b", header)}
    return {key: match.group(1) if match else None for key, match in found.items()}


@functools.cache
def _reference():
    with resources.files("spikelib").joinpath(REFERENCE_FILE).open() as handle:
        return pd.read_csv(handle, comment="#")


def reference_runs():
    """The reference's test and validation error per run and epoch (packaged CSV)."""
    frame = _reference().copy()
    frame["noise"] = frame["noise"].astype(float)
    frame["latency"] = frame["latency"].astype(float)
    return frame


def grid_rows(profile=None):
    """The reference's grid rows in file order (of `profile`'s data sets, if given)."""
    frame = reference_runs()
    keys = dict.fromkeys(zip(frame["dataset"], frame["noise"], frame["latency"],
                             frame["n_hidden"]))
    rows = [GridRow(str(d), float(n), float(l), int(h),
                    int(of_row(frame, (d, n, l, h))["epoch"].max())) for d, n, l, h in keys]
    return [row for row in rows if profile is None or row.dataset in profile.datasets]


def of_row(frame, key):
    """The rows of `frame` that belong to grid row `key` (dataset, noise, latency, n_hidden)."""
    dataset, noise, latency, n_hidden = key
    return frame[(frame["dataset"] == dataset) & (frame["noise"] == noise)
                 & (frame["latency"] == latency) & (frame["n_hidden"] == n_hidden)]


def full_split(profile):
    """Whether `profile` trains on the whole training split (then the reference's budget)."""
    return profile.train_examples is None


def run(profile, row, seed):
    """The spiking run of grid `row` with `seed`: the reference's budget, or a smoke one.

    On the full split a profile trains the reference's epochs (also past
    the profile's own limit: this section compares whole curves), unless it
    trains fewer epochs per row than FIRST_LOOK_EPOCHS (`quick`): then
    FIRST_LOOK_EPOCHS, the first epochs of the reference's curves.
    """
    if full_split(profile):
        split = dict(train_examples=None, validation_examples=None, test_examples=None)
        first_look = profile.epochs < FIRST_LOOK_EPOCHS
        epochs = min(row.epochs, FIRST_LOOK_EPOCHS) if first_look else row.epochs
    else:
        split = dict(train_examples=profile.train_examples,
                     validation_examples=profile.validation_examples,
                     test_examples=profile.test_examples)
        epochs = min(profile.epochs, SMOKE_EPOCHS)
    return Run("sae", profile.config(row.dataset, noise=row.noise, latency=row.latency,
                                     n_hidden=row.n_hidden, seed=seed, epochs=epochs,
                                     patience=None, min_delta=0.0, **split))


def seeds(profile):
    """The seeds this section trains under `profile`."""
    return profile.seeds if profile.fidelity_seeds is None else profile.fidelity_seeds


def runs(profile):
    return [run(profile, row, seed) for row in grid_rows(profile) for seed in seeds(profile)]


def budget(profile, item):
    """The BUDGET columns of `item`: this section trains its own epochs and split."""
    return dict(profile=profile.name, epochs=item.config.budget.epochs,
                train_examples=item.examples("train"),
                validation_examples=item.examples("validation"),
                test_examples=item.examples("test"))


def _plural(count, word):
    return f"{count} {word}{'s' if count != 1 else ''}"


def caption(profile):
    """One sentence stating this section's budget, for figure captions."""
    items = [run(profile, row, seeds(profile)[0]) for row in grid_rows(profile)]
    epochs = [item.config.budget.epochs for item in items]
    if len(set(epochs)) == 1:
        listed = _plural(epochs[0], "epoch")
    else:
        listed = (", ".join(str(n) for n in epochs[:-1]) + f" and {epochs[-1]} epochs "
                  "(row by row, as in the reference runs)")
    return (f"Budget (profile '{profile.name}'): {items[0].examples('train'):,} training "
            f"examples x {listed}, no early stopping, {items[0].examples('test'):,} test "
            f"examples, {_plural(len(seeds(profile)), 'seed')}.")


def _spread(values):
    """Mean, min and max of `values` (NaN when there are none)."""
    if not len(values):
        return dict(mean=NAN, min=NAN, max=NAN)
    return dict(mean=float(values.mean()), min=float(values.min()), max=float(values.max()))


def epoch_rows(profile, row, item, curves, reference):
    """The `fidelity` rows of grid `row`: each epoch both spikelib and the reference have.

    `curves` are spikelib's curve rows with each run's `health`; unhealthy runs
    are counted, not averaged.  `item` is one of the row's runs (for its budget).
    """
    mine, theirs = of_row(curves, row.key()), of_row(reference, row.key())
    rows = []
    for epoch in sorted(set(mine["epoch"]) & set(theirs["epoch"])):
        at = mine[mine["epoch"] == epoch]
        ours = _spread(at.loc[at["health"] == "ok", "test_mse"])
        ref = _spread(theirs.loc[theirs["epoch"] == epoch, "test_mse"])
        rows.append(dict(
            dataset=row.dataset, noise=row.noise, latency=row.latency, n_hidden=row.n_hidden,
            epoch=int(epoch), spikelib_mean=ours["mean"], spikelib_min=ours["min"],
            spikelib_max=ours["max"], spikelib_seeds=int((at["health"] == "ok").sum()),
            spikelib_unhealthy=int((at["health"] != "ok").sum()), reference_mean=ref["mean"],
            reference_min=ref["min"], reference_max=ref["max"],
            reference_runs=int((theirs["epoch"] == epoch).sum()),
            ratio=ours["mean"] / ref["mean"], **budget(profile, item)))
    return rows


def throughput_row(profile, item, found):
    """Median training and evaluation throughput over the run's epochs, and the reference's."""
    history = found["history"]
    evaluated = item.examples("validation") + item.examples("test")
    evaluation = [evaluated / r["evaluation_seconds"] for r in history
                  if r.get("evaluation_seconds")]
    key = (item.config.data.dataset, item.config.data.noise, item.config.latency,
           item.config.network.n_hidden)
    train_low, train_high = REFERENCE_TRAIN_PER_SECOND.get(key, NOT_MEASURED)
    eval_low, eval_high = REFERENCE_EVALUATION_PER_SECOND.get(key, NOT_MEASURED)
    return dict(
        **identity(item), worker=str(found.get("worker", "")),
        threads=int(found.get("threads", 0)),  # 0: not recorded (trained outside the runner)
        epochs_run=found["epochs_run"],
        train_examples_per_second=statistics.median(
            r["train_examples_per_second"] for r in history),
        evaluation_examples_per_second=statistics.median(evaluation) if evaluation
        else NAN,
        reference_train_low=train_low, reference_train_high=train_high,
        reference_evaluation_low=eval_low, reference_evaluation_high=eval_high,
        **budget(profile, item))


def tables(profile, results):
    run_table, curves, throughput = [], [], []
    for item in runs(profile):
        found = results(item)
        run_table.append({**run_row(profile, item, found), **budget(profile, item)})
        curves.extend({**record, **budget(profile, item)}
                      for record in curve_rows(profile, item, found))
        throughput.append(throughput_row(profile, item, found))
    run_table = TABLES["fidelity_runs"].frame(run_table)
    curves = TABLES["fidelity_curves"].frame(curves)
    health = curves.merge(run_table[IDENTITY + ["health"]], on=IDENTITY, how="left")
    reference = reference_runs()
    fidelity = [epoch_row for row in grid_rows(profile)
                for epoch_row in epoch_rows(profile, row, run(profile, row, seeds(profile)[0]),
                                            health, reference)]
    return {"fidelity": TABLES["fidelity"].frame(fidelity), "fidelity_runs": run_table,
            "fidelity_curves": curves,
            "fidelity_throughput": TABLES["fidelity_throughput"].frame(throughput)}


def row_label(key, short=False):
    """A grid row as text: 'MNIST, noise 0, latency 1, 32 hidden' or 'MNIST (0, 1, 32)'."""
    from spikelib.sections.figures import dataset_name
    dataset, noise, latency, n_hidden = key
    if short:
        return f"{dataset_name(dataset)} ({noise:g}, {latency:g}, {n_hidden})"
    return (f"{dataset_name(dataset)}, noise {noise:g}, latency {latency:g}, "
            f"{n_hidden} hidden")


# Columns of `row_gaps` and their pandas dtypes ("Int64": an epoch, missing without one).
GAPS = {"dataset": "object", "noise": "float64", "latency": "float64", "n_hidden": "int64",
        "epochs_compared": "int64", "mean_gap": "float64", "max_ratio": "float64",
        "max_ratio_epoch": "Int64", "min_ratio": "float64", "min_ratio_epoch": "Int64",
        "band_epochs": "int64", "within_band": "int64", "reference_spread": "float64"}


def row_gaps(table):
    """Per grid row of a `fidelity` table: how far spikelib's mean is from the reference's.

    Over the epochs with a ratio (a healthy spikelib seed): their number, the
    mean absolute value of ratio - 1, the largest and smallest ratio and their
    epochs (NaN and <NA> when there is none); over the epochs where the
    reference has at least two runs (`band_epochs`): at how many spikelib's
    mean lies within their min-max band, and their mean spread
    (max - min) / mean, the scale on which a gap is to be read (NaN without
    such epochs).
    """
    rows = []
    for key, part in table.groupby(list(ROW), sort=False):
        part = part[np.isfinite(part["ratio"])]
        band = part[part["reference_runs"] >= 2]
        inside = band["spikelib_mean"].between(band["reference_min"], band["reference_max"])
        spread = (band["reference_max"] - band["reference_min"]) / band["reference_mean"]
        highest = part.loc[part["ratio"].idxmax()] if len(part) else None
        lowest = part.loc[part["ratio"].idxmin()] if len(part) else None
        rows.append(dict(
            zip(ROW, key), epochs_compared=len(part),
            mean_gap=float((part["ratio"] - 1).abs().mean()) if len(part) else NAN,
            max_ratio=NAN if highest is None else float(highest["ratio"]),
            max_ratio_epoch=pd.NA if highest is None else int(highest["epoch"]),
            min_ratio=NAN if lowest is None else float(lowest["ratio"]),
            min_ratio_epoch=pd.NA if lowest is None else int(lowest["epoch"]),
            band_epochs=len(band), within_band=int(inside.sum()),
            reference_spread=float(spread.mean()) if len(band) else NAN))
    return pd.DataFrame(rows, columns=list(GAPS)).astype(GAPS)


def window_gap(table, key=SMALL_ROW, epochs=GAP_EPOCHS):
    """spikelib against the reference on grid row `key` inside and outside `epochs` (first, last).

    None when no epoch of the window has a ratio; else the window's epochs,
    the smallest and largest ratio there (and the epoch of the largest), the
    mean absolute value of ratio - 1 there, and the same mean over the row's
    other epochs (NaN when there are none).
    """
    part = of_row(table, key)
    part = part[np.isfinite(part["ratio"])]
    inside = part["epoch"].between(*epochs)
    window, rest = part[inside], part[~inside]
    if window.empty:
        return None
    return dict(epochs=[int(e) for e in window["epoch"]],
                min_ratio=float(window["ratio"].min()), max_ratio=float(window["ratio"].max()),
                max_ratio_epoch=int(window.loc[window["ratio"].idxmax(), "epoch"]),
                mean_gap=float((window["ratio"] - 1).abs().mean()),
                rest_epochs=len(rest),
                rest_gap=float((rest["ratio"] - 1).abs().mean()) if len(rest) else NAN)


def _row_sentence(gap):
    key = tuple(gap[c] for c in ROW)
    name = f"**{row_label(key)}**"
    if gap["epochs_compared"] == 0:
        return f"{name}: no healthy spikelib seed, nothing to compare."
    epochs = _plural(gap["epochs_compared"], "epoch")
    if gap["epochs_compared"] == 1:
        ratios = f"a ratio of {gap['max_ratio']:.3f} (epoch {gap['max_ratio_epoch']})"
    else:
        ratios = (f"a ratio from {gap['min_ratio']:.3f} (epoch {gap['min_ratio_epoch']}) "
                  f"to {gap['max_ratio']:.3f} (epoch {gap['max_ratio_epoch']})")
    text = (f"{name} ({epochs} compared): spikelib's mean test error is on average "
            f"{gap['mean_gap']:.1%} from the reference's, with {ratios}.")
    if gap["band_epochs"]:
        text += (f" Where the reference has two or more runs "
                 f"({_plural(gap['band_epochs'], 'epoch')}), spikelib lies within their "
                 f"min–max band at {gap['within_band']}; their spread averages "
                 f"{gap['reference_spread']:.1%} of their mean.")
    else:
        text += " The reference has a single run at each of these epochs: no band to read it on."
    return text


def _window_sentence(table, profile):
    name = row_label(SMALL_ROW)
    first, last = GAP_EPOCHS
    window = window_gap(table)
    if window is None:
        trained = of_row(table, SMALL_ROW)["epoch"]
        if trained.empty:
            return ""
        return (f"The {profile.name!r} budget compares {name} up to epoch "
                f"{int(trained.max())}, so not at epochs {first}–{last}, where the "
                "reference's error ends its late descent.")
    shown = window["epochs"]
    span = f"{shown[0]}–{shown[-1]}" if len(shown) > 1 else f"{shown[0]}"
    text = (f"At epochs {span} of {name}, where the reference's error ends its late "
            f"descent, spikelib's mean is {window['min_ratio']:.3f}–{window['max_ratio']:.3f} "
            f"times the reference's (largest at epoch {window['max_ratio_epoch']}), a mean "
            f"gap of {window['mean_gap']:.1%}")
    if window["rest_epochs"]:
        compared = "larger than" if window["mean_gap"] > window["rest_gap"] else "at most"
        text += (f", {compared} the {window['rest_gap']:.1%} over its other "
                 f"{_plural(window['rest_epochs'], 'epoch')}")
    return text + "."


def conclusion(profile, table):
    """The chapter's conclusion, computed from its `fidelity` table: Markdown paragraphs.

    One list item per grid row (`row_gaps`), a sentence on epochs `GAP_EPOCHS`
    of the latency-16 row (`window_gap`), and the whole comparison in one
    sentence; under a reduced split, first the warning that the errors are not
    comparable with the reference's.
    """
    gaps = row_gaps(table)
    parts = []
    if not full_split(profile):
        parts.append(f"*The '{profile.name}' budget trains spikelib on "
                     f"{profile.train_examples:,} images, the reference was trained on "
                     "54,000: their errors are not comparable, and what follows shows that "
                     "the comparison runs, not how close spikelib comes.*")
    parts.append("\n".join(f"- {_row_sentence(gap)}" for gap in gaps.to_dict("records")))
    window = _window_sentence(table, profile)
    if window:
        parts.append(window)
    finite = table[np.isfinite(table["ratio"])]
    if len(finite):
        worst = finite.loc[(finite["ratio"] - 1).abs().idxmax()]
        key = tuple(worst[c] for c in ROW)
        text = (f"Over all {len(finite)} compared epochs, spikelib's mean test error is on "
                f"average {float((finite['ratio'] - 1).abs().mean()):.1%} from the "
                f"reference's; the farthest is {row_label(key, short=True)} at epoch "
                f"{int(worst['epoch'])}, ratio {worst['ratio']:.3f}.")
        band_epochs = int(gaps["band_epochs"].sum())
        if band_epochs:
            text += (f" Where the reference has two or more runs "
                     f"({_plural(band_epochs, 'epoch')}), spikelib lies within their min–max "
                     f"band at {int(gaps['within_band'].sum())}.")
        parts.append(text)
    return "\n\n".join(parts)
