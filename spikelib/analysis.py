"""Analyses of trained networks that the sections share.

- how much of a layer's weight is inhibitory (`weight_statistics`);
- whether neurons dip below rest before they spike, from the membrane
  potentials of `spikelib.simulate` (`negative_before_spike_share`);
- a linear read-out of the class from an embedding (`linear_accuracy`),
  with silent hidden neurons given a finite "later than anything" time
  (`silent_as_late`);
- the non-spiking reference errors of a run's data (`reference_errors`).

All work on numpy arrays in float64; the layer helpers only read a
trained `SpikingDense`'s weights and pulse times.
"""

import dataclasses
import functools

import numpy as np

from spikelib.events import Events, event_width, to_events
from spikelib.simulate import membrane_potential, time_grid

# Time step of the potential grid (the grid also holds every input time).
POTENTIAL_DT = 0.005
# Iterations of the logistic regression; enough to converge on every feature set.
CLASSIFIER_MAX_ITER = 2000


def weight_statistics(weights, pulse_weights):
    """Negative share and mass of the ordinary weights, positive share of the pulse weights.

    ``negative_mass`` is the summed absolute value of the negative weights
    over that of all weights: the share of the absolute weight that inhibits.
    """
    weights, pulse_weights = np.asarray(weights), np.asarray(pulse_weights)
    total = np.abs(weights).sum()
    return dict(negative_share=float(np.mean(weights < 0)),
                negative_mass=float(np.abs(weights[weights < 0]).sum() / total) if total else 0.0,
                pulse_positive_share=float(np.mean(pulse_weights > 0)))


def layer_weight_statistics(layer):
    """`weight_statistics` of a trained SpikingDense."""
    return weight_statistics(layer.kernel.numpy(), layer.pulse_kernel.numpy())


def layer_inputs(layer, input_times):
    """A layer's full input: (batch, n_in + n_pulses) times and the matching weights.

    The pulses arrive at the same times for every example, after the
    ordinary inputs, as in `SpikingDense.call`.
    """
    input_times = np.asarray(input_times, np.float64)
    pulses = np.broadcast_to(layer.pulse_times.numpy().astype(np.float64),
                             (len(input_times), layer.pulses.n_pulses))
    weights = np.concatenate([layer.kernel.numpy(), layer.pulse_kernel.numpy()])
    return np.concatenate([input_times, pulses], axis=1), weights.astype(np.float64)


def negative_before_spike_share(input_times, weights, decay_rate, spike_times,
                                dt=POTENTIAL_DT):
    """Among (example, neuron) pairs that spike, the share whose potential goes below 0 first.

    input_times: (batch, n_in) including pulses; weights: (n_in, n_out);
    spike_times: (batch, n_out), +inf where silent.  The potential is
    evaluated on `simulate.time_grid` (steps of dt plus every input time)
    strictly before each neuron's spike.  NaN when nothing spikes.
    """
    input_times = np.asarray(input_times, np.float64)
    spike_times = np.asarray(spike_times, np.float64)
    fired_total = dipped_total = 0
    for times, spikes in zip(input_times, spike_times):
        fired = np.isfinite(spikes)
        if not fired.any():
            continue
        grid = time_grid(times, spikes[fired].max(), dt)
        potential = membrane_potential(times, weights[:, fired], decay_rate, grid)
        before = grid[None, :] < spikes[fired][:, None]
        fired_total += int(fired.sum())
        dipped_total += int(np.any((potential < 0) & before, axis=1).sum())
    return dipped_total / fired_total if fired_total else float("nan")


def layer_negative_before_spike_share(layer, input_times, spike_times, dt=POTENTIAL_DT):
    """`negative_before_spike_share` of a trained layer given its inputs and its spikes."""
    times, weights = layer_inputs(layer, input_times)
    return negative_before_spike_share(times, weights, layer.neuron.decay_rate, spike_times, dt)


def potential_traces(layer, input_times, neurons, t_end, dt=POTENTIAL_DT):
    """Membrane potentials of `neurons` of a layer for one example, for plotting.

    Returns (grid, potentials of shape (len(neurons), len(grid))).
    """
    times, weights = layer_inputs(layer, np.asarray(input_times)[None, :])
    grid = time_grid(times[0], t_end, dt)
    decay_rate = layer.neuron.decay_rate
    return grid, membrane_potential(times[0], weights[:, list(neurons)], decay_rate, grid)


def same_width_events(*inputs):
    """Input spike times of several splits as events of one width.

    A model's compiled evaluation is then traced once for all of them.
    """
    counts = np.concatenate([np.isfinite(x).sum(axis=1) for x in inputs])
    width = min(event_width(counts), inputs[0].shape[1])
    return [to_events(x, width) for x in inputs]


def silent_as_late(times, silent_value=None):
    """Spike times with silent neurons (+inf) set to a finite `silent_value`.

    A linear classifier cannot use +inf.  `silent_value` defaults to the
    latest finite time in `times` plus 1; pass the training split's value
    when preparing the test split, so both use the same.
    Returns (features, silent_value).
    """
    times = np.asarray(times, np.float64)
    finite = times[np.isfinite(times)]
    if silent_value is None:
        silent_value = (float(finite.max()) if finite.size else 0.0) + 1.0
    return np.where(np.isfinite(times), times, silent_value), silent_value


def linear_accuracy(train_x, train_y, test_x, test_y, max_iter=CLASSIFIER_MAX_ITER):
    """Test accuracy and test predictions of a logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    classifier.fit(train_x, train_y)
    predictions = classifier.predict(test_x)
    return float(np.mean(predictions == np.asarray(test_y))), predictions


def confusion_shares(true, predicted, n_classes=10):
    """(n_classes, n_classes) share of each true class (rows) predicted as each class."""
    counts = np.zeros((n_classes, n_classes))
    np.add.at(counts, (np.asarray(true), np.asarray(predicted)), 1)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def principal_axes(train_clean):
    """Mean and principal axes (rows, by decreasing variance) of the training values.

    The eigenvectors of the 784 x 784 scatter matrix: the right singular
    vectors of the centred values (as `baselines.pca_error` takes them), at
    a tenth of the cost of the singular value decomposition of a whole
    training split.
    """
    from spikelib.encoding import as_values
    centred = as_values(train_clean).astype(np.float64)
    mean = centred.mean(axis=0)
    centred -= mean
    _, vectors = np.linalg.eigh(centred.T @ centred)
    return mean, vectors[:, ::-1].T


def pca_errors(axes, test_inputs, test_clean, n_components):
    """Per-example error of the rank-`n_components` PCA code (as `baselines.pca_error`),
    from `axes` = `principal_axes` of the training set, shared by every size."""
    from spikelib.baselines import mse
    from spikelib.encoding import as_values
    mean, components = axes
    basis = components[:n_components]
    codes = (as_values(test_inputs) - mean) @ basis.T
    return mse(np.clip(codes @ basis + mean, 0.0, 1.0), test_clean)


@functools.lru_cache(maxsize=8)
def _clean_split(dataset, split_seed, split, count):
    """The encoded images of one split, without noise (as `experiment.prepare` makes them)."""
    from spikelib.data import load_splits
    from spikelib.encoding import encode_images
    from spikelib.experiment import _subset
    images, _ = _subset(getattr(load_splits(dataset, seed=split_seed), split), count)
    return encode_images(images)


@dataclasses.dataclass(frozen=True)
class TableData:
    """What a table reads of a run's data: its test split, noisy and clean, and the
    clean training images (the mean-image reference)."""

    test_inputs: np.ndarray
    test_clean: np.ndarray
    train_clean: np.ndarray


@functools.lru_cache(maxsize=10)
def table_data(data, seed):
    """The arrays of `experiment.prepare(data, seed)` that a table reads, equal to
    them, without drawing the noise of the training and validation splits."""
    from spikelib.encoding import add_noise
    from spikelib.experiment import _NOISE_STREAMS
    test_clean = _clean_split(data.dataset, data.split_seed, "test", data.test_examples)
    return TableData(add_noise(test_clean, data.noise, (seed, _NOISE_STREAMS["test"])),
                    test_clean,
                    _clean_split(data.dataset, data.split_seed, "train", data.train_examples))


@functools.lru_cache(maxsize=4)
def _principal_axes(clean_data):
    """`principal_axes` of the clean training split of `clean_data` (noise 0): one
    decomposition for every noise level, seed and size."""
    return principal_axes(table_data(clean_data, 0).train_clean)


@functools.lru_cache(maxsize=32)
def _reference_errors(data, seed, n_hidden):
    from spikelib.baselines import mean_image_error
    prepared = table_data(data, seed)
    axes = _principal_axes(dataclasses.replace(data, noise=0.0))
    pca = pca_errors(axes, prepared.test_inputs, prepared.test_clean, n_hidden)
    return (float(mean_image_error(prepared.train_clean, prepared.test_clean).mean()),
            float(pca.mean()))


def reference_errors(config):
    """Test MSE of the mean-image predictor and of a PCA code of the run's embedding size.

    Cached: runs that differ only in what does not change their data share one
    computation (without noise the seed does not change the data).
    """
    seed = config.seed if config.data.noise else 0
    mean_image, pca = _reference_errors(config.data, seed, config.network.n_hidden)
    return dict(mean_image_mse=mean_image, pca_mse=pca)


def sample_spike_times(model, inputs):
    """(hidden, output) spike times of `model` for a sample of encoded `inputs` (times or
    `Events`): the few hundred examples a figure or a statistic reads.

    Under TensorFlow the evaluation loop runs as a plain graph: XLA's
    compilation (about 5 s per model) costs more than it saves on so few
    examples (the grid's ten latency runs, 200 test images each: 29 s instead
    of 67 s).  XLA rounds otherwise; on those runs the same neurons fired, at
    times 3e-3 apart at most.  Under JAX it is `training.spike_times_of`.
    """
    import keras

    from spikelib import training
    if keras.backend.backend() != "tensorflow" or len(inputs) == 0:
        return training.spike_times_of(model, inputs)
    from spikelib.compiled import Compiled
    events = inputs if isinstance(inputs, Events) else to_events(inputs)
    step = training.EVALUATION_STEP
    size = -(-len(events) // step) * step
    arrays = [training._pad(a, size).reshape(size // step, step, *a.shape[1:])
              for a in (events.times, events.rows)]
    loop = Compiled(lambda arrays: training._loop(training._spike_times_events, model, arrays,
                                                  ()), jit_compile=False)
    both = np.asarray(loop(arrays)).reshape(size, -1)[:len(events)]
    units = model.hidden.units
    return both[:, :units], both[:, units:]


def _hidden_events(model, times, rows):
    """Hidden spike times of `model` for event inputs, (batch, n_hidden)."""
    return model.hidden(times, input_rows=rows, sorted_inputs=True)


def hidden_spike_times(model, inputs, batch_size=None):
    """The embedding: hidden spike times of `model` for encoded `inputs` (times or
    `Events`), (n, n_hidden), as `training.embed` gives them, without evaluating the
    output layer (most of an evaluation's work) for a whole training split."""
    from spikelib.training import EVALUATION_BATCH, _batched
    units = model.hidden.units
    found = _batched(_hidden_events, model, inputs, batch_size or EVALUATION_BATCH)
    return np.zeros((0, units), np.float32) if found is None else found
