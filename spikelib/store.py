"""Where results live, written so that many workers can share one folder.

Everything a profile produces goes under `results/<profile>/` (or
`$SPIKELIB_RESULTS/<profile>`): finished runs in `runs/<key>/`
(results.json, model.weights.h5 and the completion marker COMPLETE),
the latest complete checkpoint of an unfinished run in
`checkpoints/<key>/epoch-NNNN/` (its files: `spikelib.checkpoint`) with the
machine that trained its first epoch (`machine.json`), tidy
tables in `tables/`, figures in `figures/`.

Safety: a run is written into a temporary folder beside its final place
and renamed into place in one step, after its marker; a folder without the
marker is never read; when two workers race on one key the first rename
wins and the other's copy is discarded.  A checkpoint is written the same
way (`publish`), so a process killed at any moment leaves either the
previous checkpoint or the new one.
"""

import json
import os
import shutil
import socket
import uuid
from pathlib import Path

import pandas as pd

from spikelib import checkpoint
from spikelib.runs import Run

MARKER = "COMPLETE"
SHIPPED = "SHIPPED"
# The machine that trains an unfinished run's first epoch, beside its checkpoints.
MACHINE = "machine.json"


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


def publish_text(path, text):
    """Write the file `path` in one step (a reader sees the old file or the new)."""
    path = Path(path)
    temporary = path.with_name(f".tmp-{path.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    temporary.write_text(text)
    os.replace(temporary, path)


def publish(folder, write, replace=False):
    """Make `folder` in one step: `write(temporary)` fills a new folder beside it,
    which is then renamed to `folder`, its marker inside.  Returns False,
    writing nothing, when another writer published `folder` first, unless
    `replace`; a `write` that fails leaves nothing behind."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(folder)
    temporary.mkdir()
    try:
        write(temporary)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    if replace and folder.exists():
        shutil.rmtree(folder)
    return _publish(temporary, folder)


def write_run(folder, results, model, replace=False):
    """Publish a finished run (results.json, model.weights.h5, the marker) as
    `folder`; False, writing nothing, when another writer was first, unless
    `replace`."""
    def write(temporary):
        (temporary / "results.json").write_text(json.dumps(results, indent=2, allow_nan=False))
        model.save_weights(temporary / "model.weights.h5")
    return publish(folder, write, replace)


def check_publishable(folder):
    """OSError unless `publish` could write `folder`: its parent can be made,
    and a folder in that.  Leaves nothing behind but the parent."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    probe = _temporary(folder)
    probe.mkdir()
    probe.rmdir()


def check_writable(root):
    """Fail clearly when this process cannot write the results folder."""
    try:
        check_publishable(Path(root) / "runs" / ".probe")
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
        def write(temporary):
            for path in files:
                shutil.copyfile(path, temporary / Path(path).name)
            if shipped_as is not None:
                (temporary / SHIPPED).write_text(shipped_as + "\n")
        publish(self.folder(run), write)

    def is_shipped(self, run):
        """Whether the finished run was copied from the shipped runs, not trained here."""
        return (self.folder(run) / SHIPPED).exists()

    def checkpoint_folder(self, run):
        return self.root / "checkpoints" / run.key

    def save_checkpoint(self, run, state):
        """Publish a `TrainingState` as the run's latest checkpoint; remove the older ones."""
        folder = self.checkpoint_folder(run) / f"epoch-{state.epoch:04d}"
        publish(folder, lambda temporary: checkpoint.save(state, temporary))
        for older in folder.parent.glob("epoch-*"):
            if older.name < folder.name:
                shutil.rmtree(older, ignore_errors=True)

    def note_machine(self, run, machine):
        """Record the machine that trains the run's first epoch (kept until it is finished)."""
        folder = self.checkpoint_folder(run)
        folder.mkdir(parents=True, exist_ok=True)
        publish_text(folder / MACHINE, json.dumps(machine, sort_keys=True))

    def noted_machine(self, run):
        """The machine `note_machine` recorded for the run, or None."""
        path = self.checkpoint_folder(run) / MACHINE
        return json.loads(path.read_text()) if path.exists() else None

    def _latest_checkpoint(self, run):
        """The folder of the run's latest complete checkpoint, or None.

        Another process may publish the run meanwhile, which removes its
        checkpoints: a folder that vanishes while it is listed means none.
        """
        folder = self.checkpoint_folder(run)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return None
        complete = sorted(name for name in names
                          if name.startswith("epoch-") and (folder / name / MARKER).exists())
        return folder / complete[-1] if complete else None

    def checkpoint_epoch(self, run):
        """The epoch of the run's latest complete checkpoint; 0 if it has none."""
        latest = self._latest_checkpoint(run)
        return 0 if latest is None else int(latest.name.split("-")[1])

    def load_checkpoint(self, run):
        """The latest complete `TrainingState` of the run, or None."""
        latest = self._latest_checkpoint(run)
        return None if latest is None else checkpoint.load(latest)

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


__all__ = ["Run", "Store", "results_root", "check_writable", "check_publishable", "publish",
           "write_run", "write_table", "read_table", "MARKER"]
