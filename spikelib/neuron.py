"""First spike times of a layer of alpha-kernel neurons, in closed form.

A neuron j receiving spikes at times t_i through weights w_ji has membrane
potential V_j(t) = sum_i w_ji (t - t_i) exp(-K (t - t_i)) over the inputs
with t_i < t, fires once, at the first t with V_j(t) = theta, and is silent
(+inf) if it never gets there.  With A_k = sum w e^{K t}, B_k = sum w t e^{K t}
over the inputs that arrived by input k, the crossing after input k is
t_k = B_k/A_k - W0(x_k)/K with x_k = -(K theta / A_k) exp(K B_k / A_k)
(model spec §2).  The spike time is the first t_k that exists and falls
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
taken relative to any origin.  The dense path uses each candidate's own
time, M[b, j, i] = [t_i <= t_j] e^{K (t_i - t_j)}, so every exponent is
<= 0 and inputs may lie arbitrarily far apart.  The sorted path uses the
first (earliest) input of each block of _PREFIX_BLOCK = 16 sorted inputs
as that block's origin, and carries the sums of earlier blocks over with
factors e^{K (s_m - s_k)} <= 1.  Its remaining limit: the exponents
K (t_i - s) within one block must stay below the dtype's log(max), i.e.
16 consecutive (sorted) inputs of one example must not span more than
~88/K in float32 (~709/K in float64), or the neuron is reported silent.
(Image inputs lie in [0, 1]; pulses are single inputs.)

The gradient is the reference implementation's (model spec §3, §7): exact
local derivatives clipped to [-clip, clip], and for every example in which
a neuron stays silent a push of -penalty on each of its incoming weights
(all rows of the weight matrix, including silent inputs) instead of the
chain rule; silent neurons pass no error backwards.
"""

import math

import keras
import numpy as np
from keras import ops

from spikelib.lambertw import lambertw

# Up to this many inputs the dense formulation is used.
DENSE_LIMIT = 64
# Block length of the prefix sums, computed as small triangular matrix products.
_PREFIX_BLOCK = 16
# Relative slack (in units of the dtype's epsilon) of the "potential reaches
# theta" test: an exact touch (x = -1/e) must not depend on how exp rounds.
_TOUCH_ULPS = 8.0


def _dtype_name(tensor):
    return keras.backend.standardize_dtype(tensor.dtype)


def _block_prefix_sums(values, block_shift, decay_rate):
    """Inclusive cumulative sum over axis 1 of (batch, n, c), blockwise rescaled.

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
        earlier = ops.arange(blocks)[None, :] < ops.arange(blocks)[:, None]
        decay = ops.where(earlier[None], ops.exp(decay_rate * ops.minimum(gap, 0.0)), 0.0)
        offsets = ops.matmul(decay, totals)                          # (batch, k, c)
        inner = inner + offsets[:, :, :, None]
    total = ops.transpose(inner, (0, 1, 3, 2))
    return ops.reshape(total, (-1, blocks * _PREFIX_BLOCK, channels))[:, :n, :]


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


def _crossing_time(a, b, shift, decay_rate, threshold):
    """t* = B/A - W0(x)/K with x = -(K theta / A) exp(K B / A), for A > 0.

    a, b in the scale of origin `shift`: A = a e^{K shift}, B/A = b/a.
    """
    a = ops.where(a > 0.0, a, 1.0)
    mean_time = b / a
    log_minus_x = (math.log(decay_rate * threshold) - ops.log(a)
                   + decay_rate * (mean_time - shift))
    w = lambertw(-ops.exp(ops.minimum(log_minus_x, -1.0)))
    return a, mean_time, w, mean_time - w / decay_rate, shift


def _accepted(values, chosen):
    """values[b, first[b, j], j]: the quantity of the accepted candidate.

    chosen: (batch, n, out) one-hot over the candidates (all false where
    none was accepted: 0).  A masked sum, i.e. a plain reduction: XLA's CPU
    gather and argmin (a variadic reduction) are far slower.
    """
    return ops.sum(ops.where(chosen, values, 0.0), axis=1)


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
    `_dense_candidates`).  Each is one reduction over the candidates; an
    argmin (a variadic reduction) or a gather is far slower in XLA:CPU.
    Returns (fired, first, accepted): first (batch, out) the index of the
    accepted candidate (n where none; None without `in_time_order`),
    accepted = (A, B/A, W, t*, shift).
    """
    candidate = ops.isfinite(start)
    slack = _TOUCH_ULPS * float(np.finfo(_dtype_name(a)).eps)
    valid = _reaches_threshold(a, b, ops.where(candidate, start, 0.0)[:, :, None],
                               following[:, :, None], shift[:, :, None],
                               decay_rate, threshold, slack)
    valid = valid & candidate[:, :, None]
    n = start.shape[1]
    if in_time_order:
        position = ops.arange(n, dtype="int32")[None, :, None]
        first = ops.min(ops.where(valid, position, n), axis=1)
        fired = first < n
        chosen = position == first[:, None, :]
        accepted_shift = _accepted(shift[:, :, None], chosen)
    else:
        earliest = ops.min(ops.where(valid, start[:, :, None], math.inf), axis=1)
        fired = ops.isfinite(earliest)
        first = None
        chosen = valid & (start[:, :, None] == earliest[:, None, :])
        accepted_shift = ops.where(fired, earliest, 0.0)
    accepted = _crossing_time(_accepted(a, chosen), _accepted(b, chosen), accepted_shift,
                              decay_rate, threshold)
    return fired, first, accepted


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
    index = ops.arange(n)
    tied_later = ops.any((start[:, None, :] == start[:, :, None])
                         & (index[None, :] > index[:, None])[None], axis=2)
    return dict(origin=origin, relative=relative, start=start, shift=relative,
                candidate_start=ops.where(tied_later, math.inf, start),
                following=following, a=ab[:, :n], b=ab[:, n:])


def _dense_spike_times(inputs, weights, decay_rate, threshold, clip, penalty):
    @ops.custom_gradient
    def _spike_times(inputs, weights):
        c = _dense_candidates(inputs, weights, decay_rate)
        fired, _, accepted = _first_spike(c["a"], c["b"], c["candidate_start"], c["following"],
                                          c["shift"], decay_rate, threshold, in_time_order=False)
        result = ops.where(fired, accepted[3] + c["origin"], math.inf)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            upstream = ops.where(fired, upstream, 0.0)
            last_arrival = accepted[4]                       # the accepted candidate's time
            used = (c["start"][:, :, None] <= last_arrival[:, None, :]) & fired[:, None, :]
            d_weight, d_time = _local_derivatives(
                c["relative"][:, :, None], weights, used, accepted, decay_rate, clip)
            # A multiply-reduce: as an einsum, XLA:CPU transposes d_weight and
            # runs one small matrix product per output neuron.
            weight_grad = ops.sum(d_weight * upstream[:, None, :], axis=0)
            time_grad = ops.einsum("bio,bo->bi", d_time, upstream)
            return time_grad, weight_grad - _penalty(fired, penalty, weights.dtype)

        return result, grad

    return _spike_times(inputs, weights)


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
    @ops.custom_gradient
    def _spike_times(inputs, weights):
        batch, n = ops.shape(inputs)
        if sorted_prefix:
            order = _merge_order(inputs, sorted_prefix)
        else:
            order = ops.argsort(inputs, axis=1)
        times = ops.take_along_axis(inputs, order, axis=1)
        rows = order if input_rows is None else ops.take_along_axis(input_rows, order, axis=1)
        sorted_weights = ops.take(weights, rows, axis=0)
        finite = ops.isfinite(times)
        origin = ops.where(finite[:, :1], times[:, :1], 0.0)
        relative = ops.where(finite, times - origin, 0.0)
        block_shift, shift = _block_origins(relative, finite)
        growth = ops.where(finite, ops.exp(decay_rate * (relative - shift)), 0.0)
        weighted = sorted_weights * growth[:, :, None]
        ab = _block_prefix_sums(ops.concatenate([weighted, weighted * relative[:, :, None]], axis=2),
                                block_shift, decay_rate)
        n_out = ops.shape(weights)[1]
        start = ops.where(finite, relative, math.inf)
        following = ops.concatenate([start[:, 1:], ops.full((batch, 1), math.inf)], axis=1)
        fired, first, accepted = _first_spike(ab[:, :, :n_out], ab[:, :, n_out:], start,
                                              following, shift, decay_rate, threshold,
                                              in_time_order=True)
        result = ops.where(fired, accepted[3] + origin, math.inf)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            upstream = ops.where(fired, upstream, 0.0)
            position = ops.arange(n)[None, :, None]
            used = (position <= first[:, None, :]) & fired[:, None, :]
            d_weight, d_time = _local_derivatives(
                relative[:, :, None], sorted_weights, used, accepted, decay_rate, clip)
            per_input = ops.reshape(d_weight * upstream[:, None, :], (-1, n_out))
            weight_grad = ops.segment_sum(per_input, ops.reshape(rows, (-1,)),
                                          num_segments=ops.shape(weights)[0])
            time_grad = _unsort(ops.sum(d_time * upstream[:, None, :], axis=2), order)
            return time_grad, weight_grad - _penalty(fired, penalty, weights.dtype)

        return result, grad

    return _spike_times(inputs, weights)


def _unsort(values, order):
    """out[b, order[b, k]] = values[b, k]."""
    batch, n = ops.shape(order)
    examples = ops.broadcast_to(ops.arange(batch)[:, None], (batch, n))
    indices = ops.stack([ops.reshape(examples, (-1,)), ops.reshape(order, (-1,))], axis=1)
    return ops.scatter(indices, ops.reshape(values, (-1,)), (batch, n))


def _penalty(fired, penalty, dtype):
    """The no-spike push: penalty x the share of examples in which a neuron was silent."""
    silent = ops.mean(ops.cast(ops.logical_not(fired), dtype), axis=0)
    return penalty * silent[None, :]


def spike_times(inputs, weights, decay_rate, threshold,
                clip_derivative=math.inf, penalty_no_spike=0.0, input_rows=None,
                sorted_prefix=0):
    """First spike time of every neuron of a layer, +inf where it is silent.

    inputs: (batch, n) input spike times, +inf for inputs that never spike.
    weights: (n_rows, n_out) synaptic weights (negative = inhibitory).
    decay_rate, threshold: K and theta of the alpha kernel (python floats).
    clip_derivative, penalty_no_spike: the reference gradient semantics;
    the penalty is averaged over the batch like the loss and goes to every
    row of `weights`.
    input_rows: optional (batch, n) int weight row of each input (an
    "events" representation, e.g. only the non-silent inputs of each
    example); by default input i uses row i (n_rows = n).
    sorted_prefix: the number of leading columns of `inputs` that are
    already ascending (+inf last) in every row, e.g. pre-sorted events
    followed by pulses; the other columns are merged in without a sort.
    Returns (batch, n_out) spike times.
    """
    if decay_rate <= 0 or threshold <= 0:
        raise ValueError(f"decay_rate and threshold must be positive, got {decay_rate}, {threshold}")
    clip, penalty = float(clip_derivative), float(penalty_no_spike)
    # ops.copy reads variables into plain tensors, as the custom gradient expects.
    inputs, weights = ops.copy(inputs), ops.copy(weights)
    if input_rows is None and inputs.shape[1] is not None and inputs.shape[1] <= DENSE_LIMIT:
        return _dense_spike_times(inputs, weights, decay_rate, threshold, clip, penalty)
    return _sorted_spike_times(inputs, input_rows, weights, decay_rate, threshold, clip, penalty,
                               int(sorted_prefix))
