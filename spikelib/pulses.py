"""Synchronisation pulses: extra inputs that spike at learnable times.

Each spiking layer gets `n_pulses` presynaptic "neurons" of its own whose
spike times are trained (with their own learning rate) like weights.  They
start evenly spaced inside the input range, k / (n_pulses + 1), and are kept
non-negative (the model page, pulses).
"""

import keras
from keras import ops

from spikelib import validation


class Pulses(keras.layers.Layer):
    """Appends `n_pulses` learnable spike times to every example's inputs."""

    def __init__(self, n_pulses, **kwargs):
        super().__init__(**kwargs)
        self.n_pulses = validation.check_integer("n_pulses", n_pulses, minimum=0)

    def build(self, input_shape):
        initial = [(k + 1) / (self.n_pulses + 1) for k in range(self.n_pulses)]
        self.times = self.add_weight(
            shape=(self.n_pulses,), name="times",
            initializer=keras.initializers.Constant(initial),
            constraint=keras.constraints.NonNeg())

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        times = ops.broadcast_to(ops.cast(self.times, inputs.dtype)[None, :], (batch, self.n_pulses))
        return ops.concatenate([inputs, times], axis=1)

    def get_config(self):
        return {**super().get_config(), "n_pulses": self.n_pulses}
