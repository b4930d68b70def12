"""spikelib: the spiking autoencoder with temporal coding of Comşa et al. (2021).

The names below are imported on first use, so that `python -m spikelib`
and the configuration modules start without loading TensorFlow.
"""

import importlib

_EXPORTS = {
    "SpikingAutoencoder": "spikelib.autoencoder", "RunConfig": "spikelib.config",
    "grid_row": "spikelib.config", "paper_config": "spikelib.config",
    "paper_grid": "spikelib.config", "add_noise": "spikelib.encoding",
    "decode_images": "spikelib.encoding", "encode_images": "spikelib.encoding",
    "latency_targets": "spikelib.encoding", "lambertw": "spikelib.lambertw",
    "SpikingDense": "spikelib.layer", "reconstruction_error": "spikelib.loss",
    "training_loss": "spikelib.loss", "spike_times": "spikelib.neuron",
    "ReferenceAdam": "spikelib.optimizer", "Pulses": "spikelib.pulses",
    "Run": "spikelib.runs", "plan": "spikelib.sections", "run_plan": "spikelib.runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'spikelib' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
