"""The analysis sections (classification, inhibition, comparison) and their helpers."""

import numpy as np
import pandas as pd
import pytest

from spikelib import analysis
from spikelib.profiles import get_profile
from spikelib.sections import classification, comparison, inhibition
from spikelib.simulate import simulate_spike_times

CI = get_profile("ci")
DECAY, THRESHOLD = 1.0, 0.5


def test_weight_statistics_known_values():
    weights = np.array([[-3.0, 1.0], [2.0, -2.0]])  # |w| sums to 8, 5 of it negative
    stats = analysis.weight_statistics(weights, np.array([0.5, -0.1, 0.2, 0.0]))
    assert stats["negative_share"] == pytest.approx(0.5)
    assert stats["negative_mass"] == pytest.approx(5 / 8)
    assert stats["pulse_positive_share"] == pytest.approx(0.5)


def test_negative_before_spike_share_on_an_inhibited_and_an_excited_neuron():
    # Input 0 at t=0 inhibits neuron 0 only; input 1 at t=1 excites both.
    times = np.array([[0.0, 1.0]])
    weights = np.array([[-1.0, 0.0], [4.0, 4.0]])
    spikes = simulate_spike_times(times, weights, DECAY, THRESHOLD, t_max=10.0, dt=0.001)
    assert np.all(np.isfinite(spikes))
    share = analysis.negative_before_spike_share(times, weights, DECAY, spikes)
    assert share == pytest.approx(0.5)


def test_negative_before_spike_share_ignores_silent_neurons():
    times = np.array([[0.0, 1.0]])
    weights = np.array([[-1.0, -1.0], [4.0, 0.0]])  # neuron 1 dips but never fires
    spikes = simulate_spike_times(times, weights, DECAY, THRESHOLD, t_max=10.0, dt=0.001)
    assert np.isinf(spikes[0, 1])
    assert analysis.negative_before_spike_share(times, weights, DECAY, spikes) == 1.0
    silent = np.full((1, 2), np.inf)
    assert np.isnan(analysis.negative_before_spike_share(times, weights, DECAY, silent))


def test_silent_as_late_uses_the_training_value_on_the_test_split():
    train, value = analysis.silent_as_late(np.array([[0.5, np.inf], [1.5, 0.2]]))
    assert value == pytest.approx(2.5)
    assert train[0, 1] == pytest.approx(2.5)
    test, same = analysis.silent_as_late(np.array([[np.inf, 9.0]]), value)
    assert same == value and test[0, 0] == pytest.approx(2.5) and test[0, 1] == 9.0


def test_confusion_shares_rows_are_shares_of_each_true_class():
    shares = analysis.confusion_shares([0, 0, 0, 1], [0, 0, 1, 1], n_classes=3)
    np.testing.assert_allclose(shares, [[2 / 3, 1 / 3, 0], [0, 1, 0], [0, 0, 0]])


def test_linear_accuracy_separates_separable_classes():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 30)
    features = rng.normal(size=(90, 4)) * 0.1 + np.eye(3, 4)[labels] * 5
    accuracy, predictions = analysis.linear_accuracy(features, labels, features, labels)
    assert accuracy == 1.0 and np.array_equal(predictions, labels)


@pytest.mark.parametrize("module,name", [(classification, "classification"),
                                         (inhibition, "inhibition"),
                                         (comparison, "comparison")])
def test_section_table_rejects_a_missing_column(module, name):
    table = module.TABLES[name]
    row = {column: 0 for column in table.columns}
    table.frame([row])
    del row["test_mse" if "test_mse" in row else "accuracy"]
    with pytest.raises(ValueError, match="missing columns"):
        table.frame([row])


def test_every_spiking_section_has_a_curves_table():
    for module, name in ((classification, "classification"), (inhibition, "inhibition"),
                         (comparison, "comparison")):
        assert f"{name}_curves" in module.TABLES


def test_inhibition_ablates_mnist_only_at_the_profiles_ablation_latencies():
    runs = inhibition.runs(CI)
    ablations = [run for run in runs if run.config.network.nonnegative_weights]
    assert {run.config.data.dataset for run in ablations} == {"mnist"}
    assert {run.config.latency for run in ablations} == set(CI.ablated_latencies())
    assert set(CI.ablated_latencies()) < set(CI.latencies)
    assert len(ablations) == len(CI.ablated_latencies()) * len(CI.seeds)
    for ablation in ablations:
        plain = inhibition.run(CI, "mnist", ablation.config.latency, ablation.config.seed)
        assert ablation.config == plain.config.replace(nonnegative_weights=True)
        assert ablation.key != plain.key


def test_classification_reuses_the_comparison_runs_of_its_size():
    keys = {run.key for run in comparison.runs(CI)}
    assert 32 in CI.hidden_sizes
    assert {run.key for run in classification.runs(CI)} <= keys


class FakeResults:
    """Results dicts by run key, as `sections.Results` gives them."""

    def __init__(self, by_key):
        self.by_key = by_key

    def __call__(self, run):
        return self.by_key[run.key]


def _sae_results(test_mse, health="ok"):
    record = dict(epoch=1, train_mse=0.1, validation_mse=0.09, test_mse=test_mse)
    return dict(test_mse=test_mse, best_epoch=1, epochs_run=1, stop_reason="max_epochs",
                health=health, silent_hidden_share=0.0, silent_output_share=0.1,
                history=[record])


def test_comparison_tables_pair_each_sae_with_its_ann(monkeypatch):
    monkeypatch.setattr(comparison, "reference_errors",
                        lambda config: dict(mean_image_mse=0.1, pca_mse=0.05))
    by_key = {}
    for run in comparison.runs(CI):
        if run.kind == "sae":
            by_key[run.key] = _sae_results(0.02 * run.config.seed + 0.03, health="dead")
        else:
            by_key[run.key] = dict(test_mse=0.04, history=dict(loss=[0.08], val_loss=[0.05]))
    frames = comparison.tables(CI, FakeResults(by_key))
    table = frames["comparison"]
    assert len(table) == len(comparison.runs(CI))
    ann = table[table["model"] == "ann"]
    assert set(ann["health"]) == {"ok"} and ann["silent_output_share"].isna().all()
    assert set(table.loc[table["model"] == "sae", "health"]) == {"dead"}
    pairs = table.pivot_table(index=["dataset", "n_hidden", "seed"], columns="model",
                              values="test_mse")
    np.testing.assert_allclose(pairs["ann"], 0.04)
    curves = frames["comparison_curves"]
    assert curves.loc[curves["model"] == "ann", "test_mse"].isna().all()
    assert (curves.loc[curves["model"] == "ann", "validation_mse"] == 0.05).all()


def test_ann_rows_report_the_best_validation_epoch_and_early_stop():
    run = comparison.run(CI, "mnist", 8, 0, "ann")
    config = run.config.replace(epochs=5)
    run = type(run)("ann", config)
    row = comparison.ann_run_row(CI, run, dict(test_mse=0.1, history=dict(
        loss=[0.3, 0.2, 0.1], val_loss=[0.3, 0.1, 0.2])))
    assert row["best_epoch"] == 2 and row["epochs_run"] == 3
    assert row["stop_reason"] == "patience"
    rows = comparison.ann_curve_rows(CI, run, dict(history=dict(loss=[0.3, 0.2],
                                                                val_loss=[0.25, 0.15])))
    assert [r["epoch"] for r in rows] == [1, 2]
    assert pd.isna(rows[0]["test_mse"]) and rows[1]["validation_mse"] == 0.15


def test_layer_rows_of_an_ablated_model_have_no_inhibitory_weight():
    from types import SimpleNamespace

    from spikelib.autoencoder import SpikingAutoencoder
    from spikelib.encoding import encode_images
    config = inhibition.run(CI, "mnist", 1, 0, nonnegative_weights=True).config
    model = SpikingAutoencoder.from_run_config(config)
    rng = np.random.default_rng(0)
    images = (rng.random((3, 784)) > 0.7) * rng.integers(1, 256, (3, 784))
    rows = inhibition.layer_rows(model, SimpleNamespace(
        test_inputs=encode_images(images.astype(np.uint8))))
    assert set(rows) == set(inhibition.LAYERS)
    for row in rows.values():
        assert row["negative_share"] == 0.0 and row["negative_mass"] == 0.0
        share = row["negative_before_spike_share"]
        assert np.isnan(share) or 0.0 <= share <= 1.0
