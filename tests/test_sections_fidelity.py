"""Section fidelity: the packaged reference runs, the plan and the tables (no training)."""

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest

from spikelib.profiles import get_profile
from spikelib.sections import SECTIONS, fidelity

CI, QUICK, PAPER = (get_profile(name) for name in ("ci", "quick", "paper"))
# A full-split profile with the quick profile's seeds and enough epochs for every reference row.
FULL = dataclasses.replace(QUICK, epochs=100)
README_ROW = ("mnist", 0.0, 1.0, 32)
SMALL_ROW = ("mnist", 0.0, 16.0, 8)


def test_the_packaged_reference_has_three_rows_and_their_epochs():
    frame = fidelity.reference_runs()
    assert list(frame.columns) == ["run", "dataset", "noise", "latency", "n_hidden",
                                   "batch_size", "weight_seed", "epoch", "test_mse",
                                   "validation_mse"]
    rows = fidelity.grid_rows()
    assert [(row.key(), row.epochs) for row in rows] == [
        (README_ROW, 10), (("fashion_mnist", 0.0, 1.0, 32), 5), (SMALL_ROW, 20)]
    runs_per_row = frame.groupby(["dataset", "latency", "n_hidden"])["run"].nunique()
    assert runs_per_row.to_dict() == {("fashion_mnist", 1.0, 32): 1, ("mnist", 1.0, 32): 4,
                                      ("mnist", 16.0, 8): 2}
    # every run has every epoch from 1 up to its last one
    for _, run in frame.groupby("run"):
        assert sorted(run["epoch"]) == list(range(1, run["epoch"].max() + 1))
    assert frame["test_mse"].between(0.0, 1.0).all()


def test_the_section_is_the_last_of_the_paper_before_the_whole_grid():
    assert SECTIONS[-2:] == ("fidelity", "grid")


@pytest.mark.parametrize("profile", [FULL, PAPER, get_profile("book")],
                         ids=["full-split", "paper", "book"])
def test_full_split_profiles_train_the_reference_budget(profile):
    # the reference's epochs even where the profile trains fewer elsewhere (book: 15)
    items = fidelity.runs(profile)
    assert len(items) == 3 * len(fidelity.seeds(profile))
    reference = fidelity.reference_runs()
    epochs = {}
    for item in items:
        config = item.config
        key = (config.data.dataset, config.data.noise, config.latency,
               config.network.n_hidden)
        epochs[key] = config.budget.epochs
        assert config.budget.patience is None
        assert (config.data.train_examples, config.data.validation_examples,
                config.data.test_examples) == (None, None, None)
        assert [item.examples(s) for s in ("train", "validation", "test")] == [
            54000, 6000, 10000]
        # the tuned row's batch size, as the reference ran it
        assert set(fidelity.of_row(reference, key)["batch_size"]) == {
            config.flat()["batch_size"]}
    assert epochs == {README_ROW: 10, ("fashion_mnist", 0.0, 1.0, 32): 5, SMALL_ROW: 20}
    assert {item.config.seed for item in items} == set(fidelity.seeds(profile))
    assert len({item.key for item in items}) == len(items)


def test_the_ci_profile_trains_a_reduced_smoke_budget():
    items = fidelity.runs(CI)
    assert len(items) == 3 * len(CI.seeds)
    for item in items:
        assert item.config.budget.epochs == min(CI.epochs, fidelity.SMOKE_EPOCHS)
        assert item.config.budget.patience is None
        assert item.examples("train") == CI.train_examples
        assert item.examples("test") == CI.test_examples
    assert "1 epoch," in fidelity.caption(CI)
    assert "10, 5 and 20 epochs" in fidelity.caption(PAPER)


def test_a_first_look_trains_the_first_reference_epochs_on_the_full_split():
    items = fidelity.runs(QUICK)
    assert {item.config.budget.epochs for item in items} == {fidelity.FIRST_LOOK_EPOCHS}
    assert {item.examples("train") for item in items} == {54000}
    assert f"{fidelity.FIRST_LOOK_EPOCHS} epochs" in fidelity.caption(QUICK)


def test_only_the_profiles_data_sets_are_run():
    mnist_only = dataclasses.replace(QUICK, datasets=("mnist",))
    assert {item.config.data.dataset for item in fidelity.runs(mnist_only)} == {"mnist"}
    assert len(fidelity.runs(mnist_only)) == 2 * len(QUICK.seeds)


class FakeResults:
    """Results dicts by run key, as `sections.Results` gives them."""

    def __init__(self, by_key):
        self.by_key = by_key

    def __call__(self, run):
        return self.by_key[run.key]


def fake_results(test_mse, health="ok", train_rate=1000.0, evaluation_seconds=4.0):
    """A results dict whose history has test_mse[k] at epoch k + 1."""
    history = [dict(epoch=k + 1, train_mse=0.1, validation_mse=value, test_mse=value,
                    train_examples_per_second=train_rate * (k + 1),
                    evaluation_seconds=evaluation_seconds)
               for k, value in enumerate(test_mse)]
    return dict(test_mse=test_mse[-1], mean_image_mse=1.0, best_epoch=len(test_mse),
                epochs_run=len(test_mse), stop_reason="max_epochs", health=health,
                silent_hidden_share=0.0, silent_output_share=0.0, history=history,
                worker="tcp://w1", threads=1)


def reference_at(key, epoch, column="test_mse"):
    frame = fidelity.of_row(fidelity.reference_runs(), key)
    return frame.loc[frame["epoch"] == epoch, column]


def test_tables_give_the_ratio_and_band_per_epoch():
    by_key = {}
    for item in fidelity.runs(FULL):
        config = item.config
        key = (config.data.dataset, config.data.noise, config.latency,
               config.network.n_hidden)
        epochs = config.budget.epochs
        scale = 1.0 + 0.1 * config.seed  # seeds 0, 1, 2: 1.0, 1.1, 1.2 x the reference mean
        means = [reference_at(key, epoch).mean() for epoch in range(1, epochs + 1)]
        by_key[item.key] = fake_results([scale * m for m in means],
                                        health="dead" if key == SMALL_ROW and config.seed == 2
                                        else "ok")
    tables = fidelity.tables(FULL, FakeResults(by_key))
    for name, frame in tables.items():
        assert list(frame.columns) == list(fidelity.TABLES[name].columns)

    frame = tables["fidelity"]
    assert len(frame) == 10 + 5 + 20
    readme = fidelity.of_row(frame, README_ROW).set_index("epoch")
    assert readme.loc[1, "reference_runs"] == 4 and readme.loc[5, "reference_runs"] == 2
    assert readme.loc[10, "reference_runs"] == 1
    first = reference_at(README_ROW, 1)
    assert readme.loc[1, "reference_min"] == pytest.approx(first.min())
    assert readme.loc[1, "reference_max"] == pytest.approx(first.max())
    assert readme.loc[1, "reference_mean"] == pytest.approx(first.mean())
    # mean over seeds is 1.1 x the reference mean at every epoch; min 1.0 x, max 1.2 x
    assert readme["ratio"].to_numpy() == pytest.approx([1.1] * 10)
    assert readme.loc[3, "spikelib_min"] == pytest.approx(reference_at(README_ROW, 3).mean())
    assert readme.loc[3, "spikelib_max"] == pytest.approx(
        1.2 * reference_at(README_ROW, 3).mean())
    assert (readme["spikelib_seeds"] == 3).all() and (readme["epochs"] == 10).all()
    # the dead seed of the small row is counted, not averaged: mean of 1.0 and 1.1
    small = fidelity.of_row(frame, SMALL_ROW).set_index("epoch")
    assert small["ratio"].to_numpy() == pytest.approx([1.05] * 20)
    assert (small["spikelib_seeds"] == 2).all() and (small["spikelib_unhealthy"] == 1).all()
    assert (frame["train_examples"] == 54000).all() and (frame["test_examples"] == 10000).all()

    curves = tables["fidelity_curves"]
    assert len(curves) == (10 + 5 + 20) * len(QUICK.seeds)
    assert len(tables["fidelity_runs"]) == 3 * len(QUICK.seeds)


def test_throughput_is_the_median_over_epochs_beside_the_reference_range():
    by_key = {item.key: fake_results([0.05] * item.config.budget.epochs)
              for item in fidelity.runs(FULL)}
    frame = fidelity.tables(FULL, FakeResults(by_key))["fidelity_throughput"]
    readme = fidelity.of_row(frame, README_ROW)
    # rates 1000, 2000, ..., 10000 over 10 epochs: median 5500
    assert readme["train_examples_per_second"].to_numpy() == pytest.approx([5500.0] * 3)
    # validation + test images (6000 + 10000) in 4 s
    assert readme["evaluation_examples_per_second"].to_numpy() == pytest.approx([4000.0] * 3)
    assert (readme["reference_train_low"] == 660).all()
    assert (readme["reference_train_high"] == 1450).all()
    assert (readme["reference_evaluation_low"] == 1500).all()
    small = fidelity.of_row(frame, SMALL_ROW)
    assert (small["reference_train_low"] == 2250).all()
    assert (small["reference_evaluation_high"] == 9500).all()
    fashion = frame[frame["dataset"] == "fashion_mnist"]
    assert fashion["reference_train_low"].map(math.isnan).all()  # not timed: not invented
    assert (frame["threads"] == 1).all()


def test_the_ci_tables_cover_only_the_trained_epoch():
    by_key = {item.key: fake_results([0.05]) for item in fidelity.runs(CI)}
    frame = fidelity.tables(CI, FakeResults(by_key))["fidelity"]
    assert list(frame["epoch"]) == [1, 1, 1]
    assert (frame["train_examples"] == CI.train_examples).all()


def test_the_reference_source_is_the_one_its_runs_file_records():
    path = Path(fidelity.__file__).resolve().parent.parent / fidelity.REFERENCE_FILE
    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    words = " ".join(header).replace("#", " ").replace(",", " ").replace(")", " ").split()
    assert fidelity.reference_source() == {
        "repository": "google/ihmehimmeli", "branch": words[words.index("branch") + 1],
        "commit": words[words.index("commit") + 1]}
    assert all(c in "0123456789abcdef" for c in fidelity.reference_source()["commit"])


def gap_table(ratios, reference_runs=None, spikelib_mean=1.0, reference_min=None,
              reference_max=None, key=README_ROW):
    """A `fidelity` table of one grid row: epochs 1.., reference mean 1 / ratio."""
    n = len(ratios)
    frame = pd.DataFrame({
        "dataset": key[0], "noise": key[1], "latency": key[2], "n_hidden": key[3],
        "epoch": range(1, n + 1), "ratio": ratios,
        "spikelib_mean": spikelib_mean,
        "reference_mean": [spikelib_mean / r if r == r else 1.0 for r in ratios],
        "reference_runs": reference_runs or [1] * n})
    frame["reference_min"] = reference_min if reference_min is not None else frame[
        "reference_mean"]
    frame["reference_max"] = reference_max if reference_max is not None else frame[
        "reference_mean"]
    return frame


def test_row_gaps_give_the_mean_gap_extremes_and_the_band():
    # ratios 1.2, 0.9, 1.05 and a seedless epoch; the reference has 2 runs at epochs 1-2
    frame = gap_table([1.2, 0.9, 1.05, float("nan")], reference_runs=[2, 2, 1, 1],
                      reference_min=[0.5, 1.0, 1.0, 1.0], reference_max=[1.0, 1.2, 1.0, 1.0])
    gaps = fidelity.row_gaps(frame).iloc[0]
    assert gaps["epochs_compared"] == 3
    assert gaps["mean_gap"] == pytest.approx((0.2 + 0.1 + 0.05) / 3)
    assert (gaps["max_ratio"], gaps["max_ratio_epoch"]) == (pytest.approx(1.2), 1)
    assert (gaps["min_ratio"], gaps["min_ratio_epoch"]) == (pytest.approx(0.9), 2)
    # spikelib's mean 1.0 lies in [0.5, 1.0] at epoch 1 and in [1.0, 1.2] at epoch 2
    assert (gaps["band_epochs"], gaps["within_band"]) == (2, 2)
    mean1, mean2 = 1.0 / 1.2, 1.0 / 0.9
    assert gaps["reference_spread"] == pytest.approx((0.5 / mean1 + 0.2 / mean2) / 2)


def test_row_gaps_of_a_row_without_a_healthy_seed():
    gaps = fidelity.row_gaps(gap_table([float("nan")] * 2)).iloc[0]
    assert gaps["epochs_compared"] == 0 and math.isnan(gaps["mean_gap"])
    assert pd.isna(gaps["max_ratio_epoch"]) and pd.isna(gaps["min_ratio_epoch"])
    assert "no healthy spikelib seed" in fidelity.conclusion(FULL, gap_table([float("nan")]))


def test_the_window_gap_of_the_latency_16_row():
    ratios = [1.0] * 6 + [1.3, 1.5, 1.2, 1.1, 1.1, 1.1] + [1.02] * 8
    window = fidelity.window_gap(gap_table(ratios, key=SMALL_ROW))
    assert window["epochs"] == list(range(7, 13))
    assert (window["min_ratio"], window["max_ratio"]) == (pytest.approx(1.1), pytest.approx(1.5))
    assert window["max_ratio_epoch"] == 8
    assert window["mean_gap"] == pytest.approx((0.3 + 0.5 + 0.2 + 0.1 * 3) / 6)
    assert window["rest_epochs"] == 14
    assert window["rest_gap"] == pytest.approx(8 * 0.02 / 14)
    assert fidelity.window_gap(gap_table([1.0, 1.1], key=SMALL_ROW)) is None


def test_the_conclusion_is_computed_from_the_table():
    ratios = [1.0] * 6 + [1.3, 1.5, 1.2, 1.1, 1.1, 1.1] + [1.02] * 8
    frame = pd.concat([gap_table([1.1, 0.95]), gap_table(ratios, key=SMALL_ROW)])
    text = fidelity.conclusion(FULL, frame)
    assert "not comparable" not in text
    assert text.count("\n- ") + text.startswith("- ") == 2
    assert "from 0.950 (epoch 2) to 1.100 (epoch 1)" in text
    assert "At epochs 7–12" in text and "1.100–1.500" in text and "epoch 8" in text
    assert f"{(0.3 + 0.5 + 0.2 + 0.3) / 6:.1%}" in text
    assert "farthest is MNIST (0, 16, 8) at epoch 8, ratio 1.500" in text
    assert "nan" not in text.lower()
    smoke = fidelity.conclusion(CI, gap_table([1.1]))
    assert smoke.startswith("*The 'ci' budget") and "not comparable" in smoke
    assert "nan" not in smoke.lower()
