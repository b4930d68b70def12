"""The configuration system and the shipped tuned grid."""

import json

import pytest

from spikelib.config import RunConfig, grid_row, paper_config, paper_grid
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
    assert config.batch_size == 7 and config.n_hidden == 32 and config.latency == 1.0


@pytest.mark.parametrize("noise, latency, hidden", [(0.1, 1, 32), (0.0, 3, 32), (0.0, 1, 64)])
def test_unknown_grid_row_is_a_clear_error(noise, latency, hidden):
    with pytest.raises(ValueError, match="no tuned grid row"):
        grid_row(noise, latency, hidden)


def test_json_round_trip_and_digest():
    config = paper_config(0.4, 8, 16, epochs=3, dataset="fmnist")
    assert config.dataset == "fashion_mnist"
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
        for field in ("learning_rate", "decay_rate", "threshold", "batch_size", "n_pulses",
                      "clip_derivative", "penalty_no_spike"):
            assert getattr(config, field) == getattr(row, field)
        assert config.epochs == profile.epochs
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("huge")
