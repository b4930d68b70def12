"""The inhibition section's tables: the ablation's columns, its means and the plateau."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from spikelib import claims, sections
from spikelib.encoding import encode_images
from spikelib.profiles import get_profile
from spikelib.sections import inhibition

CI = get_profile("ci")
MEAN_IMAGE, PCA = 0.07, 0.03


def _history(validation, on_plateau=False):
    return [dict(epoch=epoch, train_mse=error, validation_mse=error, test_mse=error,
                 on_plateau=on_plateau) for epoch, error in enumerate(validation, start=1)]


def _results(validation, health="ok", on_plateau=False):
    return dict(test_mse=min(validation), best_epoch=int(np.argmin(validation)) + 1,
                epochs_run=len(validation), stop_reason="max_epochs", health=health,
                silent_hidden_share=0.0, silent_output_share=0.0, mean_image_mse=0.064,
                history=_history(validation, on_plateau))


class FakeResults:
    """Results dicts, untrained models and tiny data by run, as `sections.Results` gives them."""

    def __init__(self, by_key, data):
        self.by_key, self.models, self.prepared = by_key, {}, data

    def __call__(self, run):
        return self.by_key[run.key]

    def model(self, run):
        from spikelib.autoencoder import SpikingAutoencoder
        if run.key not in self.models:
            self.models[run.key] = SpikingAutoencoder.from_run_config(run.config)
        return self.models[run.key]

    def data(self, config):
        return self.prepared


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    images = ((rng.random((6, 784)) > 0.6) * rng.integers(1, 256, (6, 784))).astype(np.uint8)
    encoded = encode_images(images)
    data = SimpleNamespace(test_inputs=encoded[:3], train_clean=encoded[:3],
                           validation_clean=encoded[3:])
    by_key = {}
    for run in inhibition.runs(CI):
        latency = run.config.latency
        if not run.config.network.nonnegative_weights:
            by_key[run.key] = _results([0.004, 0.003, 0.003, 0.003, 0.003])  # flat: converged
        elif latency == 1:  # still improving by far more than 1 % at the cap
            by_key[run.key] = _results([0.09, 0.05, 0.03, 0.02])
        else:  # flat at the mean image's error, far above any plateau threshold
            by_key[run.key] = _results([10.0] * 5, health="off_target")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(inhibition, "reference_errors",
                        lambda config: dict(mean_image_mse=MEAN_IMAGE, pca_mse=PCA))
    results = FakeResults(by_key, data)
    try:
        yield inhibition.tables(CI, results), results
    finally:
        monkeypatch.undo()


def test_the_ablation_columns_say_where_it_ran_how_long_and_whether_it_still_learned(frames):
    (found, _), table = frames, frames[0]["inhibition"]
    assert len(table) == len(CI.latencies) * len(CI.seeds) * len(inhibition.LAYERS)
    for row in table.itertuples():
        if row.latency not in CI.ablated_latencies():
            assert row.health_nonnegative == inhibition.NOT_RUN
            assert np.isnan(row.test_mse_nonnegative)
            assert row.epochs_run_nonnegative == 0 and row.still_learning_nonnegative is False
        elif row.latency == 1:
            assert (row.epochs_run_nonnegative, row.still_learning_nonnegative) == (4, True)
            assert row.test_mse_nonnegative == pytest.approx(0.02)
        else:
            assert (row.epochs_run_nonnegative, row.still_learning_nonnegative) == (5, False)
            assert row.health_nonnegative == "off_target"
    assert table["mean_image_mse"].eq(MEAN_IMAGE).all()
    assert table["test_mse"].eq(0.003).all() and not table["still_learning"].any()


def test_the_layer_shares_are_those_of_the_models_weights(frames):
    (found, results) = frames
    table = found["inhibition"].set_index(["latency", "seed", "layer"])
    for latency in CI.latencies:
        for seed in CI.seeds:
            model = results.model(inhibition.run(CI, "mnist", latency, seed))
            for layer, weights in (("hidden", model.hidden), ("output", model.reconstruction)):
                kernel, pulses = weights.kernel.numpy(), weights.pulse_kernel.numpy()
                row = table.loc[(latency, seed, layer)]
                assert row["negative_share"] == pytest.approx(
                    np.count_nonzero(kernel < 0) / kernel.size)
                assert row["negative_mass"] == pytest.approx(
                    -kernel[kernel < 0].sum() / np.abs(kernel).sum())
                assert row["pulse_positive_share"] == pytest.approx(
                    np.count_nonzero(pulses > 0) / pulses.size)


def test_the_curves_mark_the_epochs_on_the_mean_image_plateau(frames):
    curves = frames[0]["inhibition_curves"]
    ablation = curves[curves["nonnegative_weights"]]
    assert set(ablation["latency"]) == set(CI.ablated_latencies())
    assert ablation.loc[ablation["latency"] == 16, "on_plateau"].all()
    assert not ablation.loc[ablation["latency"] == 1, "on_plateau"].any()
    exits = inhibition.plateau_exits(curves)
    never = exits[exits["nonnegative_weights"] & (exits["latency"] == 16)]
    assert never["left_at"].isna().all() and never["epochs"].eq(5).all()
    assert exits.loc[~exits["nonnegative_weights"], "left_at"].eq(1).all()


def test_plateau_exits_finds_the_first_epoch_below_the_plateau():
    curves = pd.DataFrame(dict(dataset="mnist", latency=16.0, seed=0, nonnegative_weights=False,
                               epoch=[3, 1, 2, 4], on_plateau=[False, True, True, True]))
    exits = inhibition.plateau_exits(curves)
    assert exits["left_at"].tolist() == [3.0] and exits["epochs"].tolist() == [4]


def _fake_table():
    rng = np.random.default_rng(1)
    rows = []
    for latency in CI.latencies:
        for seed in CI.seeds:
            ablated = latency in CI.ablated_latencies()
            common = dict(dataset="mnist", noise=0.0, latency=latency, n_hidden=32, seed=seed,
                          test_mse=rng.uniform(0.01, 0.05), best_epoch=1, epochs_run=1,
                          stop_reason="max_epochs", still_learning=False,
                          health="dead" if seed else "ok", silent_hidden_share=0.0,
                          silent_output_share=0.0, **CI.budget(), mean_image_mse=MEAN_IMAGE,
                          test_mse_nonnegative=rng.uniform(0.02, 0.07) if ablated else np.nan,
                          health_nonnegative="ok" if ablated else inhibition.NOT_RUN,
                          epochs_run_nonnegative=3 if ablated else 0,
                          still_learning_nonnegative=ablated and seed == 0)
            for layer in inhibition.LAYERS:
                rows.append(dict(common, layer=layer, **{m: rng.uniform() for m in
                                                         inhibition.MEASURES}))
    return inhibition.TABLES["inhibition"].frame(rows)


def test_the_ablation_ratio_is_the_claims_pages_ratio(monkeypatch):
    table = _fake_table()
    monkeypatch.setattr(sections, "read", lambda name, profile, tables=None: {"inhibition": table})
    _, figures, _ = claims.check_c7(CI)
    means = inhibition.ablation_means(table)
    assert means["latency"].tolist() == sorted(CI.ablated_latencies())
    output = table[table["layer"] == "output"]
    for row in means.itertuples():
        at = output[output["latency"] == row.latency]
        by_hand = at["test_mse_nonnegative"].sum() / at["test_mse"].sum()
        assert row.ratio == pytest.approx(by_hand)
        assert row.ratio == pytest.approx(figures[f"mnist ablation/full, latency {row.latency:g}"])
        assert row.seeds == len(CI.seeds) and row.still_learning == 1


def test_ablation_runs_has_one_row_per_ablation_run_with_its_own_columns():
    table = _fake_table()
    found = inhibition.ablation_runs(table)
    assert len(found) == len(CI.ablated_latencies()) * len(CI.seeds)
    source = table[(table["layer"] == "output") & table["latency"].isin(CI.ablated_latencies())]
    np.testing.assert_allclose(found["test_mse"], source["test_mse_nonnegative"])
    np.testing.assert_allclose(found["full_test_mse"], source["test_mse"])
    assert found["health"].eq("ok").all()
    assert found["still_learning"].tolist() == source["still_learning_nonnegative"].tolist()


def test_layer_means_average_every_seed():
    table = _fake_table()
    means = inhibition.layer_means(table).set_index(["dataset", "layer", "latency"])
    part = table[(table["layer"] == "hidden") & (table["latency"] == 4)]
    assert means.loc[("mnist", "hidden", 4), "negative_share"] == pytest.approx(
        part["negative_share"].sum() / len(part))


@pytest.mark.parametrize("values,word", [([0.5, 0.38, 0.24], "falls"), ([0.1, 0.2], "rises"),
                                         ([0.5, 0.28, 0.6], "changes non-monotonically"),
                                         ([0.3, 0.3], "stays level"),
                                         ([0.2, np.nan, 0.4], "rises")])
def test_trend_words(values, word):
    assert inhibition.trend(values) == word
