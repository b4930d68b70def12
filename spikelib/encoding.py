"""Images <-> spike times, the noise model and the latency targets.

See the model page: encoding, noise and loss.

A pixel byte b becomes the spike time t = 1 - b/256: bright pixels spike
early and black pixels (b = 0) never spike (+inf).  Wherever a time is used
as a value (noise, targets, loss) a silent input counts as 1.0.
"""

import numpy as np

from spikelib import validation

N_PIXELS = 784


def _numeric_array(name, values):
    """`values` as a numpy array of real numbers (ints or floats), else TypeError."""
    array = np.asarray(values)
    if array.dtype.kind not in "uif":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {array.dtype}")
    return array


def _as_flat_images(images):
    images = _numeric_array("images", images)
    if images.ndim == 3 and images.shape[1:] == (28, 28):
        images = images.reshape(len(images), N_PIXELS)
    if images.ndim != 2 or images.shape[1] != N_PIXELS:
        raise ValueError(f"images must have shape (n, 28, 28) or (n, {N_PIXELS}), "
                         f"got shape {images.shape}")
    if images.dtype != np.uint8 and images.size:
        if not np.all(np.isfinite(images)):
            bad = ~np.isfinite(images)
            kind = "NaN" if np.isnan(images[bad]).any() else "an infinite value"
            raise ValueError(f"images must be pixel bytes in 0..255, got {kind} at index "
                             f"{[int(i) for i in np.argwhere(bad)[0]]}")
        invalid = (images < 0) | (images > 255) | (images != np.round(images))
        if invalid.any():
            raise ValueError(f"images must be pixel bytes: integers in 0..255 (uint8), got "
                             f"{images[invalid][0].item()!r} at index "
                             f"{[int(i) for i in np.argwhere(invalid)[0]]}")
    return images.astype(np.float32)


def encode_images(images):
    """uint8 images (n, 28, 28) or (n, 784) -> spike times (n, 784), +inf for black."""
    pixels = _as_flat_images(images)
    return np.where(pixels > 0, 1.0 - pixels / 256.0, np.inf).astype(np.float32)


def as_values(times):
    """Spike times as values in [0, 1]: a silent (or late) input counts as 1.0."""
    return np.minimum(np.asarray(times, dtype=np.float32), 1.0)


def add_noise(times, factor, seed):
    """The paper's input noise: v -> clip(v + factor * n, 0, 1), n ~ Normal(1, 1).

    The mean of +1 delays or removes spikes; a result of 1 or more is silent.
    Drawn once per data set (at load time), from `seed`.
    `times`: encoded spike times (>= 0, +inf for silent; NaN and -inf are
    refused); `factor`: the noise factor in [0, 1].
    """
    factor = validation.check_real("factor (the noise factor)", factor, minimum=0.0, maximum=1.0)
    times = _numeric_array("times", times)
    validation.check_range("times", times, 0.0, np.inf, "spike times >= 0 (+inf for silent)")
    values = as_values(times)
    if factor == 0.0:
        return np.where(values >= 1.0, np.inf, values).astype(np.float32)
    noise = np.random.default_rng(seed).normal(1.0, 1.0, size=values.shape)
    noisy = np.clip(values + factor * noise, 0.0, 1.0)
    return np.where(noisy >= 1.0, np.inf, noisy).astype(np.float32)


def check_latency(latency):
    """The target latency L: a positive finite number; returns it as float."""
    return validation.check_real("latency", latency, minimum=0.0, strict=True)


def latency_targets(clean_times, latency):
    """Target output spike times: L + clean value (black pixels: L + 1)."""
    return check_latency(latency) + as_values(clean_times)


def decode_images(output_times, latency):
    """Output spike times -> pixel intensities in [0, 1], shape (n, 28, 28).

    pixel = 1 - (t - L), clipped to [0, 1]; silent outputs and outputs later
    than L + 1 are black.
    """
    latency = check_latency(latency)
    times = np.asarray(output_times, dtype=np.float64)
    pixels = np.where(np.isfinite(times), np.clip(1.0 - (times - latency), 0.0, 1.0), 0.0)
    return pixels.reshape(-1, 28, 28)
