"""spikelib.neuron.spike_times: forward pass and custom gradient.

Independent checks: the plain sequential reference (tests/reference.py),
the time-stepped simulation (spikelib.simulate), central finite differences
and hand-derived values for the clip / no-spike-penalty semantics.

Many small random layers are evaluated in one call by packing them: each
layer's examples are rows of their own, its inputs the first columns (+inf,
i.e. silent, beyond them) and its neurons weight columns of their own (0 in
the rows beyond its inputs).  A layer's block (its rows, its neurons) is then
computed as it would be alone; the other blocks of its rows are not read.
Layers in one pack share the decay rate and threshold.

spike_times has two formulations, chosen by the number of inputs (dense up
to neuron.DENSE_LIMIT, sorted prefix sums above).  Padding a layer with
silent inputs (zero weights) changes nothing, so the checks run both ways:
"narrow" (at most DENSE_LIMIT inputs) and "wide" (padded beyond it).  The
sorted path's prefix sums have a fast form for the usual spans and an
overflow-safe one for any span (a `cond`); "safe" is "wide" with the safe
form forced (neuron._ALWAYS_SAFE), so both are checked on every case.

The tests run under TensorFlow and under JAX (float64 there needs
JAX_ENABLE_X64=1): gradients are taken by `spikelib.autodiff`.  Those marked
`heavy` evaluate layers of many shapes; eager JAX compiles every op anew for
each shape, so under JAX they take very long (`make test-jax` leaves them out).
"""

import contextlib
import math

import keras
import numpy as np
import pytest
import scipy.special
from keras import ops

from spikelib import neuron
from spikelib.autodiff import tensor, value_and_gradient
from spikelib.config import NeuronParameters
from spikelib.neuron import spike_times
from spikelib.simulate import membrane_potential, possibly_missed, simulate_spike_times

try:
    import reference
except ImportError:  # tests/ imported as a package
    from tests import reference

# ----------------------------------------------------------------------------
# helpers


NARROW = getattr(neuron, "DENSE_LIMIT", 128)
WIDE = NARROW + 72
LAYOUTS = ["narrow", "wide", "safe"]


@contextlib.contextmanager
def prefix_form(layout):
    """For layout "safe", the overflow-safe prefix sums on every input."""
    previous = neuron._ALWAYS_SAFE
    neuron._ALWAYS_SAFE = layout == "safe"
    try:
        yield
    finally:
        neuron._ALWAYS_SAFE = previous


def widen(inputs, weights, width=WIDE):
    """Pad to `width` inputs with silent inputs of zero weight."""
    inputs, weights = np.atleast_2d(np.asarray(inputs, np.float64)), np.asarray(weights, np.float64)
    extra = max(width - inputs.shape[1], 0)
    return (np.pad(inputs, ((0, 0), (0, extra)), constant_values=np.inf),
            np.pad(weights, ((0, extra), (0, 0))))


def run(inputs, weights, decay_rate, threshold, dtype="float64", layout="narrow", **kwargs):
    """spike_times on numpy arrays, as a float64 numpy array."""
    if layout != "narrow":
        inputs, weights = widen(inputs, weights)
    with prefix_form(layout):
        out = spike_times(tensor(inputs, dtype), tensor(weights, dtype), decay_rate,
                          threshold, **kwargs)
    return np.asarray(ops.convert_to_numpy(out), np.float64)


def gradients(inputs, weights, decay_rate, threshold, upstream, layout="narrow", **kwargs):
    """d/d(inputs, weights) of sum(upstream * t) over the neurons that fired
    (for layout "wide": of the padded layer, cut back to the original shapes)."""
    n_in = np.shape(weights)[0]
    if layout != "narrow":
        inputs, weights = widen(inputs, weights)
    with prefix_form(layout):
        d_inputs, d_weights = _gradients(inputs, weights, decay_rate, threshold, upstream,
                                         **kwargs)
    return d_inputs[:, :n_in], d_weights[:n_in]


def _gradients(inputs, weights, decay_rate, threshold, upstream, **kwargs):
    def loss(inputs, weights):
        t = spike_times(inputs, weights, decay_rate, threshold, **kwargs)
        return ops.sum(ops.where(ops.isfinite(t), ops.multiply(upstream, t), 0.0))
    _, (d_inputs, d_weights) = value_and_gradient(loss, tensor(inputs, "float64"),
                                                  tensor(weights, "float64"))
    return d_inputs, d_weights


def pack(layers):
    """[(inputs, weights)] packed into one layer: rows and neurons of their own
    for each, inputs in the leading columns, silent with weight 0 beyond."""
    rows = sum(t.shape[0] for t, _ in layers)
    n_in = max(t.shape[1] for t, _ in layers)
    n_out = sum(w.shape[1] for _, w in layers)
    inputs, weights = np.full((rows, n_in), np.inf), np.zeros((n_in, n_out))
    blocks, r, o = [], 0, 0
    for t, w in layers:
        (b, n), m = t.shape, w.shape[1]
        inputs[r:r + b, :n], weights[:n, o:o + m] = t, w
        blocks.append((slice(r, r + b), slice(o, o + m)))
        r, o = r + b, o + m
    return inputs, weights, blocks


def run_packed(layers, decay_rate, threshold, layout="narrow"):
    """spike_times of every (inputs, weights) layer, computed in one call."""
    inputs, weights, blocks = pack(layers)
    assert layout != "narrow" or inputs.shape[1] <= NARROW
    out = run(inputs, weights, decay_rate, threshold, layout=layout)
    return [out[rows, cols] for rows, cols in blocks]


def random_times(rng, batch, n_in):
    """Input times: continuous, quantised to k/256 (ties), coarse k/8 with a
    large offset, with silent inputs and some all-silent examples."""
    mode = rng.integers(3)
    if mode == 0:
        times = rng.uniform(0.0, 1.0, (batch, n_in))
    elif mode == 1:
        times = rng.integers(0, 256, (batch, n_in)) / 256.0
    else:
        times = rng.integers(0, 8, (batch, n_in)) / 8.0 + rng.uniform(0.0, 20.0)
    times[rng.uniform(size=times.shape) < rng.uniform(0.0, 0.6)] = np.inf
    times[rng.uniform(size=batch) < 0.08] = np.inf
    return times


def random_weights(rng, n_in, n_out, decay_rate, threshold):
    """Mixed-sign weights scaled so that about half the neurons fire.

    One input of weight w peaks at w / (K e), so K e theta is the scale of a
    weight that alone reaches threshold.
    """
    scale = decay_rate * math.e * threshold * rng.uniform(0.5, 3.0) / math.sqrt(n_in)
    return rng.normal(rng.uniform(-0.5, 1.0) * scale, scale, (n_in, n_out))


def random_layer(rng, decay_rate, threshold, max_in=40, max_out=8, max_batch=6):
    n_in, n_out = int(rng.integers(1, max_in + 1)), int(rng.integers(1, max_out + 1))
    batch = int(rng.integers(1, max_batch + 1))
    return (random_times(rng, batch, n_in),
            random_weights(rng, n_in, n_out, decay_rate, threshold))


def random_constants(rng):
    return float(rng.uniform(0.1, 2.0)), float(rng.uniform(0.15, 1.5))


# ----------------------------------------------------------------------------
# forward pass vs the sequential reference


@pytest.fixture(scope="module")
def reference_sweep():
    """2 000 random layers: (inputs, weights, K, theta, {layout: code}, reference,
    details), each layer evaluated in a narrow, a wide and a wide pack with
    the overflow-safe prefix sums."""
    rng = np.random.default_rng(2021)
    cases = []
    for _ in range(200):  # 10 layers per (K, theta), one call per layout
        decay_rate, threshold = random_constants(rng)
        layers = [random_layer(rng, decay_rate, threshold) for _ in range(10)]
        outs = {layout: run_packed(layers, decay_rate, threshold, layout) for layout in LAYOUTS}
        for i, (inputs, weights) in enumerate(layers):
            expected, details = reference.layer(inputs, weights, decay_rate, threshold)
            cases.append((inputs, weights, decay_rate, threshold,
                          {layout: out[i] for layout, out in outs.items()}, expected, details))
    return cases


@pytest.mark.heavy
@pytest.mark.parametrize("layout", LAYOUTS)
def test_packing_is_transparent(layout):
    """A packed evaluation equals the separate ones (up to rounding)."""
    rng = np.random.default_rng(0)
    layers = [random_layer(rng, 0.7, 0.5) for _ in range(3)]
    for (inputs, weights), packed in zip(layers, run_packed(layers, 0.7, 0.5, layout)):
        alone = run(inputs, weights, 0.7, 0.5, layout=layout)
        np.testing.assert_array_equal(np.isfinite(packed), np.isfinite(alone))
        np.testing.assert_allclose(packed, alone, rtol=1e-13)


@pytest.mark.heavy
@pytest.mark.parametrize("layout", LAYOUTS)
def test_matches_sequential_reference(reference_sweep, layout):
    assert len(reference_sweep) >= 2000
    worst = 0.0
    for inputs, weights, k, theta, outs, expected, _ in reference_sweep:
        out = outs[layout]
        fired = np.isfinite(expected)
        np.testing.assert_array_equal(np.isfinite(out), fired)
        assert np.all(out[~fired] == np.inf)
        error = np.abs(out[fired] - expected[fired]) / np.maximum(1.0, np.abs(expected[fired]))
        worst = max(worst, error.max(initial=0.0))
    print(f"sequential reference ({layout}): max relative error {worst:.2e}")
    assert worst <= 1e-9, worst


@pytest.mark.heavy
def test_sweep_covers_the_hard_situations(reference_sweep):
    """The random layers include every situation the closed form must handle."""
    counts = dict(neurons=0, fired=0, silent=0, prevented=0, silenced_by_inhibition=0,
                  fired_with_tied_inputs=0, all_silent_examples=0)
    shapes = {(w.shape[0], w.shape[1]) for _, w, *_ in reference_sweep}
    assert {n for n, _ in shapes} == set(range(1, 41))
    assert {n for _, n in shapes} == set(range(1, 9))
    for inputs, _, _, _, _, expected, details in reference_sweep:
        counts["all_silent_examples"] += int(np.sum(~np.isfinite(inputs).any(axis=1)))
        for b, row in enumerate(details):
            for spike in row:
                counts["neurons"] += 1
                fired = math.isfinite(spike["time"])
                counts["fired" if fired else "silent"] += 1
                counts["prevented"] += spike["prevented"]
                counts["silenced_by_inhibition"] += spike["prevented"] and not fired
                used = inputs[b, spike["used"]]
                counts["fired_with_tied_inputs"] += fired and len(np.unique(used)) < len(used)
    print(counts)
    assert counts["fired"] > 0.3 * counts["neurons"], counts
    assert counts["silent"] > 0.2 * counts["neurons"], counts
    assert counts["prevented"] >= 200, counts
    assert counts["silenced_by_inhibition"] >= 50, counts
    assert counts["fired_with_tied_inputs"] >= 500, counts
    assert counts["all_silent_examples"] >= 100, counts


@pytest.mark.parametrize("layout", LAYOUTS)
def test_inhibition_cancels_a_pending_crossing(layout):
    """Alone, input 0 reaches theta at t_c; an inhibitory input at t_c - 0.1
    arrives first and keeps the neuron silent."""
    k, theta = 1.0, 0.3
    w0 = 1.0  # peak 1/e = 0.37 > theta
    t_c = -float(scipy.special.lambertw(-k * theta / w0).real) / k
    alone = run([[0.0, np.inf]], [[w0], [-5.0]], k, theta, layout=layout)
    assert alone[0, 0] == pytest.approx(t_c, rel=1e-12)
    assert run([[0.0, t_c - 0.1]], [[w0], [-5.0]], k, theta, layout=layout)[0, 0] == np.inf
    # The inhibitory input at the same time but after the crossing changes nothing.
    assert run([[0.0, t_c + 0.1]], [[w0], [-5.0]], k, theta, layout=layout)[0, 0] == pytest.approx(t_c, rel=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_touching_threshold_at_the_peak(layout):
    """One input at t0 with w = K e theta: V peaks at t0 + 1/K with value
    exactly theta (x = -1/e, W = -1), which counts as reaching it."""
    t0 = 0.25
    assert run([[t0]], [[math.e]], 1.0, 1.0, layout=layout)[0, 0] == pytest.approx(
        t0 + 1.0, abs=1e-6)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_nearly_touching_threshold(layout):
    """A weight 1e-9 above touching fires just before the peak (branch-point
    series of W0); 1e-9 below never fires."""
    t0 = 0.25
    for k, theta in [(0.5, 0.8), (1.7, 0.3)]:
        touch = k * math.e * theta
        # W0(-(1 - d)/e) = -1 + sqrt(2d) - 2d/3 + O(d^1.5)
        assert run([[t0]], [[touch * (1 + 1e-9)]], k, theta, layout=layout)[0, 0] == pytest.approx(
            t0 + (1.0 - math.sqrt(2e-9) + 2e-9 / 3) / k, abs=1e-9)
        assert run([[t0]], [[touch * (1 - 1e-9)]], k, theta, layout=layout)[0, 0] == np.inf


@pytest.mark.parametrize("layout", LAYOUTS)
def test_no_spike_cases(layout):
    inputs = np.array([[0.1, 0.2, 0.3], [np.inf, np.inf, np.inf]])
    weights = np.array([[-1.0, 0.1], [-2.0, 0.1], [0.5, 0.1]])  # inhibited; too weak
    assert np.all(run(inputs, weights, 1.0, 0.5, layout=layout) == np.inf)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_single_input_closed_form(layout):
    """One input: t* = t0 - W0(-K theta / w) / K, by hand."""
    k, theta, w, t0 = 0.8, 0.6, 2.5, 0.4
    expected = t0 - scipy.special.lambertw(-k * theta / w).real / k
    assert run([[t0]], [[w]], k, theta, layout=layout)[0, 0] == pytest.approx(expected, rel=1e-13)


# ----------------------------------------------------------------------------
# forward pass vs the time-stepped simulation


@pytest.mark.heavy
def test_matches_time_stepped_simulation():
    """Several hundred layers against spikelib.simulate (dt = 0.005).

    A grid can miss a crossing narrower than its step; a neuron is compared
    only when `possibly_missed` rules that out (`ambiguous` otherwise,
    asserted rare), and when the crossing is not at the window's end.
    """
    rng = np.random.default_rng(7)
    dt, compared, ambiguous, worst = 0.005, 0, 0, 0.0
    for group in range(30):
        k, theta = random_constants(rng)
        layers = [random_layer(rng, k, theta, max_in=20, max_out=6, max_batch=4)
                  for _ in range(10)]
        outs = run_packed(layers, k, theta, layout="wide" if group % 2 else "narrow")
        for (inputs, weights), out in zip(layers, outs):
            finite = inputs[np.isfinite(inputs)]
            t_max = (finite.max() if finite.size else 0.0) + 5.0 / k
            simulated = simulate_spike_times(inputs, weights, k, theta, t_max, dt)
            clear = ~possibly_missed(inputs, weights, k, theta, t_max, dt)
            clear &= ~((out > t_max - dt) & (out < np.inf))  # crossing at the window's end
            ambiguous += np.sum(~clear)
            compared += np.sum(clear)
            expected = np.where(out <= t_max, out, np.inf)
            np.testing.assert_array_equal(np.isfinite(simulated[clear]), np.isfinite(expected[clear]))
            both = clear & np.isfinite(expected)
            worst = max(worst, np.abs(simulated[both] - expected[both]).max(initial=0.0))
    print(f"simulation: {compared} compared, {ambiguous} ambiguous, max error {worst:.2e}")
    assert compared >= 2000
    assert ambiguous <= 0.01 * (compared + ambiguous), (ambiguous, compared)
    assert worst <= 1e-9, worst


def test_simulation_flags_a_crossing_narrower_than_the_grid():
    """w 1e-6 above touching: V >= theta for only ~2.8e-3 around the peak at
    t0 + 1/K, between two grid points of step 0.01.  The coarse grid misses
    it and says so; a fine grid finds the closed-form time."""
    k, theta, t0 = 1.0, 0.5, 0.105
    weights = [[k * math.e * theta * (1 + 1e-6)]]
    closed_form = run([[t0]], weights, k, theta)[0, 0]
    # W0(-(1 - d)/e) = -1 + sqrt(2d) - 2d/3 + O(d^1.5), here d = 1e-6 to first order
    assert closed_form == pytest.approx(t0 + 1 - math.sqrt(2e-6) + 2e-6 / 3, abs=1e-8)
    assert simulate_spike_times([[t0]], weights, k, theta, 3.0, 0.01)[0, 0] == np.inf
    assert possibly_missed([[t0]], weights, k, theta, 3.0, 0.01)[0, 0]
    fine = simulate_spike_times([[t0]], weights, k, theta, 3.0, 1e-4)[0, 0]
    assert not possibly_missed([[t0]], weights, k, theta, 3.0, 1e-4)[0, 0]
    assert fine == pytest.approx(closed_form, abs=1e-12)


def test_membrane_potential_by_hand():
    """Two inputs, one silent: V = w (t - t0) e^{-K (t - t0)} after t0, 0 before."""
    grid = np.array([0.0, 0.3, 0.5, 1.0, 2.5])
    v = membrane_potential(np.array([0.3, np.inf]), np.array([[2.0, -1.0], [5.0, 5.0]]), 0.7, grid)
    elapsed = np.maximum(grid - 0.3, 0.0)
    np.testing.assert_allclose(v[0], 2.0 * elapsed * np.exp(-0.7 * elapsed), rtol=1e-15)
    np.testing.assert_allclose(v[1], -v[0] / 2.0, rtol=1e-15)
    assert v.shape == (2, 5)


def test_simulation_accepts_a_single_example():
    weights = np.array([[1.0, 0.2], [0.8, -0.4]])
    single = simulate_spike_times(np.array([0.1, 0.3]), weights, 1.0, 0.4, 6.0, 0.01)
    batch = simulate_spike_times(np.array([[0.1, 0.3]]), weights, 1.0, 0.4, 6.0, 0.01)
    assert single.shape == (2,)
    np.testing.assert_array_equal(single, batch[0])


# ----------------------------------------------------------------------------
# gradients


def finite_differences(inputs, weights, k, theta, upstream, eps):
    """Central differences of sum(upstream * t over fired neurons), and whether
    every +-eps perturbation kept the same neurons firing.

    Perturbed weights become extra neurons (columns) and perturbed inputs
    extra examples (rows), so all of them take two spike_times calls.
    """
    batch, n_in = inputs.shape
    n_out = weights.shape[1]
    fired = np.isfinite(run(inputs, weights, k, theta))
    steps = np.stack([np.eye(n_in) * eps, -np.eye(n_in) * eps], axis=1)  # (n_in, 2, n_in)
    columns = weights.T[:, None, None, :] + steps[None]  # (n_out, n_in, 2, n_in)
    out = run(inputs, columns.reshape(-1, n_in).T, k, theta).reshape(batch, n_out, n_in, 2)
    same = np.all(np.isfinite(out) == fired[:, :, None, None])
    value = np.where(np.isfinite(out), upstream[:, :, None, None] * out, 0.0).sum(axis=0)
    d_weights = ((value[..., 0] - value[..., 1]) / (2 * eps)).T
    rows = inputs[:, None, None, :] + steps[None]  # (batch, n_in, 2, n_in)
    out = run(rows.reshape(-1, n_in), weights, k, theta).reshape(batch, n_in, 2, n_out)
    same &= np.all(np.isfinite(out) == fired[:, None, None, :])
    value = np.where(np.isfinite(out), upstream[:, None, None, :] * out, 0.0).sum(axis=3)
    d_inputs = (value[..., 0] - value[..., 1]) / (2 * eps)
    return np.where(np.isfinite(inputs), d_inputs, 0.0), d_weights, same


def reference_gradients(inputs, weights, k, upstream, details):
    d_inputs, d_weights = np.zeros(inputs.shape), np.zeros(weights.shape)
    for b, row in enumerate(details):
        for j, spike in enumerate(row):
            d_w, d_t = reference.derivatives(inputs[b], weights[:, j], k, spike)
            d_weights[:, j] += upstream[b, j] * d_w
            d_inputs[b] += upstream[b, j] * d_t
    return d_inputs, d_weights


def _smooth_here(details):
    """No fired neuron sits within 1e-4 of an input time (where the accepted
    candidate could switch) or near the touching point (W close to -1)."""
    return all(spike["margin"] > 1e-4 and spike["branch_gap"] > 1e-2
               for row in details for spike in row if math.isfinite(spike["time"]))


@pytest.mark.heavy
def test_gradients_match_finite_differences_and_formula():
    rng = np.random.default_rng(11)
    checked, skipped = 0, 0
    worst = dict(fd_weights=0.0, fd_inputs=0.0, formula_weights=0.0, formula_inputs=0.0,
                 wide_vs_narrow=0.0)
    while checked < 40:
        k, theta = random_constants(rng)
        n_in, n_out, batch = (int(rng.integers(1, n)) for n in (9, 4, 4))
        inputs = rng.uniform(0.0, 1.0, (batch, n_in))
        inputs[rng.uniform(size=inputs.shape) < 0.2] = np.inf
        scale = k * math.e * theta * rng.uniform(1.0, 3.0) / math.sqrt(n_in)
        weights = rng.normal(0.5 * scale, scale, (n_in, n_out))
        upstream = rng.normal(size=(batch, n_out))
        expected, details = reference.layer(inputs, weights, k, theta)
        if not np.isfinite(expected).any() or not _smooth_here(details):
            skipped += 1
            continue
        fd_inputs, fd_weights, same = finite_differences(inputs, weights, k, theta, upstream, 1e-6)
        if not same:
            skipped += 1
            continue
        checked += 1
        d_inputs, d_weights = gradients(inputs, weights, k, theta, upstream)
        wide_inputs, wide_weights = gradients(inputs, weights, k, theta, upstream, layout="wide")
        safe_inputs, safe_weights = gradients(inputs, weights, k, theta, upstream, layout="safe")
        ref_inputs, ref_weights = reference_gradients(inputs, weights, k, upstream, details)
        assert np.all(d_inputs[~np.isfinite(inputs)] == 0.0)
        scale_w, scale_t = 1.0 + np.abs(ref_weights).max(), 1.0 + np.abs(ref_inputs).max()
        worst["fd_weights"] = max(worst["fd_weights"], np.abs(d_weights - fd_weights).max() / scale_w)
        worst["fd_inputs"] = max(worst["fd_inputs"], np.abs(d_inputs - fd_inputs).max() / scale_t)
        worst["formula_weights"] = max(worst["formula_weights"],
                                       np.abs(d_weights - ref_weights).max() / scale_w)
        worst["formula_inputs"] = max(worst["formula_inputs"],
                                      np.abs(d_inputs - ref_inputs).max() / scale_t)
        worst["wide_vs_narrow"] = max(worst["wide_vs_narrow"],
                                      np.abs(wide_weights - d_weights).max() / scale_w,
                                      np.abs(wide_inputs - d_inputs).max() / scale_t,
                                      np.abs(safe_weights - d_weights).max() / scale_w,
                                      np.abs(safe_inputs - d_inputs).max() / scale_t)
    print(f"gradients: {checked} cases checked, {skipped} skipped;",
          {key: f"{value:.2e}" for key, value in worst.items()})
    assert skipped <= checked, (skipped, checked)
    assert worst["fd_weights"] <= 1e-6 and worst["fd_inputs"] <= 1e-6, worst
    assert worst["formula_weights"] <= 1e-12 and worst["formula_inputs"] <= 1e-12, worst
    assert worst["wide_vs_narrow"] <= 1e-12, worst


@pytest.mark.parametrize("layout", LAYOUTS)
def test_single_input_derivatives_by_hand(layout):
    """One input at t0: t* = t0 - W/K, so dt*/dt0 = 1 and
    dt*/dw = W / (K w (1 + W)) (model spec §3 with A = w e^{K t0}, B = A t0)."""
    k, theta, w, t0, up = 0.8, 0.6, 2.5, 0.4, 1.7
    lam = scipy.special.lambertw(-k * theta / w).real
    d_inputs, d_weights = gradients([[t0]], [[w]], k, theta, np.array([[up]]), layout=layout)
    assert d_inputs[0, 0] == pytest.approx(up, rel=1e-12)
    assert d_weights[0, 0] == pytest.approx(up * lam / (k * w * (1 + lam)), rel=1e-10)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_clip_derivative(layout):
    """Close to touching, dt*/dw = W/(K w (1+W)) is large and negative: it is
    clipped to -c before the upstream factor; dt*/dt0 = 1 is clipped to c."""
    k, theta, t0, up, clip = 1.0, 0.5, 0.2, -3.0, 0.5
    w = k * math.e * theta * (1 + 1e-4)
    lam = scipy.special.lambertw(-k * theta / w).real
    assert lam / (k * w * (1 + lam)) < -10 * clip
    d_inputs, d_weights = gradients([[t0]], [[w]], k, theta, np.array([[up]]),
                                    clip_derivative=clip, layout=layout)
    assert d_weights[0, 0] == pytest.approx(up * -clip, rel=1e-12)
    assert d_inputs[0, 0] == pytest.approx(up * clip, rel=1e-12)
    # A clip above both derivatives changes nothing.
    d_inputs, d_weights = gradients([[t0]], [[w]], k, theta, np.array([[up]]),
                                    clip_derivative=1e6, layout=layout)
    assert d_weights[0, 0] == pytest.approx(up * lam / (k * w * (1 + lam)), rel=1e-8)
    assert d_inputs[0, 0] == pytest.approx(up, rel=1e-10)


def _penalty_case():
    """Neuron 0 (weights 0.6, 0.6; K = 1, theta = 0.3) reaches theta only with
    both inputs: silent in examples 0-2, fires in example 3.  Neuron 1
    (weights 2, 2) fires in every example with an input."""
    inputs = np.array([[0.1, np.inf], [np.inf, 0.3], [np.inf, np.inf], [0.1, 0.1]])
    weights = np.array([[0.6, 2.0], [0.6, 2.0]])
    return inputs, weights, 1.0, 0.3


@pytest.mark.parametrize("layout", LAYOUTS)
def test_no_spike_penalty(layout):
    inputs, weights, k, theta = _penalty_case()
    out = run(inputs, weights, k, theta, layout=layout)
    np.testing.assert_array_equal(np.isfinite(out), [[0, 1], [0, 1], [0, 0], [1, 1]])
    p = 7.0
    rng = np.random.default_rng(5)
    upstream = rng.normal(size=(4, 2))
    upstream[3, 0] = 0.0  # no chain-rule term for neuron 0: only the penalty is left
    d_inputs, d_weights = gradients(inputs, weights, k, theta, upstream, penalty_no_spike=p, layout=layout)
    np.testing.assert_allclose(d_weights[:, 0], -p * 3 / 4, rtol=1e-14)
    # Neuron 1 is silent once (example 2) and otherwise gets the chain rule.
    plain_inputs, plain_weights = gradients(inputs, weights, k, theta, upstream, layout=layout)
    np.testing.assert_allclose(d_weights[:, 1], plain_weights[:, 1] - p / 4, rtol=1e-12)
    # Silent neurons pass nothing back, whatever their upstream says.
    np.testing.assert_array_equal(d_inputs, plain_inputs)
    only_neuron_0 = upstream * [[1.0, 0.0]]
    d_inputs, _ = gradients(inputs, weights, k, theta, only_neuron_0, penalty_no_spike=p, layout=layout)
    np.testing.assert_array_equal(d_inputs, 0.0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_no_spike_penalty_with_chain_rule_term(layout):
    """Penalty and the firing example's chain-rule term add up."""
    inputs, weights, k, theta = _penalty_case()
    p, up = 2.0, 0.9
    upstream = np.array([[5.0, 0.0], [-5.0, 0.0], [3.0, 0.0], [up, 0.0]])
    _, d_weights = gradients(inputs, weights, k, theta, upstream, penalty_no_spike=p, layout=layout)
    # Example 3: both inputs at 0.1, so A = 1.2 e^{0.1 K}, B = 0.1 A and every
    # dt*/dw_j = e^{K t_j} (t_j - t*) / (A (1 + W)) = (0.1 - t*) / (1.2 (1 + W)).
    lam = scipy.special.lambertw(-k * theta / 1.2).real
    t_star = 0.1 - lam / k
    d_w = (0.1 - t_star) / (1.2 * (1.0 + lam))
    np.testing.assert_allclose(d_weights[:, 0], up * d_w - p * 3 / 4, rtol=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_inputs_after_the_spike_get_no_gradient(layout):
    k, theta = 1.0, 0.3
    t_star = run([[0.0, np.inf]], [[1.0], [0.7]], k, theta, layout=layout)[0, 0]
    late = [[0.0, t_star + 0.5]]
    assert run(late, [[1.0], [0.7]], k, theta, layout=layout)[0, 0] == t_star
    d_inputs, d_weights = gradients(late, [[1.0], [0.7]], k, theta, np.array([[1.0]]), layout=layout)
    assert d_inputs[0, 1] == 0.0 and d_weights[1, 0] == 0.0
    assert d_inputs[0, 0] == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_silent_inputs_get_zero_and_finite_gradients(layout):
    rng = np.random.default_rng(9)
    inputs = rng.uniform(0, 1, (5, 12))
    inputs[rng.uniform(size=inputs.shape) < 0.4] = np.inf
    inputs[2] = np.inf
    weights = rng.normal(0.5, 1.0, (12, 4))
    d_inputs, d_weights = gradients(inputs, weights, 1.0, 0.5, rng.normal(size=(5, 4)),
                                    penalty_no_spike=1.0, layout=layout)
    assert np.all(np.isfinite(d_inputs)) and np.all(np.isfinite(d_weights))
    assert np.all(d_inputs[~np.isfinite(inputs)] == 0.0)


# ----------------------------------------------------------------------------
# arguments and precision


@pytest.mark.parametrize("decay_rate, threshold", [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.0), (1.0, -0.5)])
def test_non_positive_constants_raise(decay_rate, threshold):
    with pytest.raises(ValueError):
        spike_times(tensor([[0.1]], "float32"), tensor([[1.0]], "float32"), decay_rate,
                    threshold)


@pytest.mark.heavy
def test_float32_agrees_with_float64_on_image_like_inputs():
    """784 pixel inputs t = 1 - b/256 (80 % black = silent) plus 10 pulses at
    k/11, weights as initialised (sigma = sqrt(2/(n_post+n_pre+n_pulses))),
    decay rates and thresholds from the paper grid.

    float32 carries ~6e-8 relative error into A, B and x; the spike time's
    sensitivity to x grows like 1/(1+W) near the touching point, so neurons
    with 1 + W < 1e-3 may legitimately differ (asserted rare)."""
    rng = np.random.default_rng(3)
    batch, n_out, n_pulses = 32, 32, 10
    sigma = math.sqrt(2.0 / (n_out + 784 + n_pulses))
    compared, near_touch, worst = 0, 0, 0.0
    for k, theta in [(0.172556, 0.834236), (1.111030, 0.832244), (1.993752, 0.227450),
                     (0.112942, 1.402923)]:
        pixels = rng.integers(1, 256, (batch, 784))
        inputs = np.where(rng.uniform(size=pixels.shape) < 0.8, np.inf, 1.0 - pixels / 256.0)
        inputs = np.concatenate([inputs, np.tile(np.arange(1, n_pulses + 1) / 11.0, (batch, 1))], 1)
        mean = rng.uniform(-2.0, 2.0, n_out) * sigma  # per neuron: some fire, some don't
        weights = np.concatenate([rng.normal(mean, sigma, (784, n_out)),
                                  rng.normal(4.0 * sigma, sigma, (n_pulses, n_out))])
        t64 = run(inputs, weights, k, theta)
        expected, details = reference.layer(inputs, weights, k, theta)
        np.testing.assert_array_equal(np.isfinite(t64), np.isfinite(expected))
        gap = np.array([[s.get("branch_gap", np.inf) for s in row] for row in details])
        sensitive = gap < 1e-3
        near_touch += np.sum(sensitive)
        both = ~sensitive & np.isfinite(t64)
        compared += np.sum(both)
        for layout in ("wide", "safe"):  # the fast and the overflow-safe prefix sums
            t32 = run(inputs, weights, k, theta, dtype="float32", layout=layout)
            np.testing.assert_array_equal(np.isfinite(t32)[~sensitive],
                                          np.isfinite(t64)[~sensitive])
            error = np.abs(t32[both] - t64[both]) / np.maximum(1.0, np.abs(t64[both]))
            worst = max(worst, error.max(initial=0.0))
    fired_share = compared / (4 * batch * n_out)
    print(f"float32: {compared} compared, {near_touch} near touch, max error {worst:.2e}")
    assert 0.2 < fired_share < 0.9, fired_share
    assert near_touch <= 0.01 * compared
    assert worst <= 2e-5, worst


# ----------------------------------------------------------------------------
# formerly known defects of spikelib.neuron (fixed)


def test_float32_inputs_spread_far_apart():
    """Input 1 alone fires just after t = 45; input 0 at t = 0 is negligible."""
    inputs, weights, k, theta = [[0.0, 45.0]], [[0.1], [10.0]], 2.0, 0.5
    expected = reference.first_spike(inputs[0], [0.1, 10.0], k, theta)["time"]
    assert run(inputs, weights, k, theta, dtype="float32")[0, 0] == pytest.approx(
        expected, rel=1e-6)


def test_gradient_when_touching_threshold_exactly():
    """Touching (x = -1/e): t* = t0 + 1/K for any t0, so dt*/dt0 = 1; dt*/dw
    diverges to -inf and must come out clipped to -c."""
    d_inputs, d_weights = gradients([[0.25]], [[math.e]], 1.0, 1.0, np.array([[1.0]]),
                                    clip_derivative=5.0)
    assert d_inputs[0, 0] == pytest.approx(1.0)
    assert d_weights[0, 0] == pytest.approx(-5.0)


# ----------------------------------------------------------------------------
# inputs far apart: the sorted path never overflows (issue 12)


def _reference_times(inputs, weights, k, theta):
    return reference.layer(np.atleast_2d(inputs), np.asarray(weights, np.float64), k, theta)[0]


@pytest.mark.parametrize("layout", ["wide", "safe"])
@pytest.mark.parametrize("inputs, weights, k, expected", [
    # K span + ln(w t) above float32's 88.7: the fast form would overflow.
    ([[0.0, 42.0]], [[1.0], [10.0]], 2.0, 42.05591628),
    # A zero weight in the block: 0 x inf would be NaN.
    ([[0.0, 42.0]], [[0.0], [10.0]], 2.0, 42.05591628),
    # The spike comes before the far input, which must not hide it.
    ([[0.0, 45.0]], [[5.0], [1.0]], 2.0, 0.12958555),
])
def test_far_apart_inputs_float32(layout, inputs, weights, k, expected):
    theta = 0.5
    reference_time = _reference_times(inputs, weights, k, theta)[0, 0]
    assert reference_time == pytest.approx(expected, abs=1e-8)
    dense = run(inputs, weights, k, theta, dtype="float32")[0, 0]
    got = run(inputs, weights, k, theta, dtype="float32", layout=layout)[0, 0]
    assert got == pytest.approx(reference_time, rel=1e-6)
    assert got == pytest.approx(dense, rel=1e-6)


def test_far_input_silences_only_what_it_should():
    """Two neurons, one example: the far input cannot silence the neuron that
    fired before it, nor the neuron next to it (formerly both were silent)."""
    inputs = [[0.0, 0.1, 45.0]]
    weights = [[5.0, 1.0], [0.0, 1.0], [1.0, 1.0]]
    expected = _reference_times(inputs, weights, 2.0, 0.5)
    got = run(inputs, weights, 2.0, 0.5, dtype="float32", layout="wide")
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(expected))
    np.testing.assert_allclose(got[np.isfinite(got)], expected[np.isfinite(expected)], rtol=1e-6)


def test_learned_pulse_far_after_the_image():
    """A hidden layer of image-like inputs whose last pulse has learned to
    spike at 44.5 (K = 1.99): every neuron as the float64 reference, in
    float32 (formerly all but a few of each example's 64 were silent)."""
    rng = np.random.default_rng(1)
    k, theta = 1.99, 1.0
    pixels = rng.uniform(0, 1, (4, 200))
    pixels[rng.uniform(size=pixels.shape) < 0.3] = np.inf
    inputs = np.concatenate([pixels, np.full((4, 1), 0.3), np.full((4, 1), 44.5)], axis=1)
    weights = rng.normal(0.05, 0.12, (202, 64))
    weights[-1] = rng.normal(0.5, 1.0, 64)
    expected, details = reference.layer(inputs, weights, k, theta)
    got = run(inputs, weights, k, theta, dtype="float32")
    assert np.isfinite(expected).sum(axis=1).min() >= 30
    sensitive = np.array([[s.get("branch_gap", np.inf) < 1e-3 for s in row] for row in details])
    np.testing.assert_array_equal(np.isfinite(got)[~sensitive], np.isfinite(expected)[~sensitive])
    both = np.isfinite(got) & np.isfinite(expected)
    np.testing.assert_allclose(got[both], expected[both], rtol=1e-5)


def _spread_layer(rng, k, n_in, max_span):
    """Inputs in a few clusters spread over [0, max_span], some silent, mixed
    weights with a few exact zeros."""
    clusters = rng.uniform(0.0, max_span, int(rng.integers(1, 5)))
    batch = int(rng.integers(1, 4))
    times = rng.choice(clusters, (batch, n_in)) + rng.uniform(0.0, 2.0 / k, (batch, n_in))
    times[rng.uniform(size=times.shape) < 0.2] = np.inf
    weights = random_weights(rng, n_in, int(rng.integers(1, 6)), k, 0.5) * 3.0
    weights[rng.uniform(size=weights.shape) < 0.1] = 0.0
    return times, weights


def _spread_sweep(seed, dtype, skip_touching):
    """(spikes fired, worst relative time error) of 60 random spread layers,
    every layout against the sequential reference; with `skip_touching`,
    neurons whose potential only touches theta (branch gap < 1e-3) are left
    out, as their fire/no-fire depends on rounding."""
    rng = np.random.default_rng(seed)
    worst, fired = 0.0, 0
    for _ in range(60):
        k = float(rng.uniform(0.2, 2.0))
        inputs, weights = _spread_layer(rng, k, int(rng.integers(2, 30)), 1000.0 / k)
        expected, details = reference.layer(inputs, weights, k, 0.5)
        sensitive = np.array([[skip_touching and s.get("branch_gap", np.inf) < 1e-3
                               for s in row] for row in details], dtype=bool)
        for layout in LAYOUTS:
            got = run(inputs, weights, k, 0.5, dtype=dtype, layout=layout)
            np.testing.assert_array_equal(np.isfinite(got)[~sensitive],
                                          np.isfinite(expected)[~sensitive], err_msg=layout)
            ok = np.isfinite(expected) & ~sensitive
            error = np.abs(got[ok] - expected[ok]) / np.maximum(1.0, np.abs(expected[ok]))
            worst = max(worst, error.max(initial=0.0))
        fired += int(np.isfinite(expected).sum())
    return fired, worst


@pytest.mark.heavy
def test_spans_up_to_1000_over_k_match_the_reference_float64():
    """Random layers spanning up to 1000/K (beyond float64's 709 nats): the
    sorted path (both forms) and the dense path as the sequential reference."""
    fired, worst = _spread_sweep(12, "float64", skip_touching=False)
    print(f"spans to 1000/K, float64: {fired} spikes, max relative error {worst:.1e}")
    assert fired >= 100
    assert worst <= 1e-9


@pytest.mark.heavy
def test_spans_up_to_1000_over_k_float32():
    """The same in float32: no spike lost or invented (away from touching),
    times to float32 precision."""
    fired, worst = _spread_sweep(13, "float32", skip_touching=True)
    print(f"spans to 1000/K, float32: {fired} spikes, max relative error {worst:.1e}")
    assert fired >= 100
    assert worst <= 2e-6


def test_huge_weight_takes_the_safe_form():
    """A small span but a weight of 1e30: the fast form's terms w t e^{K t}
    would overflow float32, so the layer must take the safe form."""
    inputs, weights, k = [[0.0, 0.5, 20.0]], [[1e30], [1.0], [1.0]], 1.0
    expected = _reference_times(inputs, weights, k, 0.5)[0, 0]
    assert run(inputs, weights, k, 0.5, dtype="float32", layout="wide")[0, 0] == pytest.approx(
        expected, rel=1e-6)


@pytest.mark.heavy
def test_far_apart_gradients_match_the_dense_path():
    """Gradients of far-apart layers: sorted path (both forms) = dense path."""
    rng = np.random.default_rng(14)
    for _ in range(10):
        k = float(rng.uniform(0.2, 2.0))
        inputs, weights = _spread_layer(rng, k, int(rng.integers(2, 20)), 1000.0 / k)
        upstream = rng.normal(size=(inputs.shape[0], weights.shape[1]))
        dense = gradients(inputs, weights, k, 0.5, upstream, clip_derivative=1e3,
                          penalty_no_spike=0.5)
        for layout in ("wide", "safe"):
            sorted_ = gradients(inputs, weights, k, 0.5, upstream, layout=layout,
                                clip_derivative=1e3, penalty_no_spike=0.5)
            for d, s in zip(dense, sorted_):
                assert np.all(np.isfinite(s))
                np.testing.assert_allclose(s, d, rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------
# empty layers


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("batch, n_in, n_out", [(0, 2, 3), (3, 0, 2), (3, 2, 0), (0, 0, 0)])
def test_empty_layers(layout, batch, n_in, n_out):
    """No examples, inputs or outputs: the (batch, n_out) all-silent result and
    zero gradients of the right shapes (no empty-tensor errors)."""
    inputs = np.zeros((batch, n_in))
    weights = np.ones((n_in, n_out))
    if layout != "narrow":  # wide: pad the inputs to the sorted path
        inputs = np.full((batch, WIDE), np.inf)
        inputs[:, :n_in] = 0.0
        weights = np.ones((WIDE, n_out))
    out = run(inputs, weights, 1.0, 0.5, layout="narrow")
    assert out.shape == (batch, n_out)
    if n_in == 0 and layout == "narrow":
        assert np.all(out == np.inf)
    d_inputs, d_weights = gradients(inputs, weights, 1.0, 0.5, np.ones((batch, n_out)),
                                    penalty_no_spike=2.0)
    assert d_inputs.shape == inputs.shape and d_weights.shape == weights.shape
    assert np.all(np.isfinite(d_inputs)) and np.all(np.isfinite(d_weights))
    if batch == 0:
        assert np.all(d_weights == 0.0)


def test_events_without_columns_are_all_silent_and_pushed():
    """input_rows with zero columns: every neuron silent, every weight row
    gets the full no-spike push."""
    inputs, rows = tensor(np.zeros((3, 0))), tensor(np.zeros((3, 0)), "int32")

    def layer(weights):
        return spike_times(inputs, weights, 1.0, 0.5, penalty_no_spike=2.0, input_rows=rows)

    def loss(weights):
        out = layer(weights)
        return ops.sum(ops.where(ops.isfinite(out), out, 0.0))
    out = layer(tensor(np.ones((5, 2))))
    _, (gradient,) = value_and_gradient(loss, tensor(np.ones((5, 2))))
    assert out.shape == (3, 2) and np.all(ops.convert_to_numpy(out) == np.inf)
    np.testing.assert_array_equal(gradient, -2.0)


# ----------------------------------------------------------------------------
# dtypes


@pytest.fixture
def floatx64():
    """Keras floatx float64; the global dtype policy too, which Keras fixes
    from floatx the first time any layer is made (an earlier test may have)."""
    policy = keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        yield
    finally:
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy(policy)


@pytest.mark.parametrize("n_in", [50, 100])
def test_spiking_dense_float64_floatx_forward_and_gradient(floatx64, n_in):
    """Under keras floatx float64 a SpikingDense (dense path at 50 inputs,
    sorted above 64) computes in float64: spike times and weight gradients
    as the float64 sequential reference (formerly an int64/int32 error)."""
    from spikelib.layer import SpikingDense
    rng = np.random.default_rng(4)
    layer = SpikingDense(5, n_pulses=3, neuron=NeuronParameters(1.0, 0.5),
                         weight_mean_multiplier=2.0, pulse_weight_mean_multiplier=4.0, seed=1)
    inputs = rng.uniform(0.0, 1.0, (4, n_in))
    inputs[rng.uniform(size=inputs.shape) < 0.3] = np.inf
    x = tensor(inputs)
    out = layer(x)
    trainable = [variable.value for variable in layer.trainable_variables]
    non_trainable = [variable.value for variable in layer.non_trainable_variables]
    index = [variable is layer.kernel for variable in layer.trainable_variables].index(True)

    def loss(kernel):
        values = trainable[:index] + [kernel] + trainable[index + 1:]
        times, _ = layer.stateless_call(values, non_trainable, x)
        return ops.sum(ops.where(ops.isfinite(times), times, 0.0))
    _, (kernel_grad,) = value_and_gradient(loss, layer.kernel.value)
    assert keras.backend.standardize_dtype(out.dtype) == "float64"
    assert kernel_grad.dtype == np.float64
    out = ops.convert_to_numpy(out)
    all_inputs = np.concatenate([inputs, np.tile(layer.pulse_times.numpy(), (4, 1))], axis=1)
    all_weights = np.concatenate([layer.kernel.numpy(), layer.pulse_kernel.numpy()])
    expected, details = reference.layer(all_inputs, all_weights, 1.0, 0.5)
    assert np.isfinite(expected).any()
    np.testing.assert_array_equal(np.isfinite(out), np.isfinite(expected))
    ok = np.isfinite(expected)
    np.testing.assert_allclose(out[ok], expected[ok], rtol=1e-12)
    expected_grad = np.zeros(all_weights.shape)
    for b, row in enumerate(details):
        for j, spike in enumerate(row):
            expected_grad[:, j] += reference.derivatives(all_inputs[b], all_weights[:, j], 1.0,
                                                         spike)[0]
    np.testing.assert_allclose(kernel_grad, expected_grad[:n_in], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_is_refused(dtype):
    with pytest.raises(TypeError, match=f"inputs must have a floating dtype.*got {dtype}"):
        spike_times(ops.zeros((1, 2), dtype), ops.ones((2, 1), dtype), 1.0, 0.5)
    from spikelib.layer import SpikingDense
    with pytest.raises(TypeError, match=dtype):
        SpikingDense(3, n_pulses=1, neuron=NeuronParameters(1.0, 0.5), dtype=dtype)
    with pytest.raises(TypeError, match="float16"):
        SpikingDense(3, n_pulses=1, neuron=NeuronParameters(1.0, 0.5), dtype="mixed_float16")


# ----------------------------------------------------------------------------
# bad arguments are refused clearly (issue 12)


def _call(inputs=None, weights=None, layout="narrow", **kwargs):
    n = NARROW - 2 if layout == "narrow" else WIDE
    inputs = np.full((2, n), 0.5) if inputs is None else inputs
    weights = np.ones((inputs.shape[-1], 3)) if weights is None else weights
    args = dict(decay_rate=1.0, threshold=0.5)
    args.update(kwargs)
    return spike_times(tensor(inputs), tensor(weights), **args)


def _with(values, index, value):
    values = np.array(values, np.float64)
    values[index] = value
    return values


@pytest.mark.parametrize("layout", ["narrow", "wide"])
@pytest.mark.parametrize("change, error, message", [
    (dict(inputs=np.zeros(3)), ValueError, r"inputs must be 2-D \(batch, n_inputs\), got shape \(3,\)"),
    (dict(weights=np.ones(3)), ValueError, r"weights must be 2-D"),
    ("extra_row", ValueError, r"weights must have one row per input column: expected \d+ rows"),
    ("nan_input", ValueError, r"inputs must be spike times .* got NaN at index \[1, 4\]"),
    ("minus_inf_input", ValueError, r"inputs must be spike times .* got -inf"),
    ("nan_weight", ValueError, r"weights must be finite, got NaN"),
    ("inf_weight", ValueError, r"weights must be finite, got an infinite value"),
    (dict(decay_rate=math.nan), ValueError, r"decay_rate must be a real number, got NaN"),
    (dict(decay_rate=math.inf), ValueError, r"decay_rate must be finite"),
    (dict(threshold=-1.0), ValueError, r"threshold must be > 0, got -1"),
    (dict(clip_derivative=0.0), ValueError, r"clip_derivative must be > 0"),
    (dict(penalty_no_spike=-1.0), ValueError, r"penalty_no_spike must be >= 0"),
    (dict(penalty_no_spike=math.nan), ValueError, r"penalty_no_spike .* NaN"),
    (dict(decay_rate="1"), TypeError, r"decay_rate must be a real number, got '1'"),
    (dict(sorted_prefix=-1), ValueError, r"sorted_prefix must be >= 0"),
    (dict(sorted_prefix=1.5), TypeError, r"sorted_prefix must be an integer"),
    ("unsorted", ValueError, r"inputs: the first \d+ columns must be ascending.* got 0.7 before 0.2"),
])
def test_bad_arguments_raise_clear_errors(layout, change, error, message):
    n = NARROW - 2 if layout == "narrow" else WIDE
    inputs = np.full((2, n), 0.5)
    weights = np.ones((n, 3))
    kwargs = {}
    if change == "extra_row":
        weights = np.ones((n + 1, 3))
    elif change == "nan_input":
        inputs = _with(inputs, (1, 4), np.nan)
    elif change == "minus_inf_input":
        inputs = _with(inputs, (0, 0), -np.inf)
    elif change == "nan_weight":
        weights = _with(weights, (2, 1), np.nan)
    elif change == "inf_weight":
        weights = _with(weights, (2, 1), np.inf)
    elif change == "unsorted":
        inputs = np.sort(np.random.default_rng(0).uniform(0.0, 1.0, (2, n)), axis=1)
        inputs[1, 3], inputs[1, 4] = 0.7, 0.2
        kwargs["sorted_prefix"] = n
    else:
        kwargs = dict(change)
        inputs = kwargs.pop("inputs", inputs)
        weights = kwargs.pop("weights", weights)
    with pytest.raises(error, match=message):
        _call(inputs, weights, **kwargs)


def test_integer_and_mixed_dtypes_are_refused():
    with pytest.raises(TypeError, match=r"inputs must have a floating dtype .* got int32"):
        spike_times(tensor([[0, 1]], "int32"), tensor([[1.0], [1.0]], "float32"), 1.0, 0.5)
    with pytest.raises(TypeError, match=r"weights must have a floating dtype .* got int32"):
        spike_times(tensor([[0.0, 1.0]], "float32"), tensor([[1], [1]], "int32"), 1.0, 0.5)
    with pytest.raises(TypeError, match=r"weights must have the dtype of inputs \(float32\), got float64"):
        spike_times(tensor([[0.0, 1.0]], "float32"), tensor([[1.0], [1.0]], "float64"), 1.0, 0.5)
    inputs = tensor(np.sort(np.random.default_rng(0).uniform(size=(2, 80)), axis=1))
    with pytest.raises(TypeError, match=r"input_rows must have an integer dtype, got float32"):
        spike_times(inputs, tensor(np.ones((80, 2))), 1.0, 0.5,
                    input_rows=ops.zeros((2, 80), "float32"))


def test_bad_input_rows_are_refused():
    inputs = tensor(np.sort(np.random.default_rng(0).uniform(size=(2, 80)), axis=1))
    weights = tensor(np.ones((90, 2)))
    rows = np.tile(np.arange(80, dtype=np.int32), (2, 1))
    with pytest.raises(ValueError, match=r"input_rows must be row indices in \[0, 90\), got 95"):
        spike_times(inputs, weights, 1.0, 0.5, input_rows=tensor(_with(rows, (1, 2), 95), "int32"))
    with pytest.raises(ValueError, match=r"input_rows must have the shape of inputs"):
        spike_times(inputs, weights, 1.0, 0.5, input_rows=tensor(rows[:, :40]))
    # In range, rows beyond the inputs' count are fine (events).
    spike_times(inputs, weights, 1.0, 0.5, input_rows=tensor(rows + 10))


def _compiled(function):
    """`function` XLA-compiled by the backend: jax.jit, or tf.function(jit_compile=True)."""
    if keras.backend.backend() == "jax":
        import jax
        return jax.jit(function)
    import tensorflow as tf
    return tf.function(function, jit_compile=True)


def test_value_checks_are_skipped_inside_compiled_code():
    """Inside compiled code (tf.function, jax.jit) the tensors are symbolic: no
    per-step cost, no error (the compiled callers validate their data before the loop)."""
    compiled = _compiled(lambda x, w: spike_times(x, w, 1.0, 0.5))
    out = compiled(tensor([[np.nan, 0.1]], "float32"), tensor([[1.0], [1.0]], "float32"))
    assert out.shape == (1, 1)
    with pytest.raises(ValueError, match="weights must have one row per input"):  # static: always
        compiled(tensor([[0.0, 0.1]], "float32"), tensor([[1.0], [1.0], [1.0]], "float32"))


def test_spiking_dense_refuses_bad_calls():
    from spikelib.layer import SpikingDense
    layer = SpikingDense(3, n_pulses=2, neuron=NeuronParameters(1.0, 0.5), seed=0)
    with pytest.raises(ValueError, match=r"inputs of 'spiking_dense\w*' must be 2-D"):
        layer(ops.zeros((5,)))
    layer(ops.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"must have 5 columns .* got shape \(2, 6\)"):
        layer(ops.zeros((2, 6)))
    with pytest.raises(TypeError, match=r"inputs must have a floating dtype .* got int32"):
        layer(ops.zeros((2, 5), "int32"))
    with pytest.raises(ValueError, match=r"inputs must be spike times .* NaN"):
        layer(tensor([[np.nan, 0.0, 0.0, 0.0, 0.0]], "float32"))
    with pytest.raises(ValueError, match=r"input_rows must be row indices in \[0, 5\), got 7"):
        layer(tensor([[0.1, 0.2]], "float32"), input_rows=tensor([[0, 7]], "int32"),
              sorted_inputs=True)
    with pytest.raises(ValueError, match=r"ascending.*sorted_inputs"):
        layer(tensor([[0.3, 0.2]], "float32"), input_rows=tensor([[0, 1]], "int32"),
              sorted_inputs=True)
    for kwargs, error, message in [
            (dict(units=-1), ValueError, "units must be >= 0"),
            (dict(units=2.5), TypeError, "units must be an integer"),
            (dict(n_pulses=-1), ValueError, "n_pulses must be >= 0"),
            (dict(neuron=(1.0, 0.5)), TypeError, "neuron must be a NeuronParameters"),
            (dict(nonnegative_weights="ture"), TypeError, "nonnegative_weights must be True or False")]:
        args = dict(units=3, n_pulses=2, neuron=NeuronParameters(1.0, 0.5))
        args.update(kwargs)
        with pytest.raises(error, match=message):
            SpikingDense(**args)


@pytest.mark.heavy
@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-4), ("float64", 1e-11)])
def test_dense_gradient_in_matrix_products_equals_the_elementwise_one(dtype, tolerance):
    """Where every neuron fires after its last input and nothing is clipped, the dense
    layer's gradient comes from matrix products; it must equal the elementwise one."""
    rng = np.random.default_rng(3)
    separable = 0
    for case in range(40):
        n, out, batch = int(rng.integers(2, 60)), int(rng.integers(1, 50)), int(rng.integers(1, 9))
        inputs = rng.uniform(0, 2, (batch, n))
        inputs[rng.random((batch, n)) < 0.2] = np.inf
        if case % 5 == 0:
            inputs = np.round(inputs * 4) / 4                       # ties
        weights = rng.normal(0.05, 0.3, (n, out))
        decay_rate, threshold = float(rng.uniform(0.2, 2)), float(rng.uniform(1.0, 3))
        x, w = tensor(inputs, dtype), tensor(weights, dtype)
        separable += bool(neuron._fired_after_last_input_unclipped(
            neuron._dense_candidates(x, w, decay_rate), w,
            neuron._first_spike(*_dense_first_spike_arguments(x, w, decay_rate, threshold))[2],
            np.isfinite(ops.convert_to_numpy(neuron.spike_times(x, w, decay_rate, threshold))),
            decay_rate, 1e4))

        def loss(x, w):
            times = neuron.spike_times(x, w, decay_rate, threshold, 1e4, 0.01)
            finite = ops.isfinite(times)
            return ops.sum(ops.where(finite, times * ops.sin(ops.where(finite, times, 0.0)), 0.0))
        gradients = []
        for elementwise in (True, False):
            neuron._ALWAYS_ELEMENTWISE = elementwise
            try:
                gradients.append(value_and_gradient(loss, x, w)[1])
            finally:
                neuron._ALWAYS_ELEMENTWISE = False
        for reference, separated in zip(*gradients):
            scale = max(np.max(np.abs(reference)), 1e-30)
            assert np.max(np.abs(reference - separated)) / scale < tolerance, case
    assert separable >= 20


def _dense_first_spike_arguments(x, w, decay_rate, threshold):
    c = neuron._dense_candidates(x, w, decay_rate)
    return (c.a, c.b, c.candidate_start, c.following, c.relative, decay_rate, threshold, False)
