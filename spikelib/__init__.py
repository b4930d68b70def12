"""spikelib: the spiking autoencoder with temporal coding of Comşa et al. (2021)."""

from spikelib.autoencoder import SpikingAutoencoder
from spikelib.config import RunConfig, grid_row, paper_config, paper_grid
from spikelib.encoding import (add_noise, decode_images, encode_images,
                               latency_targets)
from spikelib.lambertw import lambertw
from spikelib.layer import SpikingDense
from spikelib.loss import reconstruction_error, training_loss
from spikelib.neuron import spike_times
from spikelib.optimizer import ReferenceAdam
from spikelib.pulses import Pulses

__all__ = ["SpikingAutoencoder", "RunConfig", "grid_row", "paper_config", "paper_grid",
           "add_noise", "decode_images", "encode_images", "latency_targets", "lambertw",
           "SpikingDense", "reconstruction_error", "training_loss", "spike_times",
           "ReferenceAdam", "Pulses"]
