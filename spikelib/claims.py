"""The paper's claims C1–C7, checked on the results tables the notebooks write.

Each check reads `results/<profile>/tables/*.csv` and returns a `ClaimCheck`
with the measured figures and a status: "pass", "fail", or "not shown at
this budget" when the check fails under a profile too small to show that
claim (see `Profile.too_small_for`).  The thresholds that make "far below",
"close to" and "similar" measurable are named constants below.
"""

import dataclasses
import math
from pathlib import Path

import numpy as np

from spikelib.profiles import get_profile
from spikelib.store import read_table

PASS, FAIL, NOT_SHOWN = "pass", "fail", "not shown at this budget"

# "far below the mean-image predictor": at most half its error.
FAR_BELOW_MEAN_IMAGE = 0.5
# "close to a linear (PCA) code of the same size": within 50 % of its error.
CLOSE_TO_PCA = 1.5
# "similar to or better than" the conventional AE: SAE/ANN error ratio at most this.
SIMILAR_RATIO = 1.25
# "far above chance" for 10 classes: at least five times chance.
FAR_ABOVE_CHANCE = 0.5
# "much worse" without inhibition: the ablation's error at least this multiple.
MUCH_WORSE = 1.5


@dataclasses.dataclass
class ClaimCheck:
    """The outcome of one claim's check."""

    id: str
    claim: str
    section: str
    status: str
    figures: dict
    detail: str


CLAIMS = {
    "C1": ("Single-layer SAEs reconstruct MNIST and FMNIST images with high fidelity "
           "from compact representations.", "02_datasets"),
    "C2": ("SAEs achieve results similar to or better than conventional non-spiking "
           "autoencoders.", "08_comparison"),
    "C3": ("SAEs work across different spike-time target latencies.", "03_latencies"),
    "C4": ("SAEs are explored at different data noise levels (they denoise).", "04_noise"),
    "C5": ("Different embedding sizes are explored (error falls as the embedding grows).",
           "05_embedding_sizes"),
    "C6": ("The embeddings support classification.", "06_classification"),
    "C7": ("Inhibition is essential, especially at high latency; the output accumulates "
           "negative evidence and the pulses trigger the output spikes.", "07_inhibition"),
}


def _by(frame, keys, value="test_mse"):
    """Mean of `value` over seeds for each combination of `keys`."""
    return frame.groupby(keys)[value].mean()


def _fmt(value):
    return float(round(float(value), 6)) if np.isfinite(value) else None


def check_c1(root):
    table = read_table(root, "datasets")
    means = _by(table, ["dataset", "method"])
    figures, ok = {}, True
    for dataset in sorted(table["dataset"].unique()):
        sae, mean_image, pca = (means[(dataset, m)] for m in ("sae", "mean_image", "pca"))
        figures.update({f"{dataset} sae": _fmt(sae), f"{dataset} mean image": _fmt(mean_image),
                        f"{dataset} pca": _fmt(pca)})
        ok &= sae <= FAR_BELOW_MEAN_IMAGE * mean_image and sae <= CLOSE_TO_PCA * pca
    return ok, figures, (f"SAE test MSE <= {FAR_BELOW_MEAN_IMAGE} x mean-image and "
                         f"<= {CLOSE_TO_PCA} x PCA of the same size, every dataset")


def check_c2(root):
    table = read_table(root, "comparison")
    means = _by(table, ["dataset", "n_hidden", "model"]).unstack("model")
    spread = table.groupby(["dataset", "n_hidden", "model"])["test_mse"].std().unstack("model")
    ratios = means["sae"] / means["ann"]
    figures = {f"{d} {h} sae/ann": _fmt(r) for (d, h), r in ratios.items()}
    figures.update({f"{d} {h} sae sd": _fmt(s) for (d, h), s in spread["sae"].items()})
    ok = bool((ratios <= SIMILAR_RATIO).all())
    return ok, figures, f"SAE/ANN test MSE ratio <= {SIMILAR_RATIO} for every dataset and size"


def check_c3(root):
    table = read_table(root, "latencies")
    sae = _by(table, ["dataset", "latency"])
    mean_image = _by(table, ["dataset", "latency"], "mean_image_mse")
    figures = {f"{d} latency {int(l)}": _fmt(v) for (d, l), v in sae.items()}
    ok = bool((sae <= FAR_BELOW_MEAN_IMAGE * mean_image).all())
    return ok, figures, f"every latency: SAE test MSE <= {FAR_BELOW_MEAN_IMAGE} x mean-image"


def check_c4(root):
    table = read_table(root, "noise")
    sae = _by(table, ["dataset", "noise"])
    noisy = _by(table, ["dataset", "noise"], "noisy_input_mse")
    figures = {}
    for (d, n), v in sae.items():
        figures[f"{d} noise {n:g} sae"] = _fmt(v)
        figures[f"{d} noise {n:g} noisy input"] = _fmt(noisy[(d, n)])
    noisy_levels = [key for key in sae.index if key[1] >= 0.2]
    ok = bool(noisy_levels) and all(sae[key] < noisy[key] for key in noisy_levels)
    return ok, figures, "for noise >= 0.2: SAE test MSE below the noisy input's own MSE"


def check_c5(root):
    table = read_table(root, "embedding_sizes")
    sae = _by(table[table["method"] == "sae"], ["dataset", "n_hidden"])
    figures = {f"{d} {int(h)}": _fmt(v) for (d, h), v in sae.items()}
    ok = True
    for dataset in sae.index.get_level_values(0).unique():
        errors = sae[dataset].sort_index().to_numpy()
        ok &= len(errors) > 1 and bool(np.all(np.diff(errors) < 0))
    return ok, figures, "SAE test MSE falls with every increase of the embedding size"


def check_c6(root):
    table = read_table(root, "classification")
    accuracy = _by(table, ["dataset", "features"], "accuracy")
    figures = {f"{d} {f}": _fmt(v) for (d, f), v in accuracy.items()}
    sae = accuracy.xs("sae_embedding", level="features")
    ok = bool((sae >= FAR_ABOVE_CHANCE).all())
    return ok, figures, f"linear classifier on SAE spike times: accuracy >= {FAR_ABOVE_CHANCE}"


def check_c7(root):
    table = read_table(root, "inhibition")
    output = table[table["layer"] == "output"]
    by_latency = output.groupby(["dataset", "latency"])[
        ["test_mse", "test_mse_nonnegative", "negative_share", "negative_mass",
         "pulse_positive_share", "negative_before_spike_share"]].mean()
    figures, ok, ablated = {}, True, 0
    for dataset in by_latency.index.get_level_values(0).unique():
        rows = by_latency.loc[dataset].sort_index()
        high, low = rows.index.max(), rows.index.min()
        ratio = (rows["test_mse_nonnegative"] / rows["test_mse"]).dropna()
        if high in ratio.index and low in ratio.index:
            ablated += 1
            figures.update({f"{dataset} ablation ratio latency {int(l)}": _fmt(r)
                            for l, r in ratio.items()})
            ok &= ratio[high] >= MUCH_WORSE and ratio[high] > ratio[low]
        figures[f"{dataset} negative share output (latency {int(high)})"] = _fmt(
            rows.loc[high, "negative_share"])
        figures[f"{dataset} dips below 0 before spike (latency {int(high)})"] = _fmt(
            rows.loc[high, "negative_before_spike_share"])
        figures[f"{dataset} positive output pulse weights (latency {int(high)})"] = _fmt(
            rows.loc[high, "pulse_positive_share"])
        ok &= (rows.loc[high, "negative_before_spike_share"] >= 0.5
               and rows.loc[high, "pulse_positive_share"] >= 0.5)
    ok &= ablated > 0
    return ok, figures, (f"ablation (weights >= 0) at least {MUCH_WORSE} x worse at the highest "
                         "latency and worse there than at the lowest; most firing outputs dip "
                         "below 0 first; most output pulse weights positive")


CHECKS = {"C1": check_c1, "C2": check_c2, "C3": check_c3, "C4": check_c4,
          "C5": check_c5, "C6": check_c6, "C7": check_c7}


def check(claim_id, root):
    """Run one claim's check on the tables under `root` (results/<profile>)."""
    root = Path(root)
    text, section = CLAIMS[claim_id]
    profile = get_profile(root.name)
    ok, figures, detail = CHECKS[claim_id](root)
    figures = {k: v for k, v in figures.items() if v is None or not math.isnan(v)}
    status = PASS if ok else (FAIL if profile.shows(claim_id) else NOT_SHOWN)
    return ClaimCheck(claim_id, text, section, status, figures, detail)


def check_all(root):
    """Every claim's check, C1 to C7."""
    return [check(claim_id, root) for claim_id in CHECKS]


def main(argv=None):
    import argparse
    import json

    from spikelib.store import results_root
    parser = argparse.ArgumentParser(description="Check the paper's claims on fresh results.")
    parser.add_argument("--profile", default="quick")
    args = parser.parse_args(argv)
    checks = check_all(results_root(args.profile))
    for item in checks:
        print(json.dumps(dataclasses.asdict(item)))
    return 1 if any(item.status == FAIL for item in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
