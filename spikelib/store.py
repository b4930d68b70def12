"""Where results live, written so that many workers can share one folder.

Everything a profile produces goes under `results/<profile>/` (or
`$SPIKELIB_RESULTS/<profile>`): finished runs in `runs/<key>/`
(results.json, model.weights.h5 and the completion marker COMPLETE),
per-epoch checkpoints of unfinished runs in `checkpoints/<key>/`, tidy
tables in `tables/`, figures in `figures/`.

Safety: a run is written into a temporary folder beside its final place
and renamed into place in one step, after its marker; a folder without the
marker is never read; when two workers race on one key the first rename
wins and the other's copy is discarded.  A checkpoint is written the same
way, so a process killed at any moment leaves either the previous
checkpoint or the new one.
"""

import json
import os
import shutil
import socket
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from spikelib.runs import Run

MARKER = "COMPLETE"
SHIPPED = "SHIPPED"


def results_root(profile):
    """The results folder of a profile (a Profile or its name)."""
    name = getattr(profile, "name", profile)
    base = os.environ.get("SPIKELIB_RESULTS")
    base = Path(base) if base else Path(__file__).resolve().parent.parent / "results"
    return base / name


def _temporary(folder):
    return folder.parent / f".tmp-{folder.name}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _publish(temporary, folder):
    """Rename `temporary` to `folder` in one step; False if another writer was first."""
    (temporary / MARKER).write_text("")
    try:
        os.rename(temporary, folder)
        return True
    except OSError:
        if (folder / MARKER).exists():
            shutil.rmtree(temporary, ignore_errors=True)
            return False
        if folder.exists():  # a folder without its marker (not ours): replace it
            shutil.rmtree(folder, ignore_errors=True)
            os.rename(temporary, folder)
            return True
        raise


def write_run(folder, results, model, replace=False):
    """Write a finished run (results.json, model.weights.h5, the marker) to
    `folder` in one step.  Returns False, writing nothing, when another
    writer published a run there first, unless `replace`."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(folder)
    temporary.mkdir()
    (temporary / "results.json").write_text(json.dumps(results, indent=2, allow_nan=False))
    model.save_weights(temporary / "model.weights.h5")
    if replace and folder.exists():
        shutil.rmtree(folder)
    return _publish(temporary, folder)


def check_writable(root):
    """Fail clearly when this process cannot write the results folder."""
    root = Path(root)
    try:
        (root / "runs").mkdir(parents=True, exist_ok=True)
        probe = root / "runs" / f".probe-{socket.gethostname()}-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise PermissionError(
            f"cannot write the results folder {root} on host {socket.gethostname()} ({error}); "
            "every worker must see the same results folder: set SPIKELIB_RESULTS to storage "
            "shared by all workers") from None


class Store:
    """The finished runs and checkpoints under one results folder."""

    def __init__(self, root):
        self.root = Path(root)

    def folder(self, run):
        return self.root / "runs" / run.key

    def is_done(self, run):
        return (self.folder(run) / MARKER).exists()

    def results(self, run):
        """The results dict of a finished run; FileNotFoundError if it is not finished."""
        if not self.is_done(run):
            raise FileNotFoundError(f"run {run.label()} ({run.key}) is not finished in {self.root}")
        return json.loads((self.folder(run) / "results.json").read_text())

    def model(self, run):
        """The trained model of a finished run, weights loaded."""
        self.results(run)
        model = run.new_model()
        model.load_weights(self.folder(run) / "model.weights.h5")
        return model

    def write(self, run, results, model):
        """Publish a finished run; returns the results that are now in place."""
        write_run(self.folder(run), results, model)
        shutil.rmtree(self.checkpoint_folder(run), ignore_errors=True)
        return self.results(run)

    def publish_files(self, run, files, shipped_as=None):
        """Publish a finished run from copies of its `files`; `shipped_as`: the
        key of the shipped run they come from (`spikelib.shipped`), noted in
        the file SHIPPED."""
        folder = self.folder(run)
        folder.parent.mkdir(parents=True, exist_ok=True)
        temporary = _temporary(folder)
        temporary.mkdir()
        for path in files:
            shutil.copyfile(path, temporary / Path(path).name)
        if shipped_as is not None:
            (temporary / SHIPPED).write_text(shipped_as + "\n")
        _publish(temporary, folder)

    def is_shipped(self, run):
        """Whether the finished run was copied from the shipped runs, not trained here."""
        return (self.folder(run) / SHIPPED).exists()

    def checkpoint_folder(self, run):
        return self.root / "checkpoints" / run.key

    def save_checkpoint(self, run, state):
        """Write a `TrainingState` as the run's latest checkpoint."""
        folder = self.checkpoint_folder(run) / f"epoch-{state.epoch:04d}"
        folder.parent.mkdir(parents=True, exist_ok=True)
        temporary = _temporary(folder)
        temporary.mkdir()
        arrays = {f"weights_{i}": w for i, w in enumerate(state.weights)}
        arrays.update({f"best_{i}": w for i, w in enumerate(state.best_weights or [])})
        for which, values in enumerate(state.optimizer_state):
            arrays.update({f"optimizer{which}_{i}": v for i, v in enumerate(values)})
        np.savez(temporary / "arrays.npz", **arrays)
        meta = dict(epoch=state.epoch, history=state.history, rng_state=state.rng_state,
                    best_error=state.best_error, since_improvement=state.since_improvement,
                    stop_reason=state.stop_reason, has_best=state.best_weights is not None,
                    n_weights=len(state.weights),
                    n_optimizer=[len(values) for values in state.optimizer_state])
        (temporary / "state.json").write_text(json.dumps(meta))
        _publish(temporary, folder)
        for older in folder.parent.glob("epoch-*"):
            if older.name < folder.name:
                shutil.rmtree(older, ignore_errors=True)

    def load_checkpoint(self, run):
        """The latest complete `TrainingState` of the run, or None."""
        from spikelib.training import TrainingState
        complete = sorted(p for p in self.checkpoint_folder(run).glob("epoch-*")
                          if (p / MARKER).exists())
        if not complete:
            return None
        meta = json.loads((complete[-1] / "state.json").read_text())
        with np.load(complete[-1] / "arrays.npz") as arrays:
            weights = [arrays[f"weights_{i}"] for i in range(meta["n_weights"])]
            best = ([arrays[f"best_{i}"] for i in range(meta["n_weights"])]
                    if meta["has_best"] else None)
            optimizer = [[arrays[f"optimizer{which}_{i}"] for i in range(count)]
                         for which, count in enumerate(meta["n_optimizer"])]
        return TrainingState(meta["epoch"], meta["history"], weights, optimizer,
                             meta["rng_state"], best, meta["best_error"],
                             meta["since_improvement"], meta["stop_reason"])

    def finished(self, runs):
        """The subset of `runs` that is finished."""
        return [run for run in runs if self.is_done(run)]


def write_table(rows, root, name):
    """Save rows (list of dicts or DataFrame) as tables/<name>.csv atomically."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    path = Path(root) / "tables" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_csv(temporary, index=False)
    os.replace(temporary, path)
    return frame


def read_table(root, name):
    """tables/<name>.csv as a DataFrame; a clear error naming the command if missing."""
    path = Path(root) / "tables" / f"{name}.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: its section has not been computed "
                                f"(make runs PROFILE={Path(root).name}, or run its notebook)")
    return pd.read_csv(path)


__all__ = ["Run", "Store", "results_root", "check_writable", "write_table", "read_table",
           "MARKER"]
