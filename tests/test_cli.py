"""The command line: a tiny training run writes complete results."""

import json
import math

from spikelib.cli import main


def test_train_writes_results_and_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    status = main(["train", "--dataset", "fmnist", "--noise", "0.2", "--latency", "2",
                   "--hidden", "8", "--epochs", "1", "--train-examples", "200",
                   "--validation-examples", "100", "--test-examples", "100",
                   "--batch-size", "20", "--seed", "3", "--out", str(out), "--quiet"])
    assert status == 0
    results = json.loads((out / "results.json").read_text())
    assert (out / "model.weights.h5").stat().st_size > 0
    config = results["config"]
    assert config["dataset"] == "fashion_mnist" and config["batch_size"] == 20
    assert config["noise"] == 0.2 and config["latency"] == 2.0 and config["n_hidden"] == 8
    assert results["seed"] == 3 and len(results["history"]) == 1
    assert set(results["history"][0]) >= {"train_mse", "validation_mse", "test_mse"}
    assert {"tensorflow", "keras", "numpy"} <= set(results["versions"])
    assert math.isfinite(results["test_mse"]) and results["test_mse"] > 0.0
    assert json.loads(capsys.readouterr().out)["test_mse"] == results["test_mse"]


def test_unknown_grid_row_exits_with_a_clear_message(capsys):
    assert main(["train", "--noise", "0.3", "--latency", "1", "--hidden", "32"]) == 2
    assert "no tuned grid row" in capsys.readouterr().err
