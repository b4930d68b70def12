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

The gradient is the reference implementation's (model spec §3, §7): exact
local derivatives clipped to [-clip, clip], and for every example in which
a neuron stays silent a push of -penalty on each of its incoming weights
(all rows of the weight matrix, including silent inputs) instead of the
chain rule; silent neurons pass no error backwards.
"""

import math

from keras import ops

from spikelib.lambertw import lambertw

# Up to this many inputs the dense formulation is used.
DENSE_LIMIT = 64
# Block length of the prefix sums, computed as small triangular matrix products.
_PREFIX_BLOCK = 16


def _prefix_sums(values):
    """Inclusive cumulative sum over axis 1 of (batch, n, c), via matrix products.

    XLA's cumsum (and batched small matmuls) are slow on CPU: sums within
    blocks of _PREFIX_BLOCK inputs and an exclusive sum of the block totals
    are two plain matrix products with triangular matrices.
    """
    n, channels = values.shape[1], values.shape[2]
    blocks = -(-n // _PREFIX_BLOCK)
    padded = ops.pad(values, ((0, 0), (0, blocks * _PREFIX_BLOCK - n), (0, 0)))
    padded = ops.transpose(ops.reshape(padded, (-1, blocks, _PREFIX_BLOCK, channels)), (0, 1, 3, 2))
    within = ops.triu(ops.ones((_PREFIX_BLOCK, _PREFIX_BLOCK), values.dtype))
    inner = ops.reshape(ops.matmul(ops.reshape(padded, (-1, _PREFIX_BLOCK)), within),
                        (-1, blocks, channels, _PREFIX_BLOCK))
    totals = ops.reshape(ops.transpose(inner[:, :, :, -1], (0, 2, 1)), (-1, blocks))
    before = ops.triu(ops.ones((blocks, blocks), values.dtype), 1)
    offsets = ops.transpose(ops.reshape(ops.matmul(totals, before), (-1, channels, blocks)), (0, 2, 1))
    total = ops.transpose(inner + offsets[:, :, :, None], (0, 1, 3, 2))
    return ops.reshape(total, (-1, blocks * _PREFIX_BLOCK, channels))[:, :n, :]


def _reaches_threshold(a, b, start, following, decay_rate, threshold):
    """Whether the potential after a candidate reaches theta in [start, following].

    After candidate k the potential e^{-Kt}(A_k t - B_k) is unimodal with its
    peak at B_k/A_k + 1/K (it only falls when A_k <= 0), so it reaches theta
    on the interval exactly when its maximum there does.  One exp per
    candidate; Lambert W is needed only for the accepted one.
    start, following: (batch, n, 1) relative times (following +inf at the end).
    """
    positive = a > 0.0
    peak = b / ops.where(positive, a, 1.0) + 1.0 / decay_rate
    peak = ops.minimum(ops.maximum(peak, start), following)
    potential = ops.exp(-decay_rate * (peak - start)) * (a * peak - b)
    return positive & (potential >= threshold * ops.exp(decay_rate * start))


def _crossing_time(a, b, decay_rate, threshold):
    """t* = B/A - W0(x)/K with x = -(K theta / A) exp(K B / A), for A > 0."""
    a = ops.where(a > 0.0, a, 1.0)
    mean_time = b / a
    log_minus_x = math.log(decay_rate * threshold) - ops.log(a) + decay_rate * mean_time
    w = lambertw(-ops.exp(ops.minimum(log_minus_x, -1.0)))
    return a, mean_time, w, mean_time - w / decay_rate


def _accepted(values, first):
    """values[b, first[b, j], j]: the quantity of the accepted candidate."""
    return ops.squeeze(ops.take_along_axis(values, first[:, None, :], axis=1), axis=1)


def _local_derivatives(relative, growth, weights, used, accepted, decay_rate, clip):
    """Clipped dt*/dw and dt*/dt_in, zero where `used` is false.

    relative, growth: (batch, n, 1); weights: (n, out) or (batch, n, out);
    used: (batch, n, out) inputs that arrived by the accepted candidate.
    """
    a, mean_time, w, crossing = accepted
    denominator = a * (1.0 + w)
    denominator = ops.where(ops.abs(denominator) > 0.0, denominator, 1.0)[:, None, :]
    d_weight = growth * (relative - crossing[:, None, :]) / denominator
    d_time = (weights * growth
              * (decay_rate * (relative - mean_time[:, None, :]) + w[:, None, :] + 1.0)
              / denominator)
    d_weight = ops.where(used, ops.clip(d_weight, -clip, clip), 0.0)
    d_time = ops.where(used, ops.clip(d_time, -clip, clip), 0.0)
    return d_weight, d_time


def _first_spike(a, b, start, following, decay_rate, threshold):
    """Accepted candidate of every (example, neuron) from the candidates' A, B.

    a, b: (batch, n, out); start, following: (batch, n) relative times of the
    candidates and of the input after each (+inf where none), start +inf
    for candidates that are not inputs.  The earliest valid candidate wins.
    Returns (fired, first, accepted) with accepted = (A, B/A, W, t*).
    """
    candidate = ops.isfinite(start)
    valid = _reaches_threshold(a, b, ops.where(candidate, start, 0.0)[:, :, None],
                               following[:, :, None], decay_rate, threshold)
    valid = valid & candidate[:, :, None]
    fired = ops.any(valid, axis=1)
    first = ops.argmin(ops.where(valid, start[:, :, None], math.inf), axis=1)
    accepted = _crossing_time(_accepted(a, first), _accepted(b, first), decay_rate, threshold)
    return fired, first, accepted


def _dense_candidates(inputs, weights, decay_rate):
    """Every input is a candidate; A, B by masked matrix products (few inputs)."""
    finite = ops.isfinite(inputs)
    origin = ops.min(ops.where(finite, inputs, math.inf), axis=1, keepdims=True)
    origin = ops.where(ops.isfinite(origin), origin, 0.0)
    relative = ops.where(finite, inputs - origin, 0.0)
    growth = ops.where(finite, ops.exp(decay_rate * relative), 0.0)
    start = ops.where(finite, relative, math.inf)
    arrived = start[:, None, :] <= start[:, :, None]
    masks = ops.concatenate([ops.where(arrived, growth[:, None, :], 0.0),
                             ops.where(arrived, (relative * growth)[:, None, :], 0.0)], axis=1)
    n = inputs.shape[1]
    ab = ops.reshape(ops.matmul(ops.reshape(masks, (-1, n)), weights), (-1, 2 * n, weights.shape[1]))
    later = ops.where(start[:, None, :] > start[:, :, None], start[:, None, :], math.inf)
    following = ops.min(later, axis=2)
    return dict(origin=origin, relative=relative, growth=growth, start=start,
                following=following, a=ab[:, :n], b=ab[:, n:])


def _dense_spike_times(inputs, weights, decay_rate, threshold, clip, penalty):
    @ops.custom_gradient
    def _spike_times(inputs, weights):
        c = _dense_candidates(inputs, weights, decay_rate)
        fired, first, accepted = _first_spike(c["a"], c["b"], c["start"], c["following"],
                                              decay_rate, threshold)
        result = ops.where(fired, accepted[3] + c["origin"], math.inf)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            upstream = ops.where(fired, upstream, 0.0)
            last_arrival = _accepted(c["start"][:, :, None], first)
            used = (c["start"][:, :, None] <= last_arrival[:, None, :]) & fired[:, None, :]
            d_weight, d_time = _local_derivatives(
                c["relative"][:, :, None], c["growth"][:, :, None], weights, used,
                accepted, decay_rate, clip)
            weight_grad = ops.einsum("bio,bo->io", d_weight, upstream)
            time_grad = ops.einsum("bio,bo->bi", d_time, upstream)
            return time_grad, weight_grad - _penalty(fired, penalty, weights.dtype)

        return result, grad

    return _spike_times(inputs, weights)


def _sorted_spike_times(inputs, input_rows, weights, decay_rate, threshold, clip, penalty):
    @ops.custom_gradient
    def _spike_times(inputs, weights):
        batch, n = ops.shape(inputs)
        order = ops.argsort(inputs, axis=1)
        times = ops.take_along_axis(inputs, order, axis=1)
        rows = order if input_rows is None else ops.take_along_axis(input_rows, order, axis=1)
        sorted_weights = ops.take(weights, rows, axis=0)
        finite = ops.isfinite(times)
        origin = ops.where(finite[:, :1], times[:, :1], 0.0)
        relative = ops.where(finite, times - origin, 0.0)
        growth = ops.where(finite, ops.exp(decay_rate * relative), 0.0)
        weighted = sorted_weights * growth[:, :, None]
        ab = _prefix_sums(ops.concatenate([weighted, weighted * relative[:, :, None]], axis=2))
        n_out = ops.shape(weights)[1]
        start = ops.where(finite, relative, math.inf)
        following = ops.concatenate([start[:, 1:], ops.full((batch, 1), math.inf)], axis=1)
        fired, first, accepted = _first_spike(ab[:, :, :n_out], ab[:, :, n_out:], start,
                                              following, decay_rate, threshold)
        result = ops.where(fired, accepted[3] + origin, math.inf)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            upstream = ops.where(fired, upstream, 0.0)
            position = ops.arange(n)[None, :, None]
            used = (position <= first[:, None, :]) & fired[:, None, :]
            d_weight, d_time = _local_derivatives(
                relative[:, :, None], growth[:, :, None], sorted_weights, used,
                accepted, decay_rate, clip)
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
                clip_derivative=math.inf, penalty_no_spike=0.0, input_rows=None):
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
    Returns (batch, n_out) spike times.
    """
    if decay_rate <= 0 or threshold <= 0:
        raise ValueError(f"decay_rate and threshold must be positive, got {decay_rate}, {threshold}")
    clip, penalty = float(clip_derivative), float(penalty_no_spike)
    # ops.copy reads variables into plain tensors, as the custom gradient expects.
    inputs, weights = ops.copy(inputs), ops.copy(weights)
    if input_rows is None and inputs.shape[1] is not None and inputs.shape[1] <= DENSE_LIMIT:
        return _dense_spike_times(inputs, weights, decay_rate, threshold, clip, penalty)
    return _sorted_spike_times(inputs, input_rows, weights, decay_rate, threshold, clip, penalty)
