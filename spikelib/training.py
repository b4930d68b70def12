"""Training and evaluation of the spiking autoencoder (see the model page: gradient, training).

Adam with epsilon inside the square root, a separate learning rate (and
Adam state) for the pulse times, reshuffling every epoch, and the model
with the lowest validation error is the one tested.  Training stops after
`budget.epochs`, or earlier when the validation error stalls (`Budget`).
The state after every epoch (`TrainingState`) can be saved and restored,
so a run killed in epoch k resumes from epoch k - 1 with the same result.

Speed: the inputs are fed as events (each example's non-silent inputs,
sorted once, see `spikelib.events`), and training runs a whole chunk of
batches per call of one XLA-compiled loop; the leftover partial batch of
an epoch is padded to a full one with zero weights, so a run compiles its
training step once.  Evaluation, too, runs a compiled loop, over small
slices of a fixed-size padded batch, so each model compiles it once per
event width (the validation and test sets share one width) and the
intermediates of a slice stay in the CPU cache.

Both loops are compiled by the Keras backend's own means: here for
TensorFlow (`tf.function` with XLA, the optimizers applied in place),
in `spikelib.training_jax` for JAX (the model and optimizers called
statelessly under `jax.jit`).  The maths they run is the same `keras.ops`.
"""

import dataclasses
import math
import time
import weakref

import keras
import numpy as np
from keras import ops
from tqdm.auto import tqdm

from spikelib.baselines import mean_image_error
from spikelib.events import Events, event_width, to_events
from spikelib.loss import reconstruction_error, training_loss
from spikelib.optimizer import ReferenceAdam
from spikelib.stopping import epochs_without_improvement, window_flat

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


def _spike_times_events(model, times, rows):
    """Hidden and output spike times side by side, (batch, n_hidden + n_out)."""
    hidden = model.hidden(times, input_rows=rows, sorted_inputs=True)
    return ops.concatenate([hidden, model.reconstruction(hidden)], axis=-1)


# One compiled evaluation loop per model (a function shared by every model
# would be retraced for each, and TensorFlow warns about that).  The loop
# refers to its model weakly: a strong reference from a value of this
# dictionary would keep its key, the model, alive for the life of the process.
_compiled_loops = weakref.WeakKeyDictionary()


def _evaluation_loop(step_function, model, arrays, extra):
    """`_loop` compiled once for `model` (and retraced only for a new shape)."""
    loops = _compiled_loops.setdefault(model, {})
    if step_function not in loops:
        model_ref = weakref.ref(model)
        if keras.backend.backend() == "jax":
            from spikelib.training_jax import evaluation_loop
            loops[step_function] = evaluation_loop(step_function, model_ref)
        else:
            from spikelib.compiled import Compiled
            loops[step_function] = Compiled(
                lambda arrays, extra: _loop(step_function, model_ref(), arrays, extra))
    return np.asarray(loops[step_function](arrays, extra))


def _loop(step_function, model, arrays, extra):
    """`step_function(model, times, rows, *extra)` over the leading axis of
    (steps, step, ...) `arrays` = (times, rows, ...), in one compiled loop."""
    import tensorflow as tf
    times, rows, *per_example = arrays
    steps = tf.shape(times)[0]
    dtype = tf.as_dtype(model.compute_dtype)  # float64 under keras floatx float64

    def body(step, results):
        sliced = [array[step] for array in per_example]
        return step + 1, results.write(step, tf.cast(step_function(model, times[step], rows[step],
                                                                   *sliced, *extra), dtype))

    _, results = tf.while_loop(lambda step, _: step < steps, body,
                               (tf.constant(0), tf.TensorArray(dtype, size=steps)))
    return results.stack()


def _pad(array, size):
    """`array` with its first axis padded to `size` by repeating the last row."""
    missing = size - len(array)
    return array if missing == 0 else np.concatenate([array, np.repeat(array[-1:], missing, 0)])


def _batched(step_function, model, inputs, batch_size, per_example=(), extra=()):
    """`step_function` over padded batches of `inputs` (times or `Events`), concatenated.

    Each call of the compiled loop takes `batch_size` examples (rounded to
    whole slices of EVALUATION_STEP), padded when fewer are left: every call
    has one shape per event width, so a model compiles it once.
    """
    if len(inputs) == 0:
        return None
    events = inputs if isinstance(inputs, Events) else to_events(inputs)
    step = EVALUATION_STEP
    size = max(step, batch_size // step * step)
    results = []
    for start in range(0, len(events), size):
        stop = min(start + size, len(events))
        arrays = [_pad(a[start:stop], size) for a in (events.times, events.rows) + tuple(per_example)]
        arrays = [a.reshape(size // step, step, *a.shape[1:]) for a in arrays]
        result = _evaluation_loop(step_function, model, arrays, tuple(extra))
        results.append(result.reshape(size, *result.shape[2:])[:stop - start])
    return np.concatenate(results)


def spike_times_of(model, inputs, batch_size=EVALUATION_BATCH):
    """(hidden, output) spike times of `model` for encoded `inputs` (times or `Events`).

    Evaluation, prediction and embedding share this one compiled function.
    """
    both = _batched(_spike_times_events, model, inputs, batch_size)
    units = model.hidden.units
    if both is None:
        return np.zeros((0, units), np.float32), np.zeros((0, model.reconstruction.units),
                                                         np.float32)
    return both[:, :units], both[:, units:]


def evaluate(model, inputs, clean_times, latency, batch_size=EVALUATION_BATCH):
    """Per-example reconstruction error of `model` on encoded `inputs`, (n,).

    `inputs`: input spike times, or their `Events` (sorted once, e.g. for
    a data set evaluated after every epoch).
    """
    _, outputs = spike_times_of(model, inputs, batch_size)
    if len(outputs) == 0:
        return np.zeros(0, np.float32)
    return np.asarray(reconstruction_error(outputs, np.asarray(clean_times, np.float32),
                                           float(latency)))


def predict(model, inputs, batch_size=EVALUATION_BATCH):
    """Output spike times for encoded `inputs` (times or `Events`), (n, 784)."""
    return spike_times_of(model, inputs, batch_size)[1]


def embed(model, inputs, batch_size=EVALUATION_BATCH):
    """Hidden-layer spike times (the embedding) for encoded `inputs` (times or `Events`)."""
    return spike_times_of(model, inputs, batch_size)[0]


def _tf():
    import tensorflow as tf
    return tf


class Trainer:
    """Holds the two optimizers and the compiled training loop of one model."""

    def __init__(self, model, config):
        self.model = model
        self.latency = float(config.latency)
        self.batch_size = config.optimizer.batch_size
        self.weights_optimizer = ReferenceAdam(config.optimizer.learning_rate)
        self.pulses_optimizer = ReferenceAdam(config.optimizer.learning_rate_pulses)
        self.weights_optimizer.build(model.weight_variables())
        self.pulses_optimizer.build(model.pulse_variables())
        if keras.backend.backend() == "jax":
            from spikelib.training_jax import ChunkTrainer
            self._chunk, self._count = ChunkTrainer(self), np.int32
        else:
            from spikelib.compiled import Compiled
            self._chunk, self._count = Compiled(self._train_chunk), _tf().constant
        self._events_of = (None, None)

    def _train_step(self, times, rows, clean_times, example_weights):
        """One Adam step on a batch of event inputs; weighted per-example errors.

        `example_weights` (batch,) are 1, or 0 for the padding of a partial batch.
        """
        tf = _tf()
        weights, pulses = self.model.weight_variables(), self.model.pulse_variables()
        with tf.GradientTape() as tape:
            outputs = _forward_events(self.model, times, rows)
            # The model computes in its own dtype (float64 under keras floatx float64).
            clean_times = tf.cast(clean_times, outputs.dtype)
            example_weights = tf.cast(example_weights, outputs.dtype)
            loss = training_loss(outputs, clean_times, self.latency, example_weights)
        gradients = tape.gradient(loss, weights + pulses)
        self.weights_optimizer.apply(gradients[:len(weights)], weights)
        self.pulses_optimizer.apply(gradients[len(weights):], pulses)
        return reconstruction_error(outputs, clean_times, self.latency) * example_weights

    def _train_chunk(self, times, rows, clean_times, example_weights, n_steps):
        """The first `n_steps` batches of (steps, batch, ...) arrays; summed error."""
        tf = _tf()

        def body(step, total):
            errors = self._train_step(times[step], rows[step], clean_times[step],
                                      example_weights[step])
            return step + 1, total + tf.cast(tf.reduce_sum(errors), tf.float64)
        _, total = tf.while_loop(lambda step, _: step < n_steps, body,
                                 (tf.constant(0), tf.constant(0.0, tf.float64)))
        return total

    def _events(self, inputs):
        """Events of `inputs`, sorted once per data set (kept for the next epoch)."""
        if self._events_of[0] is not inputs:
            self._events_of = (inputs, to_events(inputs))
        return self._events_of[1]

    def _chunks(self, order):
        """Batches of `order` in chunks of (steps, batch) indices, with example weights.

        Every chunk has one shape, so the loop compiles once: a short chunk
        is padded with batches it does not run, a partial last batch with
        examples of weight 0.
        """
        steps = max(1, CHUNK_EXAMPLES // self.batch_size)
        full = len(order) // self.batch_size * self.batch_size
        batches = order[:full].reshape(-1, self.batch_size)
        chunks = [(batches[i:i + steps], self._weights(steps, batches[i:i + steps].size))
                  for i in range(0, len(batches), steps)]
        if full < len(order):
            rest = order[full:]
            chunks.append((_pad(rest, self.batch_size)[None], self._weights(steps, len(rest))))
        return chunks, steps

    def _weights(self, steps, n_examples):
        """Example weights of a chunk: 1 for its first `n_examples` examples, 0 for padding."""
        weights = np.zeros((steps, self.batch_size), np.float32)
        weights.reshape(-1)[:n_examples] = 1.0
        return weights

    def train_epoch(self, inputs, clean_times, rng, progress=None):
        """One pass over the data in a fresh random order; mean training error."""
        events = self._events(inputs)
        order = rng.permutation(len(inputs))
        chunks, steps = self._chunks(order)
        total, count = 0.0, 0
        for chunk, weights in chunks:
            padded = _pad(chunk, steps)
            total += float(self._chunk(events.times[padded], events.rows[padded],
                                       clean_times[padded], weights, self._count(len(chunk))))
            examples = int(weights.sum())
            count += examples
            if progress is not None:
                progress.update(examples)
        return total / max(count, 1)

    def optimizer_state(self):
        """Both optimizers' variables as arrays (for a checkpoint)."""
        return [[v.numpy() for v in optimizer.variables]
                for optimizer in (self.weights_optimizer, self.pulses_optimizer)]

    def restore_optimizer_state(self, state):
        for optimizer, values in zip((self.weights_optimizer, self.pulses_optimizer), state):
            for variable, value in zip(optimizer.variables, values):
                variable.assign(value)


@dataclasses.dataclass
class TrainingState:
    """Everything `fit` needs to go on after a finished epoch."""

    epoch: int
    history: list
    weights: list
    optimizer_state: list
    rng_state: dict
    best_weights: list | None
    best_error: float
    since_improvement: int
    stop_reason: str | None = None


def _stop_reason(budget, epoch, since_improvement, history):
    if budget.patience is not None:
        if budget.rule == "window":
            stalled = window_flat([record["validation_mse"] for record in history],
                                  budget.patience, budget.min_delta,
                                  [record["on_plateau"] for record in history])
        else:
            stalled = since_improvement >= budget.patience
        if stalled:
            return "patience"
    if epoch >= budget.epochs:
        return "max_epochs"
    return None


def plateau_error(budget, data):
    """Validation error below which a run has left the mean-image plateau (None: no rule).

    The mean image's error on the validation images is what a network that
    ignores its input achieves.
    """
    if budget.plateau is None:
        return None
    return budget.plateau * float(np.mean(mean_image_error(data.train_clean,
                                                           data.validation_clean)))


def evaluation_events(data):
    """Validation and test events of one width (one compiled evaluation per model)."""
    counts = [np.isfinite(x).sum(axis=1) for x in (data.validation_inputs, data.test_inputs)]
    width = min(event_width(np.concatenate(counts)), data.test_inputs.shape[1])
    return to_events(data.validation_inputs, width), to_events(data.test_inputs, width)


def fit(model, config, data, progress=True, on_epoch=None, state=None):
    """Train as `config.budget` says; keep the best-validation weights.

    `data` is a `PreparedData`.  `on_epoch(state)` is called with the
    `TrainingState` after every epoch (e.g. to checkpoint it); `state`
    resumes from such a checkpoint.  Returns (history, stop reason), the
    history a list of per-epoch dicts, with the model left holding the
    best weights.
    """
    budget = config.budget
    trainer = Trainer(model, config)
    rng = np.random.default_rng(config.seed)
    history, best, best_error, since_improvement, first = [], None, math.inf, 0, 1
    reason = None
    if state is not None:
        for variable, value in zip(model.weights, state.weights):
            variable.assign(value)
        trainer.restore_optimizer_state(state.optimizer_state)
        rng.bit_generator.state = state.rng_state
        history, best, best_error = list(state.history), state.best_weights, state.best_error
        since_improvement, first, reason = state.since_improvement, state.epoch + 1, state.stop_reason
    validation_events, test_events = evaluation_events(data)
    plateau = plateau_error(budget, data)
    epoch = first
    while reason is None:
        started = time.perf_counter()
        with tqdm(total=len(data.train_inputs), desc=f"epoch {epoch}/{budget.epochs}",
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
        record["on_plateau"] = plateau is not None and validation >= plateau
        since_improvement = epochs_without_improvement(validation, best_error, since_improvement,
                                                       budget.min_delta, plateau)
        if validation < best_error:
            best_error, best = validation, [w.numpy() for w in model.weights]
            record["best"] = True
        history.append(record)
        reason = _stop_reason(budget, epoch, since_improvement, history)
        if progress:
            tqdm.write(f"epoch {epoch}: train {train_error:.5f}  validation {validation:.5f}"
                       f"  test {test:.5f}  ({record['train_examples_per_second']:.0f} ex/s)")
        if on_epoch is not None:
            on_epoch(TrainingState(epoch, history, [w.numpy() for w in model.weights],
                                   trainer.optimizer_state(), rng.bit_generator.state, best,
                                   best_error, since_improvement, reason))
        epoch += 1
    if best is not None:
        for variable, value in zip(model.weights, best):
            variable.assign(value)
    return history, reason
