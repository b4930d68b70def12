"""Time-stepped simulation of alpha-kernel neurons (numpy, float64).

An independent way to get spike times: evaluate the membrane potential
V_j(t) = sum_i w_ij (t - t_i) exp(-K (t - t_i)) (inputs with t_i < t) on a
time grid, take the first grid point where V_j >= theta and refine it by
bisection on the exact potential.  It shares no code with the closed form
of `spikelib.neuron`, so it serves as a check of it, and its potentials
are what the plots show.

The grid holds the regular steps and also every input arrival time, so the
potential is smooth (one alpha-shaped prefix) between neighbouring grid
points and its kinks, e.g. the peak at an inhibitory arrival, are sampled.

Limitation: a grid only sees the potential at its points.  A crossing that
is narrower than the step (the potential touching theta briefly between two
grid points and falling back) is missed, and the neuron is then reported
later or silent.  Between grid points the potential exceeds the larger grid
value by at most ``dt^2/8 * max abs(V'') <= dt^2 K sum_i abs(w_ij) / 4``;
`possibly_missed` uses this bound to flag the neurons for which a missed
crossing cannot be ruled out.  Bisection refines only bracketed crossings.
"""

import numpy as np

_BISECTION_STEPS = 100


def _as_batch(input_times):
    """(batch, n_in) float64 view of the input times, and whether it was 1-D."""
    times = np.asarray(input_times, dtype=np.float64)
    single = times.ndim == 1
    return np.atleast_2d(times), single


def _kernel(elapsed, decay_rate):
    """Alpha kernel s exp(-K s) for s > 0 and 0 otherwise (also for silent inputs)."""
    arrived = elapsed > 0.0
    safe = np.where(arrived, elapsed, 0.0)
    return np.where(arrived, safe * np.exp(-decay_rate * safe), 0.0)


def membrane_potential(input_times, weights, decay_rate, t_grid):
    """Membrane potential of every neuron on a time grid.

    input_times: (batch, n_in) or (n_in,) spike times, +inf for silent inputs.
    weights: (n_in, n_out).  t_grid: 1-D times.
    Returns V of shape (batch, n_out, len(t_grid)), or (n_out, len(t_grid))
    for a 1-D input.
    """
    times, single = _as_batch(input_times)
    weights = np.asarray(weights, dtype=np.float64)
    grid = np.asarray(t_grid, dtype=np.float64).ravel()
    potential = np.empty((times.shape[0], weights.shape[1], grid.size))
    for b, example in enumerate(times):  # one example at a time bounds memory
        kernel = _kernel(grid[None, :] - example[:, None], decay_rate)
        potential[b] = weights.T @ kernel
    return potential[0] if single else potential


def _exact_potential(times, weights, decay_rate, t):
    """V at one time per (example, neuron) pair: times (m, n_in), weights (m, n_in), t (m,)."""
    return np.sum(weights * _kernel(t[:, None] - times, decay_rate), axis=1)


def _bisect(times, weights, decay_rate, threshold, low, high):
    """Refine bracketed crossings: V(low) < theta <= V(high) for every row."""
    for _ in range(_BISECTION_STEPS):
        middle = 0.5 * (low + high)
        if not np.any((middle > low) & (middle < high)):
            break
        above = _exact_potential(times, weights, decay_rate, middle) >= threshold
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    return high


def time_grid(input_times, t_max, dt):
    """The simulation grid: steps of dt from the earliest input (or 0) to t_max,
    merged with the input arrival times up to t_max."""
    times, _ = _as_batch(input_times)
    finite = times[np.isfinite(times)]
    start = min(0.0, float(finite.min())) if finite.size else 0.0
    steps = start + dt * np.arange(int(np.floor((t_max - start) / dt)) + 1)
    return np.union1d(steps, finite[finite <= t_max])


def missed_crossing_margin(weights, decay_rate, dt):
    """Per neuron, how far above its grid values the potential can rise between
    two grid points: ``dt^2/8 * max abs(V'')``, with ``abs(d2/ds2 s e^{-Ks}) <= 2K``."""
    return dt ** 2 * decay_rate * np.sum(np.abs(np.asarray(weights, np.float64)), axis=0) / 4.0


def _kernel_slope(elapsed, decay_rate, at_arrival):
    """d/ds of s exp(-K s): 1 - K s times exp(-K s) once the input has arrived;
    at s = 0 it counts as arrived only for the right-hand derivative."""
    arrived = (elapsed >= 0.0) if at_arrival else (elapsed > 0.0)
    safe = np.where(arrived, elapsed, 0.0)
    return np.where(arrived, (1.0 - decay_rate * safe) * np.exp(-decay_rate * safe), 0.0)


def _membrane_slopes(times, weights, decay_rate, grid):
    """Right-hand slope at every grid point but the last, left-hand slope at
    every grid point but the first: each (batch, n_out, len(grid) - 1)."""
    right = np.empty((times.shape[0], weights.shape[1], grid.size - 1))
    left = np.empty_like(right)
    for b, example in enumerate(times):
        elapsed = grid[None, :] - example[:, None]
        right[b] = weights.T @ _kernel_slope(elapsed[:, :-1], decay_rate, True)
        left[b] = weights.T @ _kernel_slope(elapsed[:, 1:], decay_rate, False)
    return right, left


def possibly_missed(input_times, weights, decay_rate, threshold, t_max, dt):
    """Where `simulate_spike_times` cannot rule out an earlier, missed crossing.

    Between neighbouring grid points the potential is one alpha-shaped prefix
    e^{-Kt}(At - B), whose slope changes sign at most once, so it has an
    interior maximum only if it rises at the left end and falls at the right
    end; that maximum exceeds the larger end value by at most
    `missed_crossing_margin`.  A neuron is flagged when some interval before
    the one that brackets its simulated crossing (all intervals if it stayed
    silent) has such a maximum that could reach theta.
    Returns a bool array shaped like the spike times.
    """
    times, single = _as_batch(input_times)
    weights = np.asarray(weights, dtype=np.float64)
    grid = time_grid(times, t_max, dt)
    potential = membrane_potential(times, weights, decay_rate, grid)
    right, left = _membrane_slopes(times, weights, decay_rate, grid)
    margin = 2.0 * missed_crossing_margin(weights, decay_rate, dt)[None, :, None]
    higher_end = np.maximum(potential[:, :, :-1], potential[:, :, 1:])
    suspect = (right > 0.0) & (left < 0.0) & (higher_end >= threshold - margin)
    above = potential >= threshold
    first = np.where(above.any(axis=2), np.argmax(above, axis=2), grid.size)
    before = np.arange(grid.size - 1)[None, None, :] < first[:, :, None] - 1
    flagged = np.any(suspect & before, axis=2)
    return flagged[0] if single else flagged


def simulate_spike_times(input_times, weights, decay_rate, threshold, t_max, dt):
    """First spike times by time stepping, +inf if theta is not reached by t_max.

    The first grid point with V >= theta is refined by bisection on the exact
    potential between it and the previous grid point, which makes the result
    accurate to about 1e-12 whenever the crossing is bracketed by the grid.
    A crossing narrower than dt can be missed (see the module docstring).
    Shapes as in `membrane_potential`: returns (batch, n_out) or (n_out,).
    """
    if decay_rate <= 0 or threshold <= 0 or dt <= 0:
        raise ValueError("decay_rate, threshold and dt must be positive")
    times, single = _as_batch(input_times)
    weights = np.asarray(weights, dtype=np.float64)
    grid = time_grid(times, t_max, dt)
    above = membrane_potential(times, weights, decay_rate, grid) >= threshold
    fired = above.any(axis=2)
    result = np.full(fired.shape, np.inf)
    example, neuron = np.nonzero(fired)
    if example.size:
        index = np.argmax(above[example, neuron], axis=1)
        # The grid starts at or before the earliest input, where V = 0 < theta,
        # so index >= 1 and grid[index - 1] is below threshold.
        low, high = grid[np.maximum(index - 1, 0)], grid[index]
        result[example, neuron] = _bisect(times[example], weights[:, neuron].T,
                                          decay_rate, threshold, low, high)
    return result[0] if single else result
