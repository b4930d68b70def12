"""Training and evaluation of the spiking autoencoder (model spec §3, §7).

Adam with epsilon inside the square root, a separate learning rate (and
Adam state) for the pulse times, reshuffling every epoch, and the model
with the lowest validation error is the one tested.

Speed: the inputs are fed as events (each example's non-silent inputs,
sorted once, see `spikelib.events`), and training runs a whole chunk of
batches per call of one XLA-compiled loop.  Evaluation, too, runs a
compiled loop, over small slices of a fixed-size padded batch, so each
function compiles once per event width and the intermediates of a slice
stay in the CPU cache.  `fit` sorts the validation and test sets once.
"""

import math
import time

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from spikelib.events import Events, to_events
from spikelib.loss import reconstruction_error, training_loss
from spikelib.optimizer import ReferenceAdam

EVALUATION_BATCH = 1000
# Examples per iteration of the compiled evaluation loop: the intermediates
# of a step, e.g. (step, 42, 784) candidates of the output layer, then stay
# in the CPU cache (measured: slices of 20 ~1.6x faster than 1000 at once).
EVALUATION_STEP = 20
# Training examples per compiled call (rounded to whole batches).
CHUNK_EXAMPLES = 1024


def _forward_events(model, times, rows):
    """Output spike times of `model` for event inputs."""
    return model.reconstruction(model.hidden(times, input_rows=rows, sorted_inputs=True))


def _embed_events(model, times, rows):
    return model.hidden(times, input_rows=rows, sorted_inputs=True)


def _errors_events(model, times, rows, clean_times, latency):
    return reconstruction_error(_forward_events(model, times, rows), clean_times, latency)


@tf.function(jit_compile=True)
def _evaluation_loop(step_function, model, arrays, extra):
    """`step_function(model, times, rows, *extra)` over the leading axis of
    (steps, step, ...) `arrays` = (times, rows, ...), in one compiled loop."""
    times, rows, *per_example = arrays
    steps = tf.shape(times)[0]

    def body(step, results):
        sliced = [array[step] for array in per_example]
        return step + 1, results.write(step, step_function(model, times[step], rows[step],
                                                           *sliced, *extra))

    _, results = tf.while_loop(lambda step, _: step < steps, body,
                               (tf.constant(0), tf.TensorArray(tf.float32, size=steps)))
    return results.stack()


def _pad(array, size):
    """`array` with its first axis padded to `size` by repeating the last row."""
    missing = size - len(array)
    return array if missing == 0 else np.concatenate([array, np.repeat(array[-1:], missing, 0)])


def _batched(step_function, model, inputs, batch_size, per_example=(), extra=()):
    """`step_function` over padded batches of `inputs` (times or `Events`), concatenated.

    Each call of the compiled loop takes `batch_size` examples (fewer if
    there are fewer) in slices of EVALUATION_STEP; the last call is padded.
    """
    if len(inputs) == 0:
        return None
    events = inputs if isinstance(inputs, Events) else to_events(inputs)
    step = min(EVALUATION_STEP, len(events))
    size = max(step, min(batch_size, len(events)) // step * step)
    results = []
    for start in range(0, len(events), size):
        stop = min(start + size, len(events))
        arrays = [_pad(a[start:stop], size) for a in (events.times, events.rows) + tuple(per_example)]
        arrays = [a.reshape(size // step, step, *a.shape[1:]) for a in arrays]
        result = _evaluation_loop(step_function, model, arrays, tuple(extra)).numpy()
        results.append(result.reshape(size, *result.shape[2:])[:stop - start])
    return np.concatenate(results)


def evaluate(model, inputs, clean_times, latency, batch_size=EVALUATION_BATCH):
    """Per-example reconstruction error of `model` on encoded `inputs`, (n,).

    `inputs`: input spike times, or their `Events` (sorted once, e.g. for
    a data set evaluated after every epoch).
    """
    errors = _batched(_errors_events, model, inputs, batch_size,
                      per_example=(np.asarray(clean_times, np.float32),), extra=(float(latency),))
    return np.zeros(0, np.float32) if errors is None else errors


def predict(model, inputs, batch_size=EVALUATION_BATCH):
    """Output spike times for encoded `inputs` (times or `Events`), (n, 784)."""
    return _batched(_forward_events, model, inputs, batch_size)


def embed(model, inputs, batch_size=EVALUATION_BATCH):
    """Hidden-layer spike times (the embedding) for encoded `inputs` (times or `Events`)."""
    return _batched(_embed_events, model, inputs, batch_size)


class Trainer:
    """Holds the two optimizers and the compiled training loop of one model."""

    def __init__(self, model, config):
        self.model = model
        self.latency = float(config.latency)
        self.batch_size = config.batch_size
        self.weights_optimizer = ReferenceAdam(config.learning_rate)
        self.pulses_optimizer = ReferenceAdam(config.learning_rate_pulses)
        self.weights_optimizer.build(model.weight_variables())
        self.pulses_optimizer.build(model.pulse_variables())
        self._chunk = tf.function(self._train_chunk, jit_compile=True)
        self._events_of = (None, None)

    def _train_step(self, times, rows, clean_times):
        """One Adam step on a batch of event inputs; per-example errors."""
        weights, pulses = self.model.weight_variables(), self.model.pulse_variables()
        with tf.GradientTape() as tape:
            outputs = _forward_events(self.model, times, rows)
            loss = training_loss(outputs, clean_times, self.latency)
        gradients = tape.gradient(loss, weights + pulses)
        self.weights_optimizer.apply(gradients[:len(weights)], weights)
        self.pulses_optimizer.apply(gradients[len(weights):], pulses)
        return reconstruction_error(outputs, clean_times, self.latency)

    def _train_chunk(self, times, rows, clean_times, n_steps):
        """The first `n_steps` batches of (steps, batch, ...) arrays; summed error."""
        def body(step, total):
            errors = self._train_step(times[step], rows[step], clean_times[step])
            return step + 1, total + tf.reduce_sum(errors)
        _, total = tf.while_loop(lambda step, _: step < n_steps, body,
                                 (tf.constant(0), tf.constant(0.0)))
        return total

    def _events(self, inputs):
        """Events of `inputs`, sorted once per data set (kept for the next epoch)."""
        if self._events_of[0] is not inputs:
            self._events_of = (inputs, to_events(inputs))
        return self._events_of[1]

    def _chunks(self, order):
        """Batches of `order` grouped into chunks: lists of index arrays of one size."""
        steps = max(1, CHUNK_EXAMPLES // self.batch_size)
        full = len(order) // self.batch_size * self.batch_size
        batches = order[:full].reshape(-1, self.batch_size)
        chunks = [batches[i:i + steps] for i in range(0, len(batches), steps)]
        if full < len(order):
            chunks.append(order[None, full:])
        return chunks, steps

    def train_epoch(self, inputs, clean_times, rng, progress=None):
        """One pass over the data in a fresh random order; mean training error."""
        events = self._events(inputs)
        order = rng.permutation(len(inputs))
        chunks, steps = self._chunks(order)
        total, count = 0.0, 0
        for chunk in chunks:
            padded = _pad(chunk, steps if chunk.shape[1] == self.batch_size else 1)
            total += float(self._chunk(events.times[padded], events.rows[padded],
                                       clean_times[padded], tf.constant(len(chunk))))
            count += chunk.size
            if progress is not None:
                progress.update(chunk.size)
        return total / max(count, 1)


def fit(model, config, data, progress=True, on_epoch=None):
    """Train for `config.epochs` epochs; keep the best-validation weights.

    `data` is a `PreparedData`.  Returns the per-epoch history (list of
    dicts) with the model left holding the best weights.
    """
    trainer = Trainer(model, config)
    rng = np.random.default_rng(config.seed)
    validation_events, test_events = to_events(data.validation_inputs), to_events(data.test_inputs)
    history, best, best_error = [], None, math.inf
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        with tqdm(total=len(data.train_inputs), desc=f"epoch {epoch}/{config.epochs}",
                  unit="ex", disable=not progress, leave=False) as bar:
            train_error = trainer.train_epoch(data.train_inputs, data.train_clean, rng, bar)
        train_seconds = time.perf_counter() - started
        started = time.perf_counter()
        validation = float(np.mean(evaluate(model, validation_events,
                                            data.validation_clean, config.latency)))
        test = float(np.mean(evaluate(model, test_events, data.test_clean, config.latency)))
        evaluation_seconds = time.perf_counter() - started
        record = dict(epoch=epoch, train_mse=train_error, validation_mse=validation,
                      test_mse=test, train_seconds=train_seconds,
                      evaluation_seconds=evaluation_seconds,
                      train_examples_per_second=len(data.train_inputs) / train_seconds)
        history.append(record)
        if validation < best_error:
            best_error, best = validation, [w.numpy() for w in model.weights]
            record["best"] = True
        if progress:
            tqdm.write(f"epoch {epoch}: train {train_error:.5f}  validation {validation:.5f}"
                       f"  test {test:.5f}  ({record['train_examples_per_second']:.0f} ex/s)")
        if on_epoch is not None:
            on_epoch(record)
    if best is not None:
        for variable, value in zip(model.weights, best):
            variable.assign(value)
    return history
