"""Image encoding, noise model, targets and decoding (model spec §6, §7)."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from spikelib.encoding import (add_noise, as_values, decode_images, encode_images,
                               latency_targets)


def test_encoding_is_one_minus_byte_over_256_and_black_is_silent():
    images = np.array([[0, 1, 128, 255] + [0] * 780], dtype=np.uint8)
    times = encode_images(images)
    assert times.shape == (1, 784) and times.dtype == np.float32
    assert math.isinf(times[0, 0])
    np.testing.assert_array_equal(times[0, 1:4], [1 - 1 / 256, 0.5, 1 - 255 / 256])


@pytest.mark.parametrize("latency", [1.0, 2.0, 16.0])
def test_round_trip_through_outputs_firing_on_target(latency):
    images = np.random.default_rng(0).integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    targets = latency_targets(encode_images(images), latency)
    decoded = decode_images(targets, latency)
    np.testing.assert_array_equal(np.round(decoded * 256).astype(np.uint8), images)


def test_decoding_silent_and_late_outputs_are_black():
    times = np.full((1, 784), 3.5)
    times[0, 0] = np.inf
    times[0, 1] = 2.0  # exactly L + 1: value 1.0, black
    times[0, 2] = 1.25
    pixels = decode_images(times, 1.0).reshape(-1)
    assert pixels[0] == 0 and pixels[1] == 0 and pixels[3] == 0
    assert pixels[2] == pytest.approx(0.75)


def test_targets_count_black_as_one():
    times = encode_images(np.zeros((1, 784), np.uint8))
    np.testing.assert_array_equal(latency_targets(times, 4), np.full((1, 784), 5.0))


@pytest.mark.parametrize("factor", [0.2, 0.4, 0.8])
def test_noise_has_mean_plus_one(factor):
    """Silent and clipped shares follow Normal(1, 1) noise, not Normal(0, 1)."""
    n = 200_000
    times = np.full((n // 784 + 1, 784), 0.5, np.float32)
    noisy = add_noise(times, factor, seed=1).reshape(-1)
    silent = np.mean(np.isinf(noisy))
    expected_silent = 1 - norm.cdf(0.5 / factor - 1.0)
    assert silent == pytest.approx(expected_silent, abs=0.005)
    zero = np.mean(noisy == 0.0)
    assert zero == pytest.approx(norm.cdf(-0.5 / factor - 1.0), abs=0.005)
    finite = noisy[np.isfinite(noisy) & (noisy > 0)]
    assert finite.min() >= 0.0 and finite.max() < 1.0


def test_noise_on_black_pixels_revives_some_of_them():
    black = encode_images(np.zeros((300, 784), np.uint8))
    noisy = add_noise(black, 0.6, seed=3)
    assert np.mean(np.isinf(noisy)) == pytest.approx(norm.cdf(1.0), abs=0.005)


def test_noise_zero_is_identity_and_seeded():
    times = encode_images(np.random.default_rng(0).integers(0, 256, (5, 784), dtype=np.uint8))
    np.testing.assert_array_equal(add_noise(times, 0.0, seed=0), times)
    np.testing.assert_array_equal(add_noise(times, 0.4, seed=5), add_noise(times, 0.4, seed=5))
    assert not np.array_equal(add_noise(times, 0.4, seed=5), add_noise(times, 0.4, seed=6))


def test_as_values_counts_silent_as_one():
    np.testing.assert_array_equal(as_values(np.array([0.25, np.inf, 3.0])), [0.25, 1.0, 1.0])


@pytest.mark.parametrize("images, message", [
    (np.zeros((2, 27, 28), np.uint8), "shape"),
    (np.zeros((2, 783)), "shape"),
    (np.full((1, 784), np.nan), "NaN"),
    (np.full((1, 784), 300), "0..255"),
    (np.full((1, 784), -1), "0..255"),
    (np.full((1, 784), 0.5), "0..255"),
])
def test_bad_images_raise_clear_errors(images, message):
    with pytest.raises(ValueError, match=message):
        encode_images(images)


@pytest.mark.parametrize("factor", [-0.1, 1.5])
def test_noise_outside_unit_interval_is_rejected(factor):
    with pytest.raises(ValueError, match="noise"):
        add_noise(np.zeros((1, 784), np.float32), factor, seed=0)


@pytest.mark.parametrize("latency", [0.0, -1.0])
def test_non_positive_latency_is_rejected(latency):
    with pytest.raises(ValueError, match="latency"):
        latency_targets(np.zeros((1, 784), np.float32), latency)
    with pytest.raises(ValueError, match="latency"):
        decode_images(np.zeros((1, 784), np.float32), latency)
