"""A spiking run's `training.TrainingState` as files, so a killed run resumes.

`save` writes every field of the state into a folder: arrays.npz (the
weights, the best weights, both optimizers' variables, dtypes kept) and
state.json (epoch, history, random generator state, best error, epochs
without improvement, stop reason, and the counts that index the arrays);
`load` reads such a folder back, every field as it was.  The store
(`spikelib.store`) chooses the folder and publishes it.  No maths here:
a run's numbers do not depend on this module, so it is not in a run's key.
"""

import json
from pathlib import Path

import numpy as np

ARRAYS = "arrays.npz"
META = "state.json"


def save(state, folder):
    """Write the `TrainingState` `state` into the existing `folder`."""
    folder = Path(folder)
    np.savez(folder / ARRAYS, **_arrays(state))
    (folder / META).write_text(json.dumps(_meta(state)))


def load(folder):
    """The `TrainingState` saved in `folder`."""
    from spikelib.training import TrainingState
    folder = Path(folder)
    meta = json.loads((folder / META).read_text())
    with np.load(folder / ARRAYS) as arrays:
        weights = [arrays[f"weights_{i}"] for i in range(meta["n_weights"])]
        best = ([arrays[f"best_{i}"] for i in range(meta["n_weights"])]
                if meta["has_best"] else None)
        optimizer = [[arrays[f"optimizer{which}_{i}"] for i in range(count)]
                     for which, count in enumerate(meta["n_optimizer"])]
    return TrainingState(meta["epoch"], meta["history"], weights, optimizer, meta["rng_state"],
                         best, meta["best_error"], meta["since_improvement"], meta["stop_reason"])


def _arrays(state):
    arrays = {f"weights_{i}": w for i, w in enumerate(state.weights)}
    arrays.update({f"best_{i}": w for i, w in enumerate(state.best_weights or [])})
    for which, values in enumerate(state.optimizer_state):
        arrays.update({f"optimizer{which}_{i}": v for i, v in enumerate(values)})
    return arrays


def _meta(state):
    return dict(epoch=state.epoch, history=state.history, rng_state=state.rng_state,
                best_error=state.best_error, since_improvement=state.since_improvement,
                stop_reason=state.stop_reason, has_best=state.best_weights is not None,
                n_weights=len(state.weights),
                n_optimizer=[len(values) for values in state.optimizer_state])
