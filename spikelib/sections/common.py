"""Columns and rows shared by the section tables: a run's identity, health and curve."""

from spikelib.sections.schema import BUDGET

# A trained spiking run: which row, how it ended, and whether it is usable.
RUN = {"dataset": "str", "noise": "float", "latency": "float", "n_hidden": "int",
       "seed": "int", "test_mse": "float", "best_epoch": "int", "epochs_run": "int",
       "stop_reason": "str", "health": "str", "silent_hidden_share": "float",
       "silent_output_share": "float", **BUDGET}
# One row per epoch of a spiking run (learning curves).
CURVE = {"dataset": "str", "noise": "float", "latency": "float", "n_hidden": "int",
         "seed": "int", "epoch": "int", "train_mse": "float", "validation_mse": "float",
         "test_mse": "float", **BUDGET}


def identity(run):
    """The columns that say which run a row is about."""
    config = run.config
    return dict(dataset=config.data.dataset, noise=config.data.noise, latency=config.latency,
                n_hidden=config.network.n_hidden, seed=config.seed)


def run_row(profile, run, results):
    """The RUN columns of a finished spiking run."""
    return dict(**identity(run), test_mse=results["test_mse"], best_epoch=results["best_epoch"],
                epochs_run=results["epochs_run"], stop_reason=results["stop_reason"],
                health=results["health"], silent_hidden_share=results["silent_hidden_share"],
                silent_output_share=results["silent_output_share"], **profile.budget())


def curve_rows(profile, run, results):
    """The CURVE rows (one per epoch) of a finished spiking run."""
    return [dict(**identity(run), epoch=record["epoch"], train_mse=record["train_mse"],
                 validation_mse=record["validation_mse"], test_mse=record["test_mse"],
                 **profile.budget())
            for record in results["history"]]
