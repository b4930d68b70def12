"""Where results live, and reuse of trained models across sections.

Everything a profile produces goes under one folder, `results/<profile>/`
(or `$SPIKELIB_RESULTS/<profile>`): trained runs in `runs/<kind>-<config digest>-<code digest>/`
(results.json + model.weights.h5), tidy tables in `tables/`, figures in
`figures/`.  A section asking for a config that another section already
trained under the same profile gets the cached model instead of a new run.
"""

import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from spikelib.autoencoder import SpikingAutoencoder


def results_root(profile):
    """The results folder of a profile (a Profile or its name)."""
    name = getattr(profile, "name", profile)
    base = os.environ.get("SPIKELIB_RESULTS")
    base = Path(base) if base else Path(__file__).resolve().parent.parent / "results"
    return base / name


def code_digest():
    """Short hash of the library's source: a trained model is reused only by the same code."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:8]


def _run_dir(root, config, kind="sae"):
    return Path(root) / "runs" / f"{kind}-{config.digest()}-{code_digest()}"


_DATA_FIELDS = ("dataset", "noise", "seed", "split_seed",
                "train_examples", "validation_examples", "test_examples")
_prepared = {}


def prepared_data(config):
    """Encoded, noisy data of a config, kept in memory for configs that share it."""
    from spikelib.experiment import prepare_data
    key = tuple(getattr(config, field) for field in _DATA_FIELDS)
    if key not in _prepared:
        if len(_prepared) >= 4:
            _prepared.pop(next(iter(_prepared)))
        _prepared[key] = prepare_data(config)
    return _prepared[key]


def trained_autoencoder(config, root, progress=True):
    """(model, results) of `config`: loaded from `root` if trained before, else trained now."""
    from spikelib.experiment import train_and_test, write_results
    folder = _run_dir(root, config)
    results_file, weights_file = folder / "results.json", folder / "model.weights.h5"
    if results_file.exists() and weights_file.exists():
        model = SpikingAutoencoder.from_run_config(config)
        model.load_weights(weights_file)
        return model, json.loads(results_file.read_text())
    data = prepared_data(config)
    model, results = train_and_test(config, data, progress=progress)
    write_results(results, model, folder)
    return model, results


def trained_conventional(config, root, progress=False):
    """(model, results) of the conventional AE matched to `config`, cached like the SAE."""
    from spikelib.baselines import ConventionalAutoencoder, train_conventional
    from spikelib.experiment import write_results
    folder = _run_dir(root, config, kind="ann")
    results_file, weights_file = folder / "results.json", folder / "model.weights.h5"
    if results_file.exists() and weights_file.exists():
        model = ConventionalAutoencoder(config.n_hidden, seed=config.seed)
        model.build((None, 784))
        model.load_weights(weights_file)
        return model, json.loads(results_file.read_text())
    data = prepared_data(config)
    model, errors, history = train_conventional(config, data, progress=progress)
    results = dict(config=config.to_dict(), config_digest=config.digest(), seed=config.seed,
                   test_mse=float(errors.mean()),
                   history={k: [float(v) for v in values] for k, values in history.items()})
    write_results(results, model, folder)
    return model, results


def write_table(rows, root, name):
    """Save rows (list of dicts or DataFrame) as tables/<name>.csv; returns the DataFrame."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    path = Path(root) / "tables" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame


def read_table(root, name):
    """tables/<name>.csv as a DataFrame; a clear error naming the section if missing."""
    path = Path(root) / "tables" / f"{name}.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run the notebook that writes '{name}' first "
                                f"(make reproduce PROFILE={Path(root).name})")
    return pd.read_csv(path)
