"""The paper's claims C1–C7: one verdict each, from the section tables.

`check(claim, profile)` reads the tables its section wrote under that
profile (`spikelib.sections.read`) and returns a `ClaimCheck`: the
criterion, the measured figures and a status.  A claim gets a verdict,
"pass" or "fail", only under a profile meant to show it
(`Profile.shows_claims`); elsewhere the figures are reported with
"no verdict at this budget", whichever way they point.  A verdict that
rests on runs still learning when they stopped (`spikelib.convergence`)
keeps its status and carries a caveat naming them: their errors are upper
bounds, so the reader sees which figures could still move.  The thresholds
that make "far below", "close to" and "similar" measurable are the named
constants below, each with the reason for its value; they are never tuned
to a result.
"""

import dataclasses
import math
import sys

import numpy as np

from spikelib import sections
from spikelib.profiles import get_profile

PASS, FAIL, NO_VERDICT = "pass", "fail", "no verdict at this budget"

# "Far below the mean-image predictor": at most half its error.  The mean
# image is what a network that ignores its input achieves; half of it is
# the smallest gap that a reader would call a reconstruction.
FAR_BELOW_MEAN_IMAGE = 0.5
# "Close to a linear code of the same size" (high fidelity from a compact
# code): within 50 % of PCA's error, PCA being the best linear code.
CLOSE_TO_PCA = 1.5
# "Similar to or better than" the conventional AE: an SAE/ANN error ratio at
# most 1.25, i.e. at most a quarter worse.
SIMILAR_RATIO = 1.25
# "Far above chance" for 10 classes: at least five times chance (10 %).
FAR_ABOVE_CHANCE = 0.5
# "Much worse" without inhibition: the ablation's error at least 1.5 times
# the full model's at the highest latency.
MUCH_WORSE = 1.5
# "Most" output neurons / pulse weights: more than half.
MOST = 0.5

# Why each claim's thresholds are what they are, for the claims page.
REASONS = {
    "C1": (f"The mean image is what a network that ignores its input achieves; at most "
           f"{FAR_BELOW_MEAN_IMAGE:g} x its error is the smallest gap one would call a "
           f"reconstruction. PCA of the same size is the best linear code; within "
           f"{CLOSE_TO_PCA:g} x its error is 'high fidelity from a compact code'."),
    "C2": (f"'Similar to or better than': at most {SIMILAR_RATIO - 1:.0%} worse than a "
           "conventional autoencoder of the same size, trained on the same inputs until its "
           "learning curve flattens."),
    "C3": (f"'Works' at a latency: the same bar as C1's first part, at most "
           f"{FAR_BELOW_MEAN_IMAGE:g} x the mean image's error, at every latency trained."),
    "C4": ("Denoising: the reconstruction is closer to the clean image than the noisy input "
           "itself is; below noise 0.2 the input is almost clean, so it is not tested."),
    "C5": ("'Explored' read as the paper's trend: each larger embedding reconstructs better "
           "(no threshold, a strict decrease of the mean over seeds)."),
    "C6": (f"Ten classes give 10 % by chance; {FAR_ABOVE_CHANCE:.0%} is five times chance, "
           "far from it but well below what any useful code reaches."),
    "C7": (f"'Essential, especially at high latency': without inhibitory weights the error "
           f"is at least {MUCH_WORSE:g} x the full model's at the highest latency, and the gap "
           "grows with latency; 'the output accumulates negative evidence' and 'the pulses "
           f"trigger the spikes': more than {MOST:.0%} of firing outputs dip below rest before "
           f"their spike, more than {MOST:.0%} of output-pulse weights are positive."),
}


@dataclasses.dataclass
class ClaimCheck:
    """One claim's verdict under one profile."""

    id: str
    claim: str
    section: str
    status: str
    criterion: str
    figures: dict
    budget: str
    caveats: tuple = ()

    @property
    def detail(self):
        return self.criterion


CLAIMS = {
    "C1": ("Single-layer SAEs reconstruct MNIST and FMNIST images with high fidelity "
           "from compact representations.", "datasets"),
    "C2": ("SAEs achieve results similar to or better than conventional non-spiking "
           "autoencoders.", "comparison"),
    "C3": ("SAEs work across different spike-time target latencies.", "latencies"),
    "C4": ("SAEs are explored at different data noise levels (they denoise).", "noise"),
    "C5": ("Different embedding sizes are explored (error falls as the embedding grows).",
           "embedding_sizes"),
    "C6": ("The embeddings support classification.", "classification"),
    "C7": ("Inhibition is essential, especially at high latency; the output accumulates "
           "negative evidence and the pulses trigger the output spikes.", "inhibition"),
}
# The notebook of each section, for links.
NOTEBOOKS = {"datasets": "02_datasets", "latencies": "03_latencies", "noise": "04_noise",
             "embedding_sizes": "05_embedding_sizes", "classification": "06_classification",
             "inhibition": "07_inhibition", "comparison": "08_comparison"}


def _fmt(value):
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None


def _table(profile, section, name=None):
    name = name or section
    return sections.read(section, profile, tables=[name])[name]


def check_c1(profile):
    table = _table(profile, "datasets")
    means = table.groupby("dataset")[["test_mse", "mean_image_mse", "pca_mse"]].mean()
    figures, ok = {}, True
    for dataset, row in means.iterrows():
        figures.update({f"{dataset} SAE": _fmt(row.test_mse),
                        f"{dataset} mean image": _fmt(row.mean_image_mse),
                        f"{dataset} PCA": _fmt(row.pca_mse)})
        ok &= (row.test_mse <= FAR_BELOW_MEAN_IMAGE * row.mean_image_mse
               and row.test_mse <= CLOSE_TO_PCA * row.pca_mse)
    return bool(ok and len(means)), figures, (
        f"SAE test MSE <= {FAR_BELOW_MEAN_IMAGE} x the mean image's and <= {CLOSE_TO_PCA} x "
        "PCA's of the same size, on every data set (mean over seeds)")


def check_c2(profile):
    table = _table(profile, "comparison")
    means = table.groupby(["dataset", "n_hidden", "model"])["test_mse"].mean().unstack("model")
    spread = table.groupby(["dataset", "n_hidden", "model"])["test_mse"].std().unstack("model")
    ratios = means["sae"] / means["ann"]
    figures = {f"{d} {h} SAE/ANN": _fmt(r) for (d, h), r in ratios.items()}
    figures.update({f"{d} {h} SAE sd": _fmt(s) for (d, h), s in spread["sae"].items()})
    ok = bool(len(ratios)) and bool((ratios <= SIMILAR_RATIO).all())
    return ok, figures, (f"SAE/ANN test MSE ratio <= {SIMILAR_RATIO} for every data set and "
                         "embedding size (mean over seeds)")


def check_c3(profile):
    table = _table(profile, "latencies")
    means = table.groupby(["dataset", "latency"])[["test_mse", "mean_image_mse"]].mean()
    figures = {f"{d} latency {l:g}": _fmt(row.test_mse) for (d, l), row in means.iterrows()}
    figures.update({f"{d} mean image": _fmt(v) for d, v in
                    means["mean_image_mse"].groupby(level=0).first().items()})
    ok = bool(len(means)) and bool(
        (means["test_mse"] <= FAR_BELOW_MEAN_IMAGE * means["mean_image_mse"]).all())
    return ok, figures, (f"at every latency trained, SAE test MSE <= {FAR_BELOW_MEAN_IMAGE} x the "
                         "mean image's (mean over seeds)")


def check_c4(profile):
    table = _table(profile, "noise")
    means = table.groupby(["dataset", "noise"])[["test_mse", "noisy_input_mse"]].mean()
    figures = {}
    for (d, n), row in means.iterrows():
        figures[f"{d} noise {n:g} SAE"] = _fmt(row.test_mse)
        figures[f"{d} noise {n:g} noisy input"] = _fmt(row.noisy_input_mse)
    noisy = means[means.index.get_level_values("noise") >= 0.2]
    ok = bool(len(noisy)) and bool((noisy["test_mse"] < noisy["noisy_input_mse"]).all())
    return ok, figures, ("at every noise level >= 0.2 trained, SAE test MSE (against the clean "
                         "image) below the noisy input's own MSE (mean over seeds)")


def check_c5(profile):
    table = _table(profile, "embedding_sizes")
    means = table.groupby(["dataset", "n_hidden"])["test_mse"].mean()
    figures = {f"{d} {h}": _fmt(v) for (d, h), v in means.items()}
    ok = bool(len(means))
    for dataset in means.index.get_level_values(0).unique():
        errors = means[dataset].sort_index().to_numpy()
        ok &= len(errors) > 1 and bool(np.all(np.diff(errors) < 0))
    return ok, figures, ("SAE test MSE falls with every increase of the embedding size trained, on "
                         "every data set (mean over seeds)")


def check_c6(profile):
    table = _table(profile, "classification")
    accuracy = table.groupby(["dataset", "features"])["accuracy"].mean()
    figures = {f"{d} {f}": _fmt(v) for (d, f), v in accuracy.items()}
    sae = accuracy.xs("sae_embedding", level="features")
    ok = bool(len(sae)) and bool((sae >= FAR_ABOVE_CHANCE).all())
    return ok, figures, (f"linear classifier on the SAE spike times: test accuracy >= "
                         f"{FAR_ABOVE_CHANCE} (chance 0.1) on every data set")


def check_c7(profile):
    table = _table(profile, "inhibition")
    output = table[table["layer"] == "output"]
    by_latency = output.groupby(["dataset", "latency"])[
        ["test_mse", "test_mse_nonnegative", "negative_share", "pulse_positive_share",
         "negative_before_spike_share"]].mean()
    figures, ok, ablated = {}, True, 0
    for dataset in by_latency.index.get_level_values(0).unique():
        rows = by_latency.loc[dataset].sort_index()
        high, low = rows.index.max(), rows.index.min()
        ratio = (rows["test_mse_nonnegative"] / rows["test_mse"]).dropna()
        if high in ratio.index and low in ratio.index:
            ablated += 1
            figures.update({f"{dataset} ablation/full, latency {l:g}": _fmt(r)
                            for l, r in ratio.items()})
            if len(ratio) > 2:
                figures[f"{dataset} ablation/full rising at every latency step"] = (
                    "yes" if (ratio.diff().dropna() > 0).all()
                    else f"no (largest at latency {ratio.idxmax():g})")
            ok &= ratio[high] >= MUCH_WORSE and ratio[high] > ratio[low]
        top = rows.loc[high]
        figures[f"{dataset} negative output weights (latency {high:g})"] = _fmt(top.negative_share)
        figures[f"{dataset} outputs dipping below 0 first (latency {high:g})"] = _fmt(
            top.negative_before_spike_share)
        figures[f"{dataset} positive output pulse weights (latency {high:g})"] = _fmt(
            top.pulse_positive_share)
        ok &= (top.negative_before_spike_share > MOST and top.pulse_positive_share > MOST)
    return bool(ok and ablated), figures, (
        f"ablation (weights >= 0) at least {MUCH_WORSE} x worse at the highest latency and worse "
        f"there than at the lowest; more than {MOST:.0%} of firing outputs dip below 0 before "
        f"their spike; more than {MOST:.0%} of output pulse weights positive")


CHECKS = {"C1": check_c1, "C2": check_c2, "C3": check_c3, "C4": check_c4,
          "C5": check_c5, "C6": check_c6, "C7": check_c7}


def describe_run(row, seeds=None):
    """A run of a section table in a few words, e.g. 'MNIST L = 16, 32 hidden, seed 0'.

    `seeds`: the seeds to name instead of the row's own (for a group of runs).
    """
    from spikelib.sections.figures import dataset_name
    model = {"ann": "conventional AE, ", "sae": ""}.get(getattr(row, "model", "sae"), "")
    noise = f"noise {row.noise:g}, " if row.noise else ""
    seeds = [row.seed] if seeds is None else list(seeds)
    seed = f"seed{'s' if len(seeds) > 1 else ''} {', '.join(str(s) for s in seeds)}"
    return (f"{model}{dataset_name(row.dataset)} {noise}L = {row.latency:g}, "
            f"{row.n_hidden} hidden, {seed}")


def describe_runs(table):
    """The distinct runs of `table`, seeds of one row named together."""
    row_columns = [c for c in ("model", "dataset", "noise", "latency", "n_hidden") if c in table]
    found = []
    for _, group in table.drop_duplicates(row_columns + ["seed"]).groupby(row_columns,
                                                                         sort=False):
        found.append(describe_run(next(group.itertuples()), sorted(group["seed"])))
    return found


def still_learning_runs(table):
    """The runs of `table` still learning when they stopped, described (seeds grouped)."""
    return describe_runs(table[table["still_learning"].astype(bool)])


def caveats(claim_id, profile):
    """The caveats of a verdict: the runs it rests on that were still learning."""
    section = CLAIMS[claim_id][1]
    table = _table(profile, section)
    if claim_id == "C7":
        table = table[table["layer"] == "output"]
    found = still_learning_runs(table)
    notes = []
    if found:
        notes.append("It rests on runs still learning when they stopped (their errors are "
                     f"upper bounds): {'; '.join(found)}.")
    if claim_id == "C7" and "still_learning_nonnegative" in table:
        ablations = table[table["still_learning_nonnegative"].astype(bool)]
        if len(ablations):
            notes.append("The ablation (weights >= 0) was still learning, or had not left the "
                         f"mean-image plateau, at its cap: {'; '.join(describe_runs(ablations))}.")
    return tuple(notes)


def check(claim_id, profile):
    """The verdict on claim `claim_id` ("C1".."C7") from `profile`'s section tables."""
    profile = get_profile(getattr(profile, "name", profile))
    text, section = CLAIMS[claim_id]
    ok, figures, criterion = CHECKS[claim_id](profile)
    figures = {k: v for k, v in figures.items() if v is not None}
    status = (PASS if ok else FAIL) if profile.shows(claim_id) else NO_VERDICT
    return ClaimCheck(claim_id, text, section, status, criterion, figures, profile.caption(),
                      caveats(claim_id, profile))


def check_all(profile):
    """The verdict on every claim whose section `profile` covers, in order C1 to C7."""
    profile = get_profile(getattr(profile, "name", profile))
    return [check(claim_id, profile) for claim_id in CHECKS
            if profile.covers(CLAIMS[claim_id][1])]


def compute_sections(profile, progress=True):
    """Compute (training what is missing) the tables of the sections `profile`'s claims read."""
    profile = get_profile(getattr(profile, "name", profile))
    for name in dict.fromkeys(section for _, section in CLAIMS.values()):
        if profile.covers(name):
            sections.compute(name, profile, progress=progress)


def report(checks):
    """The verdicts as text: one paragraph per claim, criterion and figures."""
    lines = []
    for item in checks:
        figures = ", ".join(f"{name} {value:g}" for name, value in item.figures.items())
        lines += [f"{item.id} {item.status.upper()}: {item.claim}",
                  f"    criterion: {item.criterion}", f"    figures: {figures}"]
        lines += [f"    caveat: {caveat}" for caveat in item.caveats]
    return "\n".join(lines)


def main(argv=None):
    import argparse
    import json
    parser = argparse.ArgumentParser(
        prog="python -m spikelib.claims",
        description="The paper's claims on a profile's results; exit status 1 if any fails.")
    parser.add_argument("--profile", default="book")
    parser.add_argument("--compute", action="store_true",
                        help="compute the sections' tables first, training missing runs")
    parser.add_argument("--json", action="store_true", help="one JSON object per claim")
    args = parser.parse_args(argv)
    try:
        get_profile(args.profile)
    except ValueError as error:
        parser.error(str(error))
    from spikelib.quiet import quiet_notebook
    quiet_notebook()  # sections import TensorFlow: no start-up lines, no warnings
    try:
        if args.compute:
            compute_sections(args.profile)
        checks = check_all(args.profile)
    except FileNotFoundError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        for item in checks:
            print(json.dumps(dataclasses.asdict(item)))
    else:
        print(f"{checks[0].budget if checks else args.profile}\n{report(checks)}")
    return 1 if any(item.status == FAIL for item in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
