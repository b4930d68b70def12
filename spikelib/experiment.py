"""One experiment run: data prepared as the config says, trained, tested, written.

A run's results JSON holds its config, seed, per-epoch history, the test
error of the best-validation model, timing and package versions; the
trained weights are checkpointed beside it.
"""

import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np

from spikelib.autoencoder import SpikingAutoencoder
from spikelib.data import load_splits
from spikelib.encoding import add_noise, encode_images
from spikelib.training import evaluate, fit

# Offsets that give the noise of each split its own random stream.
_NOISE_STREAMS = {"train": 1, "validation": 2, "test": 3}


@dataclasses.dataclass
class PreparedData:
    """Noisy input spike times, clean spike times and labels of each split."""

    train_inputs: np.ndarray
    train_clean: np.ndarray
    train_labels: np.ndarray
    validation_inputs: np.ndarray
    validation_clean: np.ndarray
    validation_labels: np.ndarray
    test_inputs: np.ndarray
    test_clean: np.ndarray
    test_labels: np.ndarray


def _subset(split, count):
    if count is None:
        return split.images, split.labels
    if count > len(split.images):
        raise ValueError(f"asked for {count} examples, the split has {len(split.images)}")
    return split.images[:count], split.labels[:count]


def prepare_data(config):
    """Encode the config's data set and draw its input noise once (model spec §6)."""
    splits = load_splits(config.dataset, seed=config.split_seed)
    prepared = {}
    for name, count in (("train", config.train_examples),
                        ("validation", config.validation_examples),
                        ("test", config.test_examples)):
        images, labels = _subset(getattr(splits, name), count)
        clean = encode_images(images)
        noise_seed = (config.seed, _NOISE_STREAMS[name])
        prepared[f"{name}_inputs"] = add_noise(clean, config.noise, noise_seed)
        prepared[f"{name}_clean"] = clean
        prepared[f"{name}_labels"] = labels
    return PreparedData(**prepared)


def package_versions():
    import keras
    import tensorflow as tf
    return {"python": platform.python_version(), "numpy": np.__version__,
            "tensorflow": tf.__version__, "keras": keras.__version__}


def train_and_test(config, data=None, progress=True):
    """Train a SpikingAutoencoder as `config` says; returns (model, results dict)."""
    import keras
    keras.utils.set_random_seed(config.seed)
    data = data if data is not None else prepare_data(config)
    model = SpikingAutoencoder.from_run_config(config)
    started = time.perf_counter()
    history = fit(model, config, data, progress=progress)
    seconds = time.perf_counter() - started
    test_errors = evaluate(model, data.test_inputs, data.test_clean, config.latency)
    best = min(history, key=lambda record: record["validation_mse"])
    results = dict(config=config.to_dict(), config_digest=config.digest(), seed=config.seed,
                   test_mse=float(np.mean(test_errors)), best_epoch=best["epoch"],
                   best_validation_mse=best["validation_mse"], history=history,
                   train_seconds=seconds, versions=package_versions())
    return model, results


def write_results(results, model, directory):
    """results.json and model.weights.h5 in `directory` (created)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(results, indent=2))
    model.save_weights(directory / "model.weights.h5")
    return directory
