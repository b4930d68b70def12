"""A fully connected layer of single-spike alpha neurons with sync pulses."""

import dataclasses
import math

import keras
import numpy as np
from keras import ops

from spikelib import validation
from spikelib.config import NeuronParameters
from spikelib.neuron import spike_times
from spikelib.pulses import Pulses


def initial_weight_sigma(n_pre, n_post, n_pulses):
    """Glorot-like scale of the initial weights (the model page, initial weights)."""
    return math.sqrt(2.0 / (n_post + n_pre + n_pulses))


class SpikingDense(keras.layers.Layer):
    """Maps input spike times (batch, n_in) to output spike times (batch, units).

    `neuron` is the neurons' parameter group (`NeuronParameters`: the alpha
    kernel and the reference gradient semantics of `spike_times`).  Weights
    from ordinary inputs start as Normal(weight_mean_multiplier * sigma,
    sigma), those from the pulses as Normal(pulse_weight_mean_multiplier *
    sigma, sigma).  `nonnegative_weights` keeps the ordinary (non-pulse)
    weights >= 0: the no-inhibition ablation.
    """

    def __init__(self, units, n_pulses, neuron, weight_mean_multiplier=0.0,
                 pulse_weight_mean_multiplier=0.0, nonnegative_weights=False, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        validation.check_float_dtype_name(f"the compute dtype of layer {self.name!r}",
                                          self.compute_dtype)
        self.units = validation.check_integer("units", units, minimum=0)
        if isinstance(neuron, dict):
            neuron = NeuronParameters(**neuron)
        if not isinstance(neuron, NeuronParameters):
            raise TypeError(f"neuron must be a NeuronParameters, got {neuron!r}")
        self.neuron = neuron
        self.weight_mean_multiplier = validation.check_real("weight_mean_multiplier",
                                                            weight_mean_multiplier)
        self.pulse_weight_mean_multiplier = validation.check_real(
            "pulse_weight_mean_multiplier", pulse_weight_mean_multiplier)
        if not isinstance(nonnegative_weights, (bool, np.bool_)):
            raise TypeError(f"nonnegative_weights must be True or False, got "
                            f"{nonnegative_weights!r}")
        self.nonnegative_weights = bool(nonnegative_weights)
        self.seed = seed if seed is None else validation.check_integer("seed", seed)
        self.pulses = Pulses(n_pulses)

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"inputs of {self.name!r} must be 2-D (batch, n_inputs) with a known "
                             f"n_inputs, got shape {tuple(input_shape)}")
        n_in, n_pulses = int(input_shape[-1]), self.pulses.n_pulses
        sigma = initial_weight_sigma(n_in, self.units, n_pulses)
        seeds = (None, None) if self.seed is None else (self.seed, self.seed + 1)
        self.pulses.build(input_shape)
        self.kernel = self.add_weight(
            shape=(n_in, self.units), name="kernel",
            initializer=keras.initializers.RandomNormal(
                self.weight_mean_multiplier * sigma, sigma, seed=seeds[0]),
            constraint=keras.constraints.NonNeg() if self.nonnegative_weights else None)
        if self.nonnegative_weights:
            self.kernel.assign(ops.maximum(self.kernel, 0.0))
        self.pulse_kernel = self.add_weight(
            shape=(n_pulses, self.units), name="pulse_kernel",
            initializer=keras.initializers.RandomNormal(
                self.pulse_weight_mean_multiplier * sigma, sigma, seed=seeds[1]))

    def call(self, inputs, input_rows=None, sorted_inputs=False):
        """`input_rows`: optional (batch, n) kernel row of each input (events);
        `sorted_inputs`: the inputs are ascending in every row (+inf last),
        as events are, so only the pulses need to be merged in."""
        self._check_call(inputs, input_rows)
        weights = ops.concatenate([self.kernel, self.pulse_kernel], axis=0)
        if input_rows is not None:
            n_pulses = self.pulses.n_pulses
            pulse_rows = ops.arange(n_pulses, dtype="int32") + ops.shape(self.kernel)[0]
            pulse_rows = ops.broadcast_to(pulse_rows[None, :], (ops.shape(inputs)[0], n_pulses))
            input_rows = ops.concatenate([ops.cast(input_rows, "int32"), pulse_rows], axis=1)
        neuron = self.neuron
        return spike_times(self.pulses(inputs), ops.cast(weights, inputs.dtype),
                           neuron.decay_rate, neuron.threshold,
                           neuron.clip_derivative, neuron.penalty_no_spike, input_rows=input_rows,
                           sorted_prefix=(inputs.shape[1] or 0) if sorted_inputs else 0)

    def _check_call(self, inputs, input_rows):
        """The arguments of `call` (values only where concrete, see `spikelib.validation`)."""
        validation.check_float_dtype("inputs", inputs)
        shape = validation.check_rank("inputs", inputs, 2, "(batch, n_inputs)")
        n_in = self.kernel.shape[0]
        if input_rows is None:
            if shape[1] != n_in:
                raise ValueError(f"inputs of {self.name!r} must have {n_in} columns (the layer "
                                 f"was built for {n_in} inputs), got shape {shape}")
            return
        validation.check_integer_dtype("input_rows", input_rows)
        rows_shape = validation.shape_of(input_rows)
        if rows_shape is None or len(rows_shape) != 2 or any(
                a is not None and b is not None and a != b for a, b in zip(rows_shape, shape)):
            raise ValueError(f"input_rows must have the shape of inputs {shape}, got {rows_shape}")
        validation.check_index("input_rows", input_rows, n_in)

    @property
    def pulse_times(self):
        return self.pulses.times

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "n_pulses": self.pulses.n_pulses, "neuron": dataclasses.asdict(self.neuron),
                "weight_mean_multiplier": self.weight_mean_multiplier,
                "pulse_weight_mean_multiplier": self.pulse_weight_mean_multiplier,
                "nonnegative_weights": self.nonnegative_weights, "seed": self.seed}
