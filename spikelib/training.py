"""Training and evaluation of the spiking autoencoder (model spec §3, §7).

Adam with epsilon inside the square root, a separate learning rate (and
Adam state) for the pulse times, reshuffling every epoch, and the model
with the lowest validation error is the one tested.

Speed: the inputs are fed as events (each example's non-silent inputs,
sorted once, see `spikelib.events`), and training runs a whole chunk of
batches per call of one XLA-compiled loop.  Evaluation uses fixed-size
padded batches, so each function compiles once per event width.
"""

import math
import time

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from spikelib.events import to_events
from spikelib.loss import reconstruction_error, training_loss
from spikelib.optimizer import ReferenceAdam

EVALUATION_BATCH = 1000
# Training examples per compiled call (rounded to whole batches).
CHUNK_EXAMPLES = 1024


def _forward_events(model, times, rows):
    """Output spike times of `model` for event inputs."""
    return model.reconstruction(model.hidden(times, input_rows=rows, sorted_inputs=True))


@tf.function(jit_compile=True)
def _forward(model, times, rows):
    return _forward_events(model, times, rows)


@tf.function(jit_compile=True)
def _embed(model, times, rows):
    return model.hidden(times, input_rows=rows, sorted_inputs=True)


@tf.function(jit_compile=True)
def _errors(model, times, rows, clean_times, latency):
    return reconstruction_error(_forward_events(model, times, rows), clean_times, latency)


def _padded_batches(count, batch_size):
    """(start, stop) of fixed-size batches covering `count` examples."""
    return [(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]


def _pad(array, size):
    """`array` with its first axis padded to `size` by repeating the last row."""
    missing = size - len(array)
    return array if missing == 0 else np.concatenate([array, np.repeat(array[-1:], missing, 0)])


def _batched(function, model, inputs, batch_size, *extra):
    """`function(model, times, rows, *extra)` over padded batches, concatenated."""
    if len(inputs) == 0:
        return None
    events = to_events(inputs)
    size = min(batch_size, len(inputs))
    results = []
    for start, stop in _padded_batches(len(inputs), size):
        args = [_pad(a[start:stop], size) for a in (events.times, events.rows) + extra]
        results.append(function(model, *args).numpy()[:stop - start])
    return np.concatenate(results)


def evaluate(model, inputs, clean_times, latency, batch_size=EVALUATION_BATCH):
    """Per-example reconstruction error of `model` on encoded `inputs`, (n,)."""
    errors = _batched(lambda m, t, r, c: _errors(m, t, r, c, float(latency)),
                      model, inputs, batch_size, np.asarray(clean_times, np.float32))
    return np.zeros(0, np.float32) if errors is None else errors


def predict(model, inputs, batch_size=EVALUATION_BATCH):
    """Output spike times for encoded `inputs`, (n, 784)."""
    return _batched(_forward, model, inputs, batch_size)


def embed(model, inputs, batch_size=EVALUATION_BATCH):
    """Hidden-layer spike times (the embedding) for encoded `inputs`."""
    return _batched(_embed, model, inputs, batch_size)


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
    history, best, best_error = [], None, math.inf
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        with tqdm(total=len(data.train_inputs), desc=f"epoch {epoch}/{config.epochs}",
                  unit="ex", disable=not progress, leave=False) as bar:
            train_error = trainer.train_epoch(data.train_inputs, data.train_clean, rng, bar)
        train_seconds = time.perf_counter() - started
        started = time.perf_counter()
        validation = float(np.mean(evaluate(model, data.validation_inputs,
                                            data.validation_clean, config.latency)))
        test = float(np.mean(evaluate(model, data.test_inputs, data.test_clean, config.latency)))
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
