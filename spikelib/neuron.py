"""First spike times of a layer of alpha-kernel neurons, in closed form.

A neuron j receiving spikes at times t_i through weights w_ji has membrane
potential V_j(t) = sum_i w_ji (t - t_i) exp(-K (t - t_i)) over the inputs
with t_i < t, fires once, at the first t with V_j(t) = theta, and is silent
(+inf) if it never gets there.  With A_k = sum w e^{K t}, B_k = sum w t e^{K t}
over the inputs that arrived by input k, the crossing after input k is
t_k = B_k/A_k - W0(x_k)/K with x_k = -(K theta / A_k) exp(K B_k / A_k)
(the model page, spike times).  The spike time is the first t_k that exists and falls
between input k and the next input; it is found as the earliest interval
in which the potential reaches theta.

Two equivalent ways to get the A_k, B_k of every candidate k:

- sorted (many inputs): sort the inputs by time and take prefix sums;
- dense (few inputs, e.g. the output layer's hidden spikes and pulses): for
  every candidate k, a mask of the inputs with t_i <= t_k times the weights,
  one matrix product, no sort, gather or scatter.  Inputs at the same time
  enter together, which is the sorted form up to partial groups of tied
  inputs, whose zero-length intervals can only hold a crossing that the
  previous interval already holds.

Overflow: the formula is shift invariant, so A, B of a candidate can be
taken relative to any origin; both formulations take them relative to the
candidate's own time, A_k = sum_{i<=k} w_i e^{-K (t_k - t_i)}, so every
exponent is <= 0 and the inputs may lie arbitrarily far apart (a term that
underflows is below the dtype's resolution anyway).  The dense path has
M[b, j, i] = [t_i <= t_j] e^{K (t_i - t_j)}.  The sorted path gets the
same sums as a decayed prefix sum (a linear recurrence, A_k = A_{k-1}
e^{-K (t_k - t_{k-1})} + w_k): within blocks of _PREFIX_BLOCK = 16 sorted
inputs by log2(16) = 4 doubling steps, each term multiplied by the exact
decay over the time between the two inputs; the blocks are then joined by
one matrix product of each block's total with the decay from that block's
last input to each later block's first.  No origin, block or product ever
has a positive exponent, so no span of inputs, weight or zero weight can
overflow (a zero weight times an overflowed exponential would be NaN).

Arguments are checked at the boundary (`spikelib.validation`): shapes and
dtypes always, values (NaN or -inf times, non-finite weights, unsorted
`sorted_prefix` columns, row indices) where they are concrete, i.e. in
eager code but not inside a compiled function (no cost per step).
float16 and bfloat16 are refused: the closed form's exponentials and
Lambert W need the range and precision of float32 or float64.

The gradient is the reference implementation's (see the model page: gradient, training): exact
local derivatives clipped to [-clip, clip], and for every example in which
a neuron stays silent a push of -penalty on each of its incoming weights
(all rows of the weight matrix, including silent inputs) instead of the
chain rule; silent neurons pass no error backwards.
"""

import math
from typing import Any, NamedTuple

import keras
import numpy as np
from keras import ops

from spikelib import validation
from spikelib.lambertw import lambertw

# Up to this many inputs the dense formulation is used.
DENSE_LIMIT = 64
# Block length of the decayed prefix sums (a power of 2: doubling steps within a block).
_PREFIX_BLOCK = 16
# Relative slack (in units of the dtype's epsilon) of the "potential reaches
# theta" test: an exact touch (x = -1/e) must not depend on how exp rounds.
_TOUCH_ULPS = 8.0
# Tests set this to check the overflow-safe prefix sums on every input (see `_prefix_sums`).
_ALWAYS_SAFE = False
# Tests set this to check the dense layer's elementwise gradient on every
# batch (see `_gradients_after_last_input`).
_ALWAYS_ELEMENTWISE = False


def _dtype_name(tensor):
    return keras.backend.standardize_dtype(tensor.dtype)


def _decayed_prefix_sums(values, clock, decay_rate):
    """X[b, k] = sum_{i <= k} values[b, i] e^{-K (clock[b, k] - clock[b, i])}.

    values: (batch, n, c); clock: (batch, n) non-decreasing along axis 1.
    Every factor is a decay e^{-K d} with d >= 0, so nothing overflows.
    Within blocks of _PREFIX_BLOCK inputs, doubling steps: after the step
    with offset o, X[k] holds the terms i in (k - 2o, k] and D[k] the decay
    over that window (products of the decays between neighbours: one exp
    per input).  Then block k gets the totals of the earlier blocks m, each
    decayed from m's last input to k's first (one (blocks x blocks) matrix
    product per example), decayed on to each input of k by its D.  XLA's
    cumsum is slow on CPU; these are a few fused elementwise passes.
    """
    n, channels = values.shape[1], values.shape[2]
    size = _PREFIX_BLOCK
    blocks = -(-n // size)
    missing = blocks * size - n
    if missing:
        values = ops.pad(values, ((0, 0), (0, missing), (0, 0)))
        clock = ops.concatenate([clock, ops.repeat(clock[:, -1:], missing, axis=1)], axis=1)
    sums = ops.reshape(values, (-1, blocks, size, channels))
    time = ops.reshape(clock, (-1, blocks, size))
    step = ops.exp(-decay_rate * (time[:, :, 1:] - time[:, :, :-1]))
    decay = ops.pad(step, ((0, 0), (0, 0), (1, 0)), constant_values=1.0)
    offset = 1
    while offset < size:
        earlier = ops.pad(sums[:, :, :-offset], ((0, 0), (0, 0), (offset, 0), (0, 0)))
        sums = sums + decay[:, :, :, None] * earlier
        decay = decay * ops.pad(decay[:, :, :-offset], ((0, 0), (0, 0), (offset, 0)),
                                constant_values=1.0)
        offset *= 2
    if blocks > 1:                                   # decay: from each block's first input
        first, last = time[:, :, 0], time[:, :, -1]
        block_index = ops.arange(blocks, dtype="int32")
        before = block_index[None, :] < block_index[:, None]                     # (k, m): m < k
        gap = ops.maximum(first[:, :, None] - last[:, None, :], 0.0)             # (batch, k, m)
        across = ops.where(before[None], ops.exp(-decay_rate * gap), 0.0)
        carried = ops.matmul(across, sums[:, :, -1, :])                          # at k's first input
        sums = sums + decay[:, :, :, None] * carried[:, :, None, :]
    return ops.reshape(sums, (-1, blocks * size, channels))[:, :n, :]


def _block_prefix_sums(values, block_shift, decay_rate):
    """Inclusive cumulative sum over axis 1 of (batch, n, c), blockwise rescaled
    (the fast form of `_prefix_sums`, for blocks of a safe span).

    The values of block m (of _PREFIX_BLOCK inputs) are scaled relative to
    the block's own origin s_m (an exp(-K s_m) factor); the sum seen by an
    input of block k is re-expressed in block k's scale, so block m's total
    enters with the factor exp(K (s_m - s_k)) <= 1 (origins ascend).
    XLA's cumsum (and batched small matmuls) are slow on CPU: the sums
    within blocks are one plain matrix product with a triangular matrix.
    block_shift: (batch, blocks) origins, ascending.
    """
    n, channels = values.shape[1], values.shape[2]
    blocks = -(-n // _PREFIX_BLOCK)
    padded = ops.pad(values, ((0, 0), (0, blocks * _PREFIX_BLOCK - n), (0, 0)))
    padded = ops.transpose(ops.reshape(padded, (-1, blocks, _PREFIX_BLOCK, channels)), (0, 1, 3, 2))
    within = ops.triu(ops.ones((_PREFIX_BLOCK, _PREFIX_BLOCK), values.dtype))
    inner = ops.reshape(ops.matmul(ops.reshape(padded, (-1, _PREFIX_BLOCK)), within),
                        (-1, blocks, channels, _PREFIX_BLOCK))
    if blocks > 1:
        totals = inner[:, :, :, -1]                                   # (batch, m, c)
        gap = block_shift[:, None, :] - block_shift[:, :, None]       # s_m - s_k, (batch, k, m)
        block_index = ops.arange(blocks, dtype="int32")
        earlier = block_index[None, :] < block_index[:, None]
        decay = ops.where(earlier[None], ops.exp(decay_rate * ops.minimum(gap, 0.0)), 0.0)
        offsets = ops.matmul(decay, totals)                          # (batch, k, c)
        inner = inner + offsets[:, :, :, None]
    total = ops.transpose(inner, (0, 1, 3, 2))
    return ops.reshape(total, (-1, blocks * _PREFIX_BLOCK, channels))[:, :n, :]


def _block_origins(relative, finite):
    """Per input, the origin of its block of _PREFIX_BLOCK sorted inputs: the
    block's first (earliest) input time, 0 for an all-silent block.
    Returns ((batch, blocks), (batch, n))."""
    n = relative.shape[1]
    blocks = -(-n // _PREFIX_BLOCK)
    first = relative[:, ::_PREFIX_BLOCK]
    block_shift = ops.where(finite[:, ::_PREFIX_BLOCK], first, 0.0)
    shift = ops.reshape(ops.repeat(block_shift[:, :, None], _PREFIX_BLOCK, axis=2),
                        (-1, blocks * _PREFIX_BLOCK))[:, :n]
    return block_shift, shift


def _prefix_sums(weighted, relative, clock, finite, decay_rate):
    """A, B of every sorted candidate and the origin (shift) they are taken in.

    weighted: (batch, n, c) weights of the sorted inputs (0 for silent ones);
    relative, clock: (batch, n) their times (clock: silent inputs at the last
    time that spikes).  Two exact forms, one `cond`:

    - fast (the usual case): each block of _PREFIX_BLOCK inputs in the scale
      of its first input, i.e. terms w e^{K (t - s)} with positive
      exponents, summed by one triangular matrix product;
    - safe: each candidate in its own scale (`_decayed_prefix_sums`), no
      positive exponent at all.

    The fast form is taken when no block's exponent, together with the
    largest |w| (1 + t) and the number of inputs, can come near the dtype's
    largest value (a quarter of its log range to spare); otherwise, e.g.
    for a learned pulse far after the image inputs, the safe one.
    """
    dtype = _dtype_name(weighted)
    n = weighted.shape[1]

    def values(scale):
        return ops.concatenate([weighted * scale[:, :, None],
                                weighted * (scale * relative)[:, :, None]], axis=2)

    def fast():
        block_shift, shift = _block_origins(relative, finite)
        growth = ops.where(finite, ops.exp(decay_rate * (relative - shift)), 0.0)
        return _block_prefix_sums(values(growth), block_shift, decay_rate), shift

    def safe():
        return _decayed_prefix_sums(values(ops.ones_like(relative)), clock, decay_rate), relative

    if _ALWAYS_SAFE:
        return safe()
    size = _PREFIX_BLOCK
    blocks = -(-n // size)
    ends = ops.minimum(ops.arange(blocks, dtype="int32") * size + size - 1, n - 1)
    span = ops.max(ops.take(clock, ends, axis=1) - clock[:, ::size])
    magnitude = (ops.max(ops.abs(weighted)) * (1.0 + ops.max(clock)) * n
                 + float(np.finfo(dtype).tiny))
    limit = 0.75 * math.log(float(np.finfo(dtype).max))
    fits = decay_rate * span + ops.log(magnitude) <= limit
    return ops.cond(fits, fast, safe)


def _reaches_threshold(a, b, start, following, shift, decay_rate, threshold, slack):
    """Whether the potential after a candidate reaches theta in [start, following].

    a, b are in the candidate's scale: the potential at time t is
    e^{-K (t - shift)} (a t - b).  After candidate k the potential is
    unimodal with its peak at b/a + 1/K (it only falls when a <= 0), so it
    reaches theta on the interval exactly when its maximum there does.  One
    exp per candidate; Lambert W is needed only for the accepted one.  The
    comparison has a relative slack of a few ulps (`slack`), so that an
    exact touch (x = -1/e) fires whatever the rounding of exp; at such
    x just below -1/e, Lambert W clamps to -1: the peak time.
    start, following, shift: (batch, n, 1) relative times (following +inf
    at the end), start - shift >= 0.
    """
    positive = a > 0.0
    peak = b / ops.where(positive, a, 1.0) + 1.0 / decay_rate
    peak = ops.minimum(ops.maximum(peak, start), following)
    potential = ops.exp(-decay_rate * (peak - start)) * (a * peak - b)
    bar = (threshold * (1.0 - slack)) * ops.exp(decay_rate * (start - shift))
    return positive & (potential >= bar)


class Accepted(NamedTuple):
    """The accepted candidate of every (example, neuron), each (batch, out).

    a: its A in the scale of origin `shift` (1 where A <= 0: not fired);
    mean_time: B/A; w: W0(x); crossing: the spike time t* (relative);
    shift: the candidate's origin, its own input time.
    """

    a: Any
    mean_time: Any
    w: Any
    crossing: Any
    shift: Any


class Candidates(NamedTuple):
    """Every input of a dense layer as a candidate, each (batch, n) unless noted.

    origin (batch, 1): the earliest input time; relative: input times from
    it (0 for silent inputs); start: relative times, +inf for silent
    inputs; candidate_start: start, +inf also for all but the last of
    tied inputs; following: the next later input's time (+inf at the end);
    a, b (batch, n, out): A, B of each candidate in its own scale.
    """

    origin: Any
    relative: Any
    start: Any
    candidate_start: Any
    following: Any
    a: Any
    b: Any


def _crossing_time(a, b, shift, decay_rate, threshold):
    """t* = B/A - W0(x)/K with x = -(K theta / A) exp(K B / A), for A > 0.

    a, b in the scale of origin `shift`: A = a e^{K shift}, B/A = b/a.
    """
    a = ops.where(a > 0.0, a, 1.0)
    mean_time = b / a
    log_minus_x = (math.log(decay_rate * threshold) - ops.log(a)
                   + decay_rate * (mean_time - shift))
    w = lambertw(-ops.exp(ops.minimum(log_minus_x, -1.0)))
    return Accepted(a, mean_time, w, mean_time - w / decay_rate, shift)


def _local_derivatives(relative, weights, used, accepted, decay_rate, clip):
    """Clipped dt*/dw and dt*/dt_in, zero where `used` is false.

    relative: (batch, n, 1) input times relative to the common origin;
    weights: (n, out) or (batch, n, out); used: (batch, n, out) inputs that
    arrived by the accepted candidate.  The exponentials are taken relative
    to the accepted candidate's own origin (`shift`), like its A.
    With D = 1 + W >= 0 (D = 0 at an exact touch, where the derivatives are
    infinite), dt*/dw = (g/A) (t - t*) / D and
    dt*/dt = w (g/A) (K (t - B/A) / D + 1); D is floored at the smallest
    normal number, so an infinite derivative comes out as +-clip with the
    sign of its numerator, and dt*/dt = 1 where t = B/A (the 0/0 case of a
    single input, whose limit is 1).
    """
    a, mean_time, w, crossing, shift = accepted
    dtype = _dtype_name(a)
    tiny, huge = float(np.finfo(dtype).tiny), float(np.finfo(dtype).max)
    exponent = ops.where(used, relative - shift[:, None, :], 0.0)
    scale = ops.exp(decay_rate * exponent) / a[:, None, :]
    one_plus_w = ops.maximum(1.0 + w, tiny)[:, None, :]
    d_weight = ops.clip((relative - crossing[:, None, :]) / one_plus_w, -huge, huge) * scale
    steep = ops.clip(decay_rate * (relative - mean_time[:, None, :]) / one_plus_w, -huge, huge)
    d_time = weights * scale * (steep + 1.0)
    d_weight = ops.where(used, ops.clip(d_weight, -clip, clip), 0.0)
    d_time = ops.where(used, ops.clip(d_time, -clip, clip), 0.0)
    return d_weight, d_time


def _first_spike(a, b, start, following, shift, decay_rate, threshold, in_time_order):
    """Accepted candidate of every (example, neuron) from the candidates' A, B.

    a, b: (batch, n, out) in the scale of each candidate's origin `shift`
    (batch, n); start, following: (batch, n) relative times of the
    candidates and of the input after each (+inf where none), start +inf
    for candidates that are not inputs.  The earliest valid candidate wins:
    with `in_time_order` (sorted inputs) that is the first valid one;
    otherwise no two candidates may share a start time (see
    `_dense_candidates`).  The test of every candidate feeds one reduction
    only (an argmin, a variadic reduction, is far slower in XLA:CPU); the
    accepted candidate's A, B are then gathered by its index, one value
    per (example, neuron), instead of a masked sum that would read every
    candidate's A, B again.  Where none fired, any candidate is gathered;
    the caller masks it out.
    Returns (fired, first, accepted): first (batch, out) the index of the
    accepted candidate (n where none; None without `in_time_order`),
    accepted an `Accepted`.
    """
    candidate = ops.isfinite(start)
    slack = _TOUCH_ULPS * float(np.finfo(_dtype_name(a)).eps)
    valid = _reaches_threshold(a, b, ops.where(candidate, start, 0.0)[:, :, None],
                               following[:, :, None], shift[:, :, None],
                               decay_rate, threshold, slack)
    valid = valid & candidate[:, :, None]
    n = start.shape[1]
    position = ops.arange(n, dtype="int32")[None, :, None]
    if in_time_order:
        first = ops.min(ops.where(valid, position, n), axis=1)
        fired = first < n
        index = ops.minimum(first, n - 1)
        accepted_shift = _pick(shift[:, :, None], index, out=1)
    else:
        earliest = ops.min(ops.where(valid, start[:, :, None], math.inf), axis=1)
        fired = ops.isfinite(earliest)
        first = None
        # Candidates have distinct start times: the one at `earliest` is the
        # accepted one, found without reading `valid` again.
        chosen = candidate[:, :, None] & (start[:, :, None] == earliest[:, None, :])
        index = ops.sum(ops.where(chosen, position, 0), axis=1)
        accepted_shift = ops.where(fired, earliest, 0.0)
    accepted = _crossing_time(_pick(a, index), _pick(b, index), accepted_shift,
                              decay_rate, threshold)
    return fired, first, accepted


def _pick(values, index, out=None):
    """values[b, index[b, j], j] of (batch, n, out) values, (batch, out) int32 index
    (values with one column, `out=1`: values[b, index[b, j], 0]).

    One gather from the flattened values with int32 positions (take_along_axis
    would make int64 ones, whose eager kernels print a oneDNN notice).
    """
    n, columns = values.shape[1], values.shape[2]
    examples = ops.arange(ops.shape(values)[0], dtype="int32")[:, None]
    column = ops.arange(columns, dtype="int32")[None, :] if out is None else 0
    position = (examples * n + index) * columns + column
    return ops.take(ops.reshape(values, (-1,)), position)


def _dense_candidates(inputs, weights, decay_rate):
    """Every input is a candidate; A, B by masked matrix products (few inputs).

    Candidate j uses its own time as origin: M[b, j, i] = [t_i <= t_j]
    e^{K (t_i - t_j)}, all exponents <= 0, so no overflow however far
    apart the inputs are.
    """
    finite = ops.isfinite(inputs)
    origin = ops.min(ops.where(finite, inputs, math.inf), axis=1, keepdims=True)
    origin = ops.where(ops.isfinite(origin), origin, 0.0)
    relative = ops.where(finite, inputs - origin, 0.0)
    start = ops.where(finite, relative, math.inf)
    arrived = (start[:, None, :] <= start[:, :, None]) & finite[:, None, :]
    gap = ops.minimum(relative[:, None, :] - relative[:, :, None], 0.0)
    growth = ops.where(arrived, ops.exp(decay_rate * gap), 0.0)
    masks = ops.concatenate([growth, growth * relative[:, None, :]], axis=1)
    n = inputs.shape[1]
    ab = ops.reshape(ops.matmul(ops.reshape(masks, (-1, n)), weights), (-1, 2 * n, weights.shape[1]))
    later = ops.where(start[:, None, :] > start[:, :, None], start[:, None, :], math.inf)
    following = ops.min(later, axis=2)
    # Tied inputs are identical candidates (same A, B and interval): keep the last.
    index = ops.arange(n, dtype="int32")
    tied_later = ops.any((start[:, None, :] == start[:, :, None])
                         & (index[None, :] > index[:, None])[None], axis=2)
    return Candidates(origin=origin, relative=relative, start=start,
                      candidate_start=ops.where(tied_later, math.inf, start),
                      following=following, a=ab[:, :n], b=ab[:, n:])


def _dense_spike_times(inputs, weights, decay_rate, threshold, clip, penalty):
    @ops.custom_gradient
    def _spike_times(inputs, weights):
        c = _dense_candidates(inputs, weights, decay_rate)
        fired, _, accepted = _first_spike(c.a, c.b, c.candidate_start, c.following,
                                          c.relative, decay_rate, threshold, in_time_order=False)
        result = ops.where(fired, accepted.crossing + c.origin, math.inf)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            upstream = ops.where(fired, upstream, 0.0)

            def elementwise():
                last_arrival = accepted.shift                # the accepted candidate's time
                used = (c.start[:, :, None] <= last_arrival[:, None, :]) & fired[:, None, :]
                d_weight, d_time = _local_derivatives(
                    c.relative[:, :, None], weights, used, accepted, decay_rate, clip)
                # A multiply-reduce: as an einsum, XLA:CPU transposes d_weight and
                # runs one small matrix product per output neuron.
                weight_grad = ops.sum(d_weight * upstream[:, None, :], axis=0)
                time_grad = ops.einsum("bio,bo->bi", d_time, upstream)
                return time_grad, weight_grad

            def after_last_input():
                return _gradients_after_last_input(c, weights, accepted, fired, upstream,
                                                   decay_rate)

            if _ALWAYS_ELEMENTWISE:
                time_grad, weight_grad = elementwise()
            else:
                separable = _fired_after_last_input_unclipped(c, weights, accepted, fired,
                                                              decay_rate, clip)
                time_grad, weight_grad = ops.cond(separable, after_last_input, elementwise)
            return time_grad, weight_grad - _penalty(fired, penalty, weights.dtype)

        return result, grad

    return _spike_times(inputs, weights)


def _fired_after_last_input_unclipped(c, weights, accepted, fired, decay_rate, clip):
    """Whether `_gradients_after_last_input` gives this batch's exact gradient.

    True when every neuron that fired did so after its example's last input
    (the usual case of an output layer: it fires after the hidden layer and
    the pulses), so every input is used, and a bound on every local
    derivative stays within the clip, so none is clipped.  With r' = t - R
    in [-R, 0] (R: the last input, relative), c' = t* - R, m' = B/A - R:
    |dt*/dw| <= (R + c') / (A (1 + W)) and
    |dt*/dt| <= max|w| (K (R + |m'|) / (1 + W) + 1) / A.  A NaN or
    infinite bound fails the test.
    """
    dtype = _dtype_name(weights)
    last = ops.max(c.relative, axis=1, keepdims=True)
    one_plus_w = ops.maximum(1.0 + accepted.w, float(np.finfo(dtype).tiny))
    late = accepted.crossing - last
    bound_weight = (last + ops.abs(late)) / (accepted.a * one_plus_w)
    largest_weight = ops.max(ops.abs(weights), axis=0)[None, :]
    bound_time = largest_weight * (decay_rate * (last + ops.abs(accepted.mean_time - last))
                                   / one_plus_w + 1.0) / accepted.a
    fits = (accepted.shift >= last) & (bound_weight <= clip) & (bound_time <= clip)
    return ops.all(fits | ops.logical_not(fired))


def _gradients_after_last_input(c, weights, accepted, fired, upstream, decay_rate):
    """The dense layer's (time, weight) gradients when every neuron fired after its last input.

    Then the accepted candidate of every neuron is the example's last input
    (time R), every input is used, and the scale e^{K (t - R)} / A of the
    local derivatives (`_local_derivatives`) is a product u_i / A_j with
    u_i = e^{K (t_i - R)} <= 1: the sums over examples and over neurons are
    matrix products of (batch, n) by (batch, out) factors, with no
    (batch, n, out) array.  With r' = t - R, c' = t* - R, m' = B/A - R,
    V = g / (A (1 + W)) for the upstream gradient g:
    dL/dw_ij = sum_b u_i (r'_i - c'_j) V_j and
    dL/dt_i = u_i (K r'_i sum_j w_ij V_j + sum_j w_ij (g_j / A_j - K m'_j V_j)).
    Valid only where `_fired_after_last_input_unclipped` holds.
    """
    dtype = _dtype_name(weights)
    last = ops.max(c.relative, axis=1, keepdims=True)
    before = c.relative - last                                     # r' <= 0
    decay = ops.where(ops.isfinite(c.start), ops.exp(decay_rate * before), 0.0)
    one_plus_w = ops.maximum(1.0 + accepted.w, float(np.finfo(dtype).tiny))
    per_a = ops.where(fired, upstream / accepted.a, 0.0)
    per_w = per_a / one_plus_w
    late = ops.where(fired, accepted.crossing - last, 0.0)
    mean = ops.where(fired, accepted.mean_time - last, 0.0)
    weight_grad = (ops.matmul(ops.transpose(decay * before), per_w)
                   - ops.matmul(ops.transpose(decay), late * per_w))
    transposed = ops.transpose(weights)
    steep = ops.matmul(per_w, transposed)
    flat = ops.matmul(per_a - decay_rate * mean * per_w, transposed)
    return decay * (decay_rate * before * steep + flat), weight_grad


def _merge_order(inputs, sorted_prefix):
    """argsort of rows whose first `sorted_prefix` columns are already ascending.

    The few remaining columns (e.g. the pulses) are merged in by counting:
    a tail element's rank is the number of head elements <= it plus the
    number of tail elements before it; no sort, gather or scatter (XLA's
    CPU sort of a few hundred columns is slow).  Ties put head elements
    first; any order of tied inputs gives the same spike times.
    """
    n = inputs.shape[1]
    head, tail = inputs[:, :sorted_prefix], inputs[:, sorted_prefix:]
    n_tail = n - sorted_prefix
    tail_index = ops.arange(n_tail, dtype="int32")
    head_count = ops.sum(ops.cast(head[:, :, None] <= tail[:, None, :], "int32"), axis=1)
    before = ((tail[:, :, None] < tail[:, None, :])
              | ((tail[:, :, None] == tail[:, None, :])
                 & (tail_index[:, None] < tail_index[None, :])[None]))
    tail_rank = head_count + ops.sum(ops.cast(before, "int32"), axis=1)          # (batch, tail)
    position = ops.arange(n, dtype="int32")[None, :, None]
    hit = tail_rank[:, None, :] == position                                       # (batch, n, tail)
    is_tail = ops.any(hit, axis=2)
    which = ops.sum(ops.where(hit, tail_index[None, None, :], 0), axis=2)
    tails_before = ops.sum(ops.cast(tail_rank[:, None, :] < position, "int32"), axis=2)
    return ops.where(is_tail, sorted_prefix + which, position[:, :, 0] - tails_before)


def _sorted_spike_times(inputs, input_rows, weights, decay_rate, threshold, clip, penalty,
                        sorted_prefix=0):
    n = inputs.shape[1]

    @ops.custom_gradient
    def _spike_times(inputs, weights):
        batch = ops.shape(inputs)[0]
        if sorted_prefix >= n:
            order = ops.broadcast_to(ops.arange(n, dtype="int32")[None, :], (batch, n))
        elif sorted_prefix:
            order = _merge_order(inputs, sorted_prefix)
        else:
            order = ops.argsort(inputs, axis=1)
        times = ops.take_along_axis(inputs, order, axis=1)
        rows = order if input_rows is None else ops.take_along_axis(input_rows, order, axis=1)
        sorted_weights = ops.take(weights, rows, axis=0)
        finite = ops.isfinite(times)
        origin = ops.where(finite[:, :1], times[:, :1], 0.0)
        relative = ops.where(finite, times - origin, 0.0)
        # Silent inputs (sorted last, zero weight here) keep the clock at the
        # last input that spikes, so every step of the clock is >= 0.
        clock = ops.where(finite, relative, ops.max(relative, axis=1, keepdims=True))
        weighted = ops.where(finite[:, :, None], sorted_weights, 0.0)
        ab, shift = _prefix_sums(weighted, relative, clock, finite, decay_rate)
        n_out = weights.shape[1]
        start = ops.where(finite, relative, math.inf)
        following = ops.concatenate(
            [start[:, 1:], ops.full((batch, 1), math.inf, dtype=inputs.dtype)], axis=1)
        fired, first, accepted = _first_spike(ab[:, :, :n_out], ab[:, :, n_out:], start,
                                              following, shift, decay_rate, threshold,
                                              in_time_order=True)
        result = ops.where(fired, accepted.crossing + origin, math.inf)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            upstream = ops.where(fired, upstream, 0.0)
            position = ops.arange(n, dtype="int32")[None, :, None]
            used = (position <= first[:, None, :]) & fired[:, None, :]
            d_weight, d_time = _local_derivatives(
                relative[:, :, None], sorted_weights, used, accepted, decay_rate, clip)
            per_input = ops.reshape(d_weight * upstream[:, None, :], (-1, n_out))
            weight_grad = ops.segment_sum(per_input, ops.reshape(rows, (-1,)),
                                          num_segments=weights.shape[0])
            time_grad = _unsort(ops.sum(d_time * upstream[:, None, :], axis=2), order)
            return time_grad, weight_grad - _penalty(fired, penalty, weights.dtype)

        return result, grad

    return _spike_times(inputs, weights)


def _unsort(values, order):
    """out[b, order[b, k]] = values[b, k]."""
    batch, n = ops.shape(order)
    examples = ops.broadcast_to(ops.arange(batch, dtype="int32")[:, None], (batch, n))
    indices = ops.stack([ops.reshape(examples, (-1,)),
                         ops.reshape(ops.cast(order, "int32"), (-1,))], axis=1)
    return ops.scatter(indices, ops.reshape(values, (-1,)), (batch, n))


def _penalty(fired, penalty, dtype):
    """The no-spike push: penalty x the share of examples in which a neuron was silent."""
    silent = ops.sum(ops.cast(ops.logical_not(fired), dtype), axis=0)
    examples = ops.maximum(ops.cast(ops.shape(fired)[0], dtype), 1.0)
    return penalty * (silent / examples)[None, :]


def _silent_layer(inputs, weights, penalty):
    """All neurons silent, for a layer without examples, inputs or outputs.

    The gradient is zero, except for the no-spike push of every neuron that
    has examples and incoming weights (input_rows with zero columns).
    """
    n_out = weights.shape[1]

    @ops.custom_gradient
    def _spike_times(inputs, weights):
        batch = ops.shape(inputs)[0]
        result = ops.full((batch, n_out), math.inf, dtype=inputs.dtype)

        def grad(*args, upstream=None):
            has_examples = ops.cast(ops.minimum(batch, 1), weights.dtype)
            return ops.zeros_like(inputs), ops.zeros_like(weights) - penalty * has_examples

        return result, grad

    return _spike_times(inputs, weights)


def _check_arguments(inputs, weights, input_rows, sorted_prefix):
    """Shapes and dtypes (static), then values where they are concrete."""
    dtype = validation.check_float_dtype("inputs", inputs)
    validation.check_float_dtype("weights", weights)
    if validation.dtype_name(weights) != dtype:
        raise TypeError(f"weights must have the dtype of inputs ({dtype}), got "
                        f"{validation.dtype_name(weights)}; cast one of them")
    batch, n = validation.check_rank("inputs", inputs, 2, "(batch, n_inputs)")
    n_rows, _ = validation.check_rank("weights", weights, 2, "(n_inputs, n_outputs)")
    if n is None:
        raise ValueError(f"inputs must have a known number of columns, got shape {(batch, n)}")
    if input_rows is None:
        if n_rows is not None and n_rows != n:
            raise ValueError(f"weights must have one row per input column: expected {n} rows for "
                             f"inputs of shape {(batch, n)}, got weights of shape "
                             f"{validation.shape_of(weights)}")
    else:
        validation.check_integer_dtype("input_rows", input_rows)
        rows_shape = validation.shape_of(input_rows)
        if rows_shape is None or len(rows_shape) != 2 or any(
                a is not None and b is not None and a != b for a, b in zip(rows_shape, (batch, n))):
            raise ValueError(f"input_rows must have the shape of inputs {(batch, n)}, got "
                             f"{rows_shape}")
        validation.check_index("input_rows", input_rows, n_rows)
    sorted_prefix = validation.check_integer("sorted_prefix", sorted_prefix, minimum=0, maximum=n)
    validation.check_spike_times("inputs", inputs)
    validation.check_finite("weights", weights)
    validation.check_ascending("inputs", inputs, sorted_prefix)
    return sorted_prefix


def spike_times(inputs, weights, decay_rate, threshold,
                clip_derivative=math.inf, penalty_no_spike=0.0, input_rows=None,
                sorted_prefix=0):
    """First spike time of every neuron of a layer, +inf where it is silent.

    inputs: (batch, n) input spike times, +inf for inputs that never spike
    (float32 or float64; NaN and -inf are refused).
    weights: (n_rows, n_out) finite synaptic weights (negative =
    inhibitory), of the dtype of `inputs`.
    decay_rate, threshold: K and theta of the alpha kernel (positive python
    floats).
    clip_derivative, penalty_no_spike: the reference gradient semantics
    (clip > 0, may be inf; penalty >= 0); the penalty is averaged over the
    batch like the loss and goes to every row of `weights`.
    input_rows: optional (batch, n) int weight row of each input (an
    "events" representation, e.g. only the non-silent inputs of each
    example); by default input i uses row i (n_rows = n).
    sorted_prefix: the number of leading columns of `inputs` that are
    already ascending (+inf last) in every row, e.g. pre-sorted events
    followed by pulses; the other columns are merged in without a sort.
    Returns (batch, n_out) spike times; an empty batch, layer without
    inputs or without outputs gives the empty or all-silent result.
    Bad arguments raise TypeError / ValueError (see `spikelib.validation`;
    value checks run only where the tensors are concrete, not while traced).
    """
    decay_rate = validation.check_real("decay_rate", decay_rate, minimum=0.0, strict=True)
    threshold = validation.check_real("threshold", threshold, minimum=0.0, strict=True)
    clip = validation.check_real("clip_derivative", clip_derivative, minimum=0.0, strict=True,
                                 allow_inf=True)
    penalty = validation.check_real("penalty_no_spike", penalty_no_spike, minimum=0.0)
    # ops.copy reads variables into plain tensors, as the custom gradient expects.
    inputs = ops.copy(inputs)
    weights = ops.copy(weights)
    if input_rows is not None:
        input_rows = ops.convert_to_tensor(input_rows)
    sorted_prefix = _check_arguments(inputs, weights, input_rows, sorted_prefix)
    batch, n = inputs.shape
    if batch == 0 or n == 0 or weights.shape[1] == 0:
        return _silent_layer(inputs, weights, penalty)
    if input_rows is None and n <= DENSE_LIMIT:
        return _dense_spike_times(inputs, weights, decay_rate, threshold, clip, penalty)
    return _sorted_spike_times(inputs, input_rows, weights, decay_rate, threshold, clip, penalty,
                               sorted_prefix)
