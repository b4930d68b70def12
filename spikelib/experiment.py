"""One experiment run: data prepared as the config says, trained, tested.

A run's results dict holds its config, seed, per-epoch history, where and
why training stopped, the test error of the best-validation model, the
health of the trained network, timing and package versions.
"""

import dataclasses
import functools
import time

import numpy as np

from spikelib.autoencoder import SpikingAutoencoder
from spikelib.baselines import mean_image_error
from spikelib.data import load_splits
from spikelib.encoding import add_noise, encode_images
from spikelib.loss import reconstruction_error
from spikelib.versions import package_versions
from spikelib.training import evaluation_events, fit, spike_times_of

# Offsets that give the noise of each split its own random stream.
_NOISE_STREAMS = {"train": 1, "validation": 2, "test": 3}
# A network whose hidden layer is silent on more than this share of the
# test examples' (neuron, example) pairs carries (almost) nothing of its input.
INPUT_BLIND_SILENT_SHARE = 1.0


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


@functools.lru_cache(maxsize=4)
def prepare(data, seed):
    """Encode the images of `data` (DataParameters) and draw their noise with `seed`."""
    splits = load_splits(data.dataset, seed=data.split_seed)
    prepared = {}
    for name, count in (("train", data.train_examples),
                        ("validation", data.validation_examples),
                        ("test", data.test_examples)):
        images, labels = _subset(getattr(splits, name), count)
        clean = encode_images(images)
        prepared[f"{name}_inputs"] = add_noise(clean, data.noise, (seed, _NOISE_STREAMS[name]))
        prepared[f"{name}_clean"] = clean
        prepared[f"{name}_labels"] = labels
    return PreparedData(**prepared)


def prepare_data(config):
    """The encoded, noisy data of a run (cached for runs that share it)."""
    return prepare(config.data, config.seed)


def health(hidden_times, output_times, test_mse=None, mean_image_mse=None):
    """Silent shares of the hidden and output layers on test data, and a verdict.

    "dead": no output ever fires; "input_blind": the hidden layer never
    fires or fires at the same time for every example, so the output cannot
    depend on the input; "off_target": the reconstruction is no better than
    the mean training image (outputs firing far from their targets, as at
    too small a budget); "ok" otherwise.
    """
    hidden_fired, output_fired = np.isfinite(hidden_times), np.isfinite(output_times)
    constant = bool(np.all(np.ptp(np.where(hidden_fired, hidden_times, -1.0), axis=0) == 0))
    if not output_fired.any():
        verdict = "dead"
    elif not hidden_fired.any() or constant:
        verdict = "input_blind"
    elif test_mse is not None and not test_mse < mean_image_mse:
        verdict = "off_target"
    else:
        verdict = "ok"
    return dict(silent_hidden_share=float(1.0 - hidden_fired.mean()),
                silent_output_share=float(1.0 - output_fired.mean()), health=verdict)


def train_and_test(config, data=None, progress=True, on_epoch=None, state=None):
    """Train a SpikingAutoencoder as `config` says; returns (model, results dict).

    `on_epoch` and `state` checkpoint and resume training (see `fit`).
    """
    import keras
    keras.utils.set_random_seed(config.seed)
    data = data if data is not None else prepare_data(config)
    model = SpikingAutoencoder.from_run_config(config)
    started = time.perf_counter()
    history, stop_reason = fit(model, config, data, progress=progress, on_epoch=on_epoch,
                               state=state)
    return model, sae_results(model, config, data, history, stop_reason,
                              time.perf_counter() - started)


def sae_results(model, config, data, history, stop_reason, seconds):
    """The results dict of a trained spiking run: its test error, health and history."""
    hidden, outputs = spike_times_of(model, evaluation_events(data)[1])
    test_errors = np.asarray(reconstruction_error(outputs, data.test_clean, config.latency))
    test_mse = float(np.mean(test_errors))
    mean_image_mse = float(np.mean(mean_image_error(data.train_clean, data.test_clean)))
    best = min(history, key=lambda record: record["validation_mse"])
    results = dict(kind="sae", config=config.to_dict(), config_digest=config.digest(),
                   seed=config.seed, test_mse=test_mse, mean_image_mse=mean_image_mse,
                   best_epoch=best["epoch"], best_validation_mse=best["validation_mse"],
                   epochs_run=history[-1]["epoch"], stop_reason=stop_reason,
                   **health(hidden, outputs, test_mse, mean_image_mse),
                   history=history, train_seconds=seconds, versions=package_versions())
    return results


def train_and_test_conventional(config, data=None, progress=False):
    """The conventional AE matched to `config`; returns (model, results dict)."""
    from spikelib.conventional import train_conventional
    data = data if data is not None else prepare_data(config)
    started = time.perf_counter()
    model, errors, history = train_conventional(config, data, progress=progress)
    history = {key: [float(value) for value in values] for key, values in history.items()}
    results = dict(kind="ann", config=config.to_dict(), config_digest=config.digest(),
                   seed=config.seed, test_mse=float(errors.mean()),
                   epochs_run=len(history.get("loss", [])), history=history,
                   train_seconds=time.perf_counter() - started, versions=package_versions())
    return model, results
