"""The configuration system and the shipped tuned grid."""

import json
import math

import pytest

from spikelib.config import NeuronParameters, RunConfig, grid_row, paper_config, paper_grid
from spikelib.profiles import PROFILES, get_profile


def test_grid_has_one_row_per_noise_latency_size():
    rows = paper_grid()
    keys = {(r["noise"], r["latency"], r["n_hidden"]) for r in rows}
    assert len(rows) == 75 and len(keys) == 75
    assert {k[0] for k in keys} == {0.0, 0.2, 0.4, 0.6, 0.8}
    assert {k[1] for k in keys} == {1, 2, 4, 8, 16}
    assert {k[2] for k in keys} == {8, 16, 32}


def test_readme_row_is_batch_seven():
    config = paper_config(0.0, 1, 32)
    assert config.optimizer.batch_size == 7 and config.network.n_hidden == 32
    assert config.latency == 1.0


@pytest.mark.parametrize("noise, latency, hidden", [(0.1, 1, 32), (0.0, 3, 32), (0.0, 1, 64)])
def test_unknown_grid_row_is_a_clear_error(noise, latency, hidden):
    with pytest.raises(ValueError, match="no tuned grid row"):
        grid_row(noise, latency, hidden)


def test_json_round_trip_and_digest():
    config = paper_config(0.4, 8, 16, epochs=3, dataset="fmnist")
    assert config.data.dataset == "fashion_mnist"
    again = RunConfig.from_dict(json.loads(config.to_json()))
    assert again == config and again.digest() == config.digest()
    assert config.replace(seed=1).digest() != config.digest()


@pytest.mark.parametrize("change, message", [
    (dict(noise=1.5), "noise"), (dict(latency=0.0), "latency"),
    (dict(batch_size=0), "batch_size"), (dict(decay_rate=-1.0), "decay_rate"),
    (dict(dataset="cifar"), "mnist"), (dict(colour="red"), "unknown config fields"),
])
def test_invalid_fields_are_rejected(change, message):
    with pytest.raises(ValueError, match=message):
        paper_config(0.0, 1, 32).replace(**change)


def test_profiles_change_budget_not_method():
    row = paper_config(0.0, 16, 8)
    for profile in PROFILES.values():
        config = profile.config("mnist", noise=0.0, latency=16, n_hidden=8)
        assert (config.neuron, config.network, config.optimizer) == (
            row.neuron, row.network, row.optimizer)
        assert config.budget.epochs == profile.epochs
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("huge")


def test_groups_say_what_a_run_is():
    config = paper_config(0.0, 16, 8)
    assert set(config.to_dict()) == {"latency", "seed", "neuron", "network", "optimizer", "data",
                                     "budget"}
    assert config.neuron.decay_rate > 0 and config.network.n_pulses >= 1
    flat = config.flat()
    assert RunConfig.from_flat(**flat) == config
    assert config.replace(batch_size=3).optimizer.batch_size == 3


@pytest.mark.parametrize("change, message", [
    (dict(patience=0), "patience"), (dict(min_delta=1.0), "min_delta"),
    (dict(n_pulses=0), "n_pulses"), (dict(learning_rate_pulses=-1.0), "learning_rate_pulses"),
    (dict(train_examples=-1), "train_examples"), (dict(train_examples=0), "train_examples"),
    (dict(nonnegative_weights="ture"), "nonnegative_weights"),
    (dict(threshold=0.0), "threshold"), (dict(decay_rate=math.nan), "decay_rate"),
    (dict(clip_derivative=0.0), "clip_derivative"), (dict(clip_derivative=math.nan), "clip_derivative"),
    (dict(penalty_no_spike=math.inf), "penalty_no_spike"),
])
def test_budget_and_group_fields_are_validated(change, message):
    with pytest.raises(ValueError, match=message):
        paper_config(0.0, 1, 32).replace(**change)


def test_neuron_defaults_are_the_exact_gradient():
    neuron = NeuronParameters(1.0, 0.5)
    assert neuron.clip_derivative == math.inf and neuron.penalty_no_spike == 0.0
