"""Training and evaluation of the spiking autoencoder (model spec §3, §7).

Adam with epsilon inside the square root, a separate learning rate (and
Adam state) for the pulse times, reshuffling every epoch, and the model
with the lowest validation error is the one tested.
"""

import math
import time

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from spikelib.loss import reconstruction_error, training_loss
from spikelib.optimizer import ReferenceAdam

EVALUATION_BATCH = 1000


def evaluate(model, inputs, clean_times, latency, batch_size=EVALUATION_BATCH):
    """Per-example reconstruction error of `model` on encoded `inputs`, (n,)."""
    errors = [_errors(model, inputs[i:i + batch_size], clean_times[i:i + batch_size], latency)
              for i in range(0, len(inputs), batch_size)]
    return np.concatenate(errors) if errors else np.zeros(0, np.float32)


def predict(model, inputs, batch_size=EVALUATION_BATCH):
    """Output spike times for encoded `inputs`, (n, 784)."""
    return np.concatenate([_forward(model, inputs[i:i + batch_size]).numpy()
                           for i in range(0, len(inputs), batch_size)])


def embed(model, inputs, batch_size=EVALUATION_BATCH):
    """Hidden-layer spike times (the embedding) for encoded `inputs`."""
    return np.concatenate([_embed(model, inputs[i:i + batch_size]).numpy()
                           for i in range(0, len(inputs), batch_size)])


@tf.function(reduce_retracing=True)
def _forward(model, inputs):
    return model(inputs)


@tf.function(reduce_retracing=True)
def _embed(model, inputs):
    return model.embed(inputs)


@tf.function(reduce_retracing=True)
def _errors(model, inputs, clean_times, latency):
    return reconstruction_error(model(inputs), clean_times, latency)


class Trainer:
    """Holds the two optimizers and the compiled training step of one model."""

    def __init__(self, model, config):
        self.model = model
        self.latency = float(config.latency)
        self.batch_size = config.batch_size
        self.weights_optimizer = ReferenceAdam(config.learning_rate)
        self.pulses_optimizer = ReferenceAdam(config.learning_rate_pulses)
        self.weights_optimizer.build(model.weight_variables())
        self.pulses_optimizer.build(model.pulse_variables())
        self._step = tf.function(self._train_step, jit_compile=True, reduce_retracing=True)

    def _train_step(self, inputs, clean_times):
        weights, pulses = self.model.weight_variables(), self.model.pulse_variables()
        with tf.GradientTape() as tape:
            outputs = self.model(inputs)
            loss = training_loss(outputs, clean_times, self.latency)
        gradients = tape.gradient(loss, weights + pulses)
        self.weights_optimizer.apply(gradients[:len(weights)], weights)
        self.pulses_optimizer.apply(gradients[len(weights):], pulses)
        return reconstruction_error(outputs, clean_times, self.latency)

    def train_epoch(self, inputs, clean_times, rng, progress=None):
        """One pass over the data in a fresh random order; mean training error."""
        order = rng.permutation(len(inputs))
        total, count = 0.0, 0
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            errors = self._step(inputs[batch], clean_times[batch])
            total += float(tf.reduce_sum(errors))
            count += len(batch)
            if progress is not None:
                progress.update(len(batch))
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
