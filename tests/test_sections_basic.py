"""Sections model, datasets, latencies, noise and embedding_sizes: plans, schemas, helpers."""

import types

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from spikelib import analysis  # noqa: E402
from spikelib.baselines import mean_image_error, pca_error  # noqa: E402
from spikelib.profiles import get_profile  # noqa: E402
from spikelib.sections import (classification, datasets, embedding_sizes, figures,  # noqa: E402
                               latencies, model, noise)

CI = get_profile("ci")


def keys(runs):
    return {run.key for run in runs}


def test_sweeps_cover_every_row_and_seed_of_the_profile():
    assert len(latencies.runs(CI)) == (len(CI.datasets_for("latencies")) * len(CI.latencies)
                                       * len(CI.seeds))
    assert len(noise.runs(CI)) == (len(CI.datasets_for("noise")) * len(CI.noise_levels)
                                   * len(CI.seeds))
    assert len(embedding_sizes.runs(CI)) == (len(CI.datasets) * len(embedding_sizes.sizes(CI))
                                             * len(CI.seeds))
    assert model.runs(CI) == []
    for section in (latencies, noise, embedding_sizes):
        assert len(keys(section.runs(CI))) == len(section.runs(CI))


def test_the_readme_row_is_trained_once_for_four_sections():
    # latency 1, noise 0 and 32 hidden neurons is the datasets row: same key, one training
    # (the sweeps over latency and noise run on `datasets_for` their section).
    shared = keys(datasets.runs(CI))
    swept = keys(run for run in datasets.runs(CI)
                 if run.config.data.dataset in CI.datasets_for("latencies"))
    assert swept and swept <= keys(latencies.runs(CI))
    assert swept <= keys(noise.runs(CI))
    assert shared <= keys(embedding_sizes.runs(CI))


def test_run_helpers_build_the_row_they_name():
    item = latencies.run(CI, "fashion_mnist", 16, 1)
    assert (item.config.latency, item.config.seed, item.config.data.dataset) == (
        16.0, 1, "fashion_mnist")
    assert noise.run(CI, "mnist", 0.4, 0).config.data.noise == 0.4
    assert embedding_sizes.run(CI, "mnist", 8, 0).config.network.n_hidden == 8


def test_extension_sizes_come_after_the_tuned_ones():
    paper = get_profile("paper")
    assert embedding_sizes.sizes(paper) == [8, 16, 32, 64]
    assert embedding_sizes.sizes(CI) == sorted(CI.hidden_sizes)


@pytest.mark.parametrize("section, table, column", [
    (latencies, "latencies", "mean_image_mse"), (noise, "noise", "noisy_input_mse"),
    (embedding_sizes, "embedding_sizes", "pca_mse"), (latencies, "latencies_curves", "epoch"),
    (model, "model_gradient_check", "abs_error")])
def test_a_table_missing_a_column_is_refused(section, table, column):
    schema = section.TABLES[table]
    row = {name: (1 if kind in ("int", "float") else True if kind == "bool" else "x")
           for name, kind in schema.columns.items()}
    assert list(schema.frame([row]).columns) == list(schema.columns)
    del row[column]
    with pytest.raises(ValueError, match=column):
        schema.frame([row])


def test_timing_rows_count_silent_outputs_and_the_target_band():
    relative = np.array([[0.5, np.inf, 1.5, 0.2],
                         [-0.5, 0.9, np.inf, np.inf]])
    non_black = np.array([[True, True, False, False],
                          [True, True, False, False]])
    item = latencies.run(CI, "mnist", 16, 0)
    rows = {row["pixel"]: row for row in latencies.timing_rows(CI, item, relative, non_black)}
    bright, dark = rows["non-black"], rows["black"]
    assert bright["n_outputs"] == 4 and bright["silent_share"] == pytest.approx(0.25)
    assert bright["outside_target_share"] == pytest.approx(1 / 3)  # only -0.5 is outside
    assert bright["median_time_minus_latency"] == pytest.approx(0.5)
    assert dark["silent_share"] == pytest.approx(0.5)
    assert dark["outside_target_share"] == pytest.approx(0.5)  # 1.5 is late, 0.2 in band
    assert latencies.TABLES["latencies_timing"].frame(list(rows.values())).shape[0] == 2


def test_histogram_puts_outliers_in_the_edge_bins():
    relative = np.array([[-7.0, 0.01, 0.99, 30.0, np.inf]])
    non_black = np.ones_like(relative, dtype=bool)
    item = latencies.run(CI, "mnist", 1, 0)
    frame = pd.DataFrame(latencies.histogram_rows(CI, item, relative, non_black))
    bright = frame[frame["pixel"] == "non-black"].reset_index(drop=True)
    assert bright["count"].sum() == 4  # the silent output is not counted
    assert bright["count"].iloc[0] == 1 and bright["count"].iloc[-1] == 1
    in_band = bright[(bright["bin_low"] >= 0) & (bright["bin_high"] <= 1)]
    assert in_band["count"].sum() == 2
    assert frame[frame["pixel"] == "black"]["count"].sum() == 0


def test_noisy_input_error_is_that_of_the_input_values():
    clean = np.full((3, 784), 0.25, np.float32)
    assert noise.noisy_input_error(types.SimpleNamespace(test_inputs=clean,
                                                         test_clean=clean)) == 0.0
    delayed = np.full((3, 784), 0.75, np.float32)
    silent = np.full((3, 784), np.inf, np.float32)  # a silent input counts as 1.0
    data = types.SimpleNamespace(test_inputs=delayed, test_clean=clean)
    assert noise.noisy_input_error(data) == pytest.approx(0.25)
    data = types.SimpleNamespace(test_inputs=silent, test_clean=clean)
    assert noise.noisy_input_error(data) == pytest.approx(0.5625)


def test_shared_pca_basis_matches_the_baseline_at_every_size():
    rng = np.random.default_rng(0)
    train = rng.uniform(0.0, 1.0, (60, 784)).astype(np.float32)
    test = rng.uniform(0.0, 1.0, (10, 784)).astype(np.float32)
    axes = analysis.principal_axes(train)
    for n in (1, 8, 32):
        np.testing.assert_allclose(analysis.pca_errors(axes, test, test, n),
                                   pca_error(train, test, test, n), rtol=1e-6)
    # with every component the training images themselves are reproduced
    assert analysis.pca_errors(axes, train, train, 60).max() < 1e-10


@pytest.mark.parametrize("noise", [0.0, 0.4])
def test_reference_errors_are_the_baselines_on_the_runs_data(noise):
    """The sections' shared, cached reference points equal the baselines computed
    afresh on the run's own data (the PCA fitted on its clean training images)."""
    from spikelib.config import paper_config
    from spikelib.experiment import prepare_data
    config = paper_config(noise, 1, 8, train_examples=300, validation_examples=50,
                          test_examples=100, seed=1)
    data = prepare_data(config)
    expected = dict(
        mean_image_mse=float(mean_image_error(data.train_clean, data.test_clean).mean()),
        pca_mse=float(pca_error(data.train_clean, data.test_inputs, data.test_clean, 8).mean()))
    assert analysis.reference_errors(config) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("noise", [0.0, 0.4])
def test_a_tables_data_are_the_arrays_the_run_trained_and_was_tested_on(noise):
    """The test split and clean training images that the tables read, made without
    the noise of the other splits, equal those of the run's own data."""
    from spikelib.config import paper_config
    from spikelib.experiment import prepare_data
    config = paper_config(noise, 1, 8, train_examples=300, validation_examples=50,
                          test_examples=100, seed=2)
    data, read = prepare_data(config), analysis.table_data(config.data, config.seed)
    for name in ("test_inputs", "test_clean", "train_clean"):
        np.testing.assert_array_equal(getattr(read, name), getattr(data, name))
    if noise:
        assert not np.array_equal(read.test_inputs, read.test_clean)


def test_seed_spread_takes_the_stopping_time_out():
    # seed 0 stopped after 2 epochs, seed 1 after 4; seed 2 is unhealthy and left out
    table = pd.DataFrame({"dataset": "mnist", "seed": [0, 1, 2], "test_mse": [0.5, 0.2, 0.9],
                          "epochs_run": [2, 4, 1], "health": ["ok", "ok", "dead"]})
    curves = pd.DataFrame({"dataset": "mnist", "seed": [0, 0, 1, 1, 1, 1, 2],
                           "epoch": [1, 2, 1, 2, 3, 4, 1],
                           "test_mse": [0.8, 0.5, 0.7, 0.45, 0.3, 0.2, 0.9]})
    [row] = datasets.seed_spread(CI, table, curves)
    assert (row["n_seeds"], row["common_epoch"], row["max_epochs_run"]) == (2, 2, 4)
    assert row["spread"] == pytest.approx(0.3)
    assert row["common_spread"] == pytest.approx(0.05)
    assert datasets.TABLES["datasets_seed_spread"].frame([row]).shape[0] == 1


def test_classification_tables_say_whether_their_autoencoders_converged():
    # the claims' caveats read `still_learning` and a run's identity from the main table
    columns = classification.TABLES["classification"].columns
    assert {"dataset", "noise", "latency", "n_hidden", "seed", "health",
            "still_learning"} <= set(columns)
    runs = classification.TABLES["classification_runs"].columns
    assert {"model", "epochs_run", "still_learning", "health"} <= set(runs)


def test_gradient_check_of_the_example_layer():
    rows = pd.DataFrame(model.gradient_check())
    assert set(rows["neuron"]) == {"A", "B"}  # C is silent: no derivative
    assert len(rows) == 2 * len(model.INPUT_TIMES[0])
    assert rows["abs_error"].max() < 1e-6
    assert (rows["autodiff"] <= 0).all()  # more weight never delays a spike
    after_a = rows[(rows["neuron"] == "A") & (rows["input_time"] > rows["spike_time"])]
    assert len(after_a) == 2 and (after_a["autodiff"] == 0).all()


def test_gradient_check_is_the_derivative_of_the_closed_form():
    """Spike times and autodiff as the closed form by hand (scipy's W0): over the
    inputs before the spike, A = sum w e^{Kt}, B = sum w t e^{Kt}, t* = B/A - W/K
    and dt*/dw_i = e^{K t_i} (t_i - t*) / (A (1 + W)); 0 for the later inputs."""
    import scipy.special
    k, theta = model.DECAY_RATE, model.THRESHOLD
    times = model.INPUT_TIMES[0]
    rows = pd.DataFrame(model.gradient_check())
    for name, neuron in rows.groupby("neuron"):
        weights = model.WEIGHTS[:, "ABC".index(name)]
        spike = neuron["spike_time"].iloc[0]
        before = times < spike
        a = np.sum((weights * np.exp(k * times))[before])
        b = np.sum((weights * times * np.exp(k * times))[before])
        w0 = scipy.special.lambertw(-(k * theta / a) * np.exp(k * b / a)).real
        assert spike == pytest.approx(b / a - w0 / k, rel=1e-12)
        expected = np.where(before, np.exp(k * times) * (times - spike) / (a * (1 + w0)), 0.0)
        np.testing.assert_allclose(neuron["autodiff"], expected, rtol=1e-10, atol=1e-14)


def test_finite_differences_are_nan_for_a_silent_neuron():
    numeric = model.finite_differences(model.INPUT_TIMES, model.WEIGHTS)
    assert np.isnan(numeric[:, 2]).all() and np.isfinite(numeric[:, :2]).all()


def test_unhealthy_runs_are_left_out_of_the_mean_line():
    frame = pd.DataFrame({"latency": [1, 1, 16, 16], "test_mse": [0.1, 0.3, 0.2, 0.9],
                          "health": ["ok", "ok", "ok", "dead"]})
    fig, ax = plt.subplots()
    assert figures.runs_and_mean(ax, frame, "latency")
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), [0.2, 0.2])
    plt.close(fig)
    fig, ax = plt.subplots()
    assert not figures.runs_and_mean(ax, frame[frame["health"] == "ok"], "latency")
    plt.close(fig)


def test_every_chapter_words_its_budget_note_the_same_way():
    from spikelib.profiles import get_profile
    from spikelib.sections.chapter import budget_note
    assert budget_note(get_profile("book"), "C3") == ""
    quick = budget_note(get_profile("quick"), "C3")
    assert quick.startswith("*The 'quick' budget is a first look") and "claim C3" in quick


def test_written_tables_are_read_back_as_computed_until_their_runs_or_code_change(
        tmp_path, monkeypatch):
    from spikelib import sections
    monkeypatch.setenv("SPIKELIB_RESULTS", str(tmp_path))
    computed = sections.compute("model", CI).tables["model_gradient_check"]
    stamp = tmp_path / "ci" / "tables" / "model.stamp.json"
    assert stamp.exists()
    loaded = sections.load("model", CI).tables["model_gradient_check"]
    pd.testing.assert_frame_equal(loaded, computed, check_exact=True)
    said = []
    assert sections.compute_all(CI, only=("model",), progress=said.append)[0][2] == "up to date"
    monkeypatch.setattr(sections, "library_digest", lambda: "changed")
    assert sections.compute_all(CI, only=("model",), progress=said.append)[0][2] == "computed"
    assert "tables of model: computed" in said[-1]
    # Another backend evaluates the models to other last bits: computed again.
    assert sections.compute_all(CI, only=("model",), progress=said.append)[0][2] == "up to date"
    other = "tensorflow" if sections.keras_backend() == "jax" else "jax"
    monkeypatch.setattr(sections, "keras_backend", lambda: other)
    assert sections.compute_all(CI, only=("model",), progress=said.append)[0][2] == "computed"
