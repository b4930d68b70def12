"""The spiking autoencoder: 784 inputs -> n_hidden spiking neurons -> 784 outputs.

Both layers are `SpikingDense` layers with their own synchronisation
pulses.  The hidden spike times (pulses excluded) are the embedding; the
output spike times, minus the target latency, are the reconstruction.
"""

import dataclasses

import keras
from keras import ops

from spikelib.encoding import N_PIXELS
from spikelib.layer import SpikingDense


class SpikingAutoencoder(keras.Model):
    """A single-hidden-layer autoencoder of single-spike alpha neurons."""

    def __init__(self, n_hidden, n_pulses, neuron, nonpulse_weight_mean_multiplier,
                 pulse_weight_mean_multiplier, nonnegative_weights=False, seed=0,
                 n_outputs=N_PIXELS, **kwargs):
        super().__init__(**kwargs)
        shared = dict(n_pulses=n_pulses, neuron=neuron,
                      weight_mean_multiplier=nonpulse_weight_mean_multiplier,
                      pulse_weight_mean_multiplier=pulse_weight_mean_multiplier,
                      nonnegative_weights=nonnegative_weights)
        self.hidden = SpikingDense(n_hidden, seed=seed, name="hidden", **shared)
        self.reconstruction = SpikingDense(n_outputs, seed=seed + 2, name="output", **shared)
        self.build((None, n_outputs))

    @classmethod
    def from_run_config(cls, config):
        """The network of `config`: its neuron and network groups, and its seed."""
        return cls(**dataclasses.asdict(config.network), neuron=config.neuron, seed=config.seed)

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.reconstruction.build((input_shape[0], self.hidden.units))
        self.built = True

    def embed(self, input_times):
        """Hidden-layer spike times (batch, n_hidden): the embedding."""
        return self.hidden(ops.convert_to_tensor(input_times))

    def call(self, input_times):
        """Output spike times (batch, 784) for input spike times (batch, 784)."""
        return self.reconstruction(self.hidden(input_times))

    def pulse_variables(self):
        return [self.hidden.pulse_times, self.reconstruction.pulse_times]

    def weight_variables(self):
        return [layer_weight for layer in (self.hidden, self.reconstruction)
                for layer_weight in (layer.kernel, layer.pulse_kernel)]
