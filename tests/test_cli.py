"""The command line: a tiny training run writes complete results; bad input is refused early."""

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spikelib.cli import main

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--hidden", "8", "--epochs", "1", "--train-examples", "200",
        "--validation-examples", "100", "--test-examples", "100", "--batch-size", "20"]


def test_train_writes_results_and_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    status = main(["train", "--dataset", "fmnist", "--noise", "0.2", "--latency", "2", *TINY,
                   "--seed", "3", "--out", str(out), "--quiet"])
    assert status == 0
    results = json.loads((out / "results.json").read_text())
    assert (out / "model.weights.h5").stat().st_size > 0
    config = results["config"]
    assert config["data"]["dataset"] == "fashion_mnist"
    assert config["optimizer"]["batch_size"] == 20
    assert config["data"]["noise"] == 0.2 and config["latency"] == 2.0
    assert config["network"]["n_hidden"] == 8
    assert results["seed"] == 3 and len(results["history"]) == 1
    assert set(results["history"][0]) >= {"train_mse", "validation_mse", "test_mse"}
    assert {"tensorflow-cpu", "keras", "numpy"} <= set(results["versions"])
    assert math.isfinite(results["test_mse"]) and results["test_mse"] > 0.0
    assert results["health"] in ("ok", "dead", "input_blind", "off_target")
    assert json.loads(capsys.readouterr().out)["test_mse"] == results["test_mse"]
    # A second run into the same folder is refused before it trains.
    assert main(["train", "--noise", "0.2", "--latency", "2", *TINY, "--out", str(out)]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_unknown_grid_row_exits_with_a_clear_message(capsys):
    assert main(["train", "--noise", "0.3", "--latency", "1", "--hidden", "32"]) == 2
    assert "no tuned grid row" in capsys.readouterr().err


@pytest.mark.parametrize("arguments, message", [
    (["--train-examples", "-1"], "train_examples"),
    (["--train-examples", "0"], "train_examples"),
    (["--test-examples", "0"], "test_examples"),
    (["--validation-examples", "0"], "validation_examples"),
    (["--learning-rate-pulses", "-1"], "learning_rate_pulses"),
    (["--n-pulses", "0"], "n_pulses"),
    (["--nonnegative-weights", "ture"], "true or false"),
    (["--epochs", "x"], "integer"),
    (["--latency", "nan"], "finite"),
    (["--patience", "0"], "patience"),
    (["--bogus-flag"], "unrecognized arguments: --bogus-flag"),
])
def test_invalid_values_are_one_line_errors_before_tensorflow_loads(arguments, message):
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "spikelib", "train", *arguments],
                            capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0] and "Traceback" not in result.stderr
    assert time.perf_counter() - started < 5.0, "TensorFlow was imported before validation"


def test_an_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("")
    assert main(["train", *TINY, "--out", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err


def test_an_out_that_cannot_be_created_is_refused_before_training(tmp_path, capsys):
    started = time.perf_counter()
    assert main(["train", *TINY, "--out", "/proc/spikelib-run"]) == 2
    assert "cannot create a folder there" in capsys.readouterr().err
    assert time.perf_counter() - started < 5.0, "it trained before refusing"


def test_an_out_holding_other_files_is_refused_and_left_alone(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    for extra in ([], ["--overwrite"]):
        assert main(["train", *TINY, "--out", str(tmp_path), *extra]) == 2
        assert "holds files that are not a run" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_corrupt_data_cache_is_one_line_with_its_fix(tmp_path, capsys, monkeypatch):
    from spikelib import experiment
    monkeypatch.setenv("SPIKELIB_DATA", str(tmp_path))
    (tmp_path / "mnist.npz").write_bytes(b"not a zip file")
    experiment.prepare.cache_clear()
    monkeypatch.setattr("spikelib.data._from_sources", lambda name: (_ for _ in ()).throw(
        AssertionError("must not fall back silently")), raising=False)
    status = main(["train", *TINY, "--out", str(tmp_path / "run"), "--quiet"])
    error = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and error[-1].startswith("spikelib: error:") and "corrupt" in error[-1]


def test_a_dry_run_prints_the_plan_without_tensorflow_start_up_lines(tmp_path):
    result = subprocess.run([sys.executable, "-m", "spikelib", "run", "--profile", "ci",
                             "--dry-run"], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "SPIKELIB_RESULTS": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("profile ci:") and lines[1].startswith("plan: ")
    assert not any(word in result.stderr for word in ("absl", "oneDNN", "I0000", "WARNING"))


def test_reproduce_refuses_a_profile_that_covers_some_sections_only(capsys):
    from spikelib import reproduce
    with pytest.raises(SystemExit) as stopped:
        reproduce.main(["--profile", "verify"])
    assert stopped.value.code == 2
    assert "does not build the book" in capsys.readouterr().err


def test_run_only_plans_the_runs_of_the_sections_named(tmp_path, monkeypatch, capsys):
    from spikelib.profiles import get_profile
    from spikelib.sections import plan, section
    monkeypatch.setenv("SPIKELIB_RESULTS", str(tmp_path))
    profile = get_profile("ci")
    expected = {run.key for name in ("latencies", "noise") for run in section(name).runs(profile)}
    assert {run.key for run in plan(profile, only=["latencies", "noise"])} == expected
    assert len(expected) < len(plan(profile))
    assert main(["run", "--profile", "ci", "--only", "latencies", "noise", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "sections: latencies, noise" in err and f"plan: {len(expected)} runs" in err
    assert main(["run", "--profile", "ci", "--only", "latency", "--dry-run"]) == 2
    assert "unknown section latency; the sections are model" in capsys.readouterr().err


def test_tables_names_an_unknown_section(capsys):
    assert main(["tables", "--profile", "ci", "--only", "latency"]) == 2
    assert "unknown section latency; the sections are model, datasets" in capsys.readouterr().err


def test_tables_computes_a_section_and_then_finds_it_up_to_date(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPIKELIB_RESULTS", str(tmp_path))
    assert main(["tables", "--profile", "ci", "--only", "model"]) == 0
    assert main(["tables", "--profile", "ci", "--only", "model"]) == 0
    err = capsys.readouterr().err
    assert "tables of model: computed" in err and "tables of model: up to date" in err


def test_a_plan_expects_its_runs_to_stop_where_the_finished_ones_did(tmp_path):
    """Two of four spiking runs finished after a quarter and half of their cap: the
    other two are expected to cost 3/8 of their upper bound, start-up aside."""
    from types import SimpleNamespace

    from spikelib.cli import describe_plan
    from spikelib.config import paper_config
    from spikelib.cost import STARTUP_SECONDS, duration, epoch_share, run_seconds
    from spikelib.runs import Run
    runs = [Run("sae", paper_config(0.0, 1, 8, epochs=8, seed=seed)) for seed in range(4)]
    finished = {runs[0]: {"epochs_run": 2}, runs[1]: {"epochs_run": 4}}
    assert epoch_share(finished.items()) == 0.375
    assert epoch_share([]) is None
    bound = run_seconds(runs[2])
    assert run_seconds(runs[2], 0.375) - STARTUP_SECONDS == pytest.approx(
        0.375 * (bound - STARTUP_SECONDS))
    store = SimpleNamespace(finished=lambda plan: [run for run in plan if run in finished],
                            results=finished.__getitem__)
    text = describe_plan(runs, store, workers=2, use_shipped=False)
    assert text.splitlines()[-1] == (
        "expected, if the spiking runs left stop where the 2 finished ones did (on average "
        f"after 38% of their epoch cap): {duration(run_seconds(runs[2], 0.375))} on 2 workers")
