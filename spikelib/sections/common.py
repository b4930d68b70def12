"""Columns and rows shared by the section tables: a run's identity, health and curve."""

from spikelib.sections.schema import BUDGET
from spikelib.convergence import still_learning

# A trained spiking run: which row, how it ended, and whether it is usable.
RUN = {"dataset": "str", "noise": "float", "latency": "float", "n_hidden": "int",
       "seed": "int", "test_mse": "float", "best_epoch": "int", "epochs_run": "int",
       "stop_reason": "str", "still_learning": "bool", "health": "str",
       "silent_hidden_share": "float",
       "silent_output_share": "float", **BUDGET}
# One row per epoch of a spiking run (learning curves).
CURVE = {"dataset": "str", "noise": "float", "latency": "float", "n_hidden": "int",
         "seed": "int", "epoch": "int", "train_mse": "float", "validation_mse": "float",
         "test_mse": "float", **BUDGET}


# The share of the mean image's error from which a run counts as off target:
# the same bar as the stopping rule's mean-image plateau (`Profile.plateau`).
OFF_TARGET_SHARE = 0.9


def identity(run):
    """The columns that say which run a row is about."""
    config = run.config
    return dict(dataset=config.data.dataset, noise=config.data.noise, latency=config.latency,
                n_hidden=config.network.n_hidden, seed=config.seed)


def run_still_learning(run, results):
    """Whether a finished spiking run was still learning when it stopped (`convergence`)."""
    budget, history = run.config.budget, results["history"]
    return still_learning([record["validation_mse"] for record in history],
                          results["stop_reason"], budget.patience, budget.min_delta,
                          [record.get("on_plateau", False) for record in history])


def run_health(results):
    """The run's health (`experiment.health`), "off_target" also near the mean image's error.

    A trained network whose test error is still at least OFF_TARGET_SHARE of the
    mean image's has not left the mean-image plateau: it reconstructs no
    better than a network that ignores its input, whatever its last digits.
    """
    if results["health"] == "ok" and not (
            results["test_mse"] < OFF_TARGET_SHARE * results["mean_image_mse"]):
        return "off_target"
    return results["health"]


def run_row(profile, run, results):
    """The RUN columns of a finished spiking run."""
    return dict(**identity(run), test_mse=results["test_mse"], best_epoch=results["best_epoch"],
                epochs_run=results["epochs_run"], stop_reason=results["stop_reason"],
                still_learning=run_still_learning(run, results), health=run_health(results),
                silent_hidden_share=results["silent_hidden_share"],
                silent_output_share=results["silent_output_share"], **profile.budget())


def curve_rows(profile, run, results):
    """The CURVE rows (one per epoch) of a finished spiking run."""
    return [dict(**identity(run), epoch=record["epoch"], train_mse=record["train_mse"],
                 validation_mse=record["validation_mse"], test_mse=record["test_mse"],
                 **profile.budget())
            for record in results["history"]]
