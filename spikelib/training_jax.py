"""The compiled training and evaluation loops under JAX (`KERAS_BACKEND=jax`).

`jax.jit` compiles pure functions, and Keras variables are state: inside
the compiled loops the model is called in a `keras.StatelessScope` that
maps its variables to values passed in, and both `ReferenceAdam`s update
through `stateless_apply`.  The new values are written back to the
variables after each chunk of batches, so the rest of `spikelib.training`
(checkpoints, best weights, evaluation) sees the same Keras objects as
under TensorFlow.  The step itself is the same `keras.ops` maths as
`Trainer._train_step`: forward pass, `training_loss`, gradient, Adam.
"""

import jax
import keras
import numpy as np
from keras import ops

from spikelib.loss import reconstruction_error, training_loss


def _values(variables):
    return [variable.value for variable in variables]


def _assign(variables, values):
    for variable, value in zip(variables, values):
        variable.assign(value)


def _forward(model, variables, values, times, rows):
    """Output spike times of `model` with `variables` taking `values`."""
    with keras.StatelessScope(state_mapping=list(zip(variables, values))):
        return model.reconstruction(model.hidden(times, input_rows=rows, sorted_inputs=True))


class ChunkTrainer:
    """`chunk(times, rows, clean_times, example_weights, n_steps)` -> summed error.

    Runs the first `n_steps` batches of (steps, batch, ...) arrays, one Adam
    step each, in one compiled loop, as `Trainer._train_chunk` does under
    TensorFlow, and writes the new weights and optimizer states back.  Its
    pure function `chunk(values, optimizer states, arrays..., n_steps)` is
    what `spikelib.training_many` maps over several runs.
    """

    def __init__(self, trainer):
        model, latency = trainer.model, trainer.latency
        weights = model.weight_variables()
        self.variables = weights + model.pulse_variables()
        self.optimizers = (trainer.weights_optimizer, trainer.pulses_optimizer)
        variables, optimizers, n_weights = self.variables, self.optimizers, len(weights)

        def loss_and_errors(values, times, rows, clean_times, example_weights):
            outputs = _forward(model, variables, values, times, rows)
            clean_times = ops.cast(clean_times, outputs.dtype)
            example_weights = ops.cast(example_weights, outputs.dtype)
            loss = training_loss(outputs, clean_times, latency, example_weights)
            return loss, reconstruction_error(outputs, clean_times, latency) * example_weights

        gradient = jax.grad(loss_and_errors, has_aux=True)

        def chunk(values, states, times, rows, clean_times, example_weights, n_steps):
            def body(step, carry):
                values, (weight_state, pulse_state), errors = carry
                grads, step_errors = gradient(values, times[step], rows[step],
                                              clean_times[step], example_weights[step])
                new_weights, weight_state = optimizers[0].stateless_apply(
                    weight_state, grads[:n_weights], values[:n_weights])
                new_pulses, pulse_state = optimizers[1].stateless_apply(
                    pulse_state, grads[n_weights:], values[n_weights:])
                errors = errors.at[step].set(ops.sum(step_errors))
                return list(new_weights) + list(new_pulses), (weight_state, pulse_state), errors

            errors = ops.zeros((times.shape[0],), "float32")
            return jax.lax.fori_loop(0, n_steps, body, (values, states, errors))

        self.chunk = chunk
        self._compiled = jax.jit(chunk)

    def __call__(self, times, rows, clean_times, example_weights, n_steps):
        states = tuple(_values(optimizer.variables) for optimizer in self.optimizers)
        values, states, errors = self._compiled(_values(self.variables), states, times, rows,
                                                clean_times, example_weights, n_steps)
        _assign(self.variables, values)
        for optimizer, state in zip(self.optimizers, states):
            _assign(optimizer.variables, state)
        return float(np.sum(np.asarray(errors, np.float64)))

    def tracing_count(self):
        """How many times the loop was traced (each trace is compiled once)."""
        return self._compiled._cache_size()


def evaluation_loop(step_function, model_ref):
    """`loop(arrays, extra)`: `step_function(model, times, rows, *per_example, *extra)`
    over the leading axis of (steps, step, ...) `arrays`, compiled once per shape.

    The model is held weakly (`model_ref`), as the TensorFlow loop holds it.
    """
    def loop(values, arrays, extra):
        model = model_ref()
        with keras.StatelessScope(state_mapping=list(zip(model.weights, values))):
            return jax.lax.map(
                lambda sliced: ops.cast(step_function(model, *sliced, *extra),
                                        model.compute_dtype), tuple(arrays))

    compiled = jax.jit(loop)
    return lambda arrays, extra: compiled(_values(model_ref().weights), arrays, extra)
