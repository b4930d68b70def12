"""First spike times of a layer of alpha-kernel neurons, in closed form.

A neuron j receiving spikes at times t_i through weights w_ji has membrane
potential V_j(t) = sum_i w_ji (t - t_i) exp(-K (t - t_i)) over the inputs
with t_i < t, fires once, at the first t with V_j(t) = theta, and is silent
(+inf) if it never gets there.  With the inputs sorted by time and prefix
sums A_k = sum w e^{K t}, B_k = sum w t e^{K t} over the first k of them,
the crossing after input k is t_k = B_k/A_k - W0(x_k)/K with
x_k = -(K theta / A_k) exp(K B_k / A_k) (model spec §2).  The spike time is
the first t_k that exists and falls between input k and input k+1; it is
found as the first interval in which the potential reaches theta.

The gradient is the reference implementation's (model spec §3, §7): exact
local derivatives clipped to [-clip, clip], and for every example in which
a neuron stays silent a push of -penalty on each of its incoming weights
instead of the chain rule; silent neurons pass no error backwards.
"""

import math

import keras
from keras import ops

from spikelib.lambertw import lambertw


def _take_rows(weights, order):
    """weights[order[b, k], :] for every example b: (batch, n, n_out)."""
    return ops.take(weights, order, axis=0)


def _prefix_sums(times, weights, decay_rate):
    """A_k, B_k of every prefix of the time-sorted inputs (model spec §2).

    Times are taken relative to the earliest input of each example (the
    spike-time formula is shift invariant) so that exp(K t) stays in range.
    """
    finite = ops.isfinite(times)
    origin = ops.where(finite[:, :1], times[:, :1], 0.0)
    relative = ops.where(finite, times - origin, 0.0)
    growth = ops.where(finite, ops.exp(decay_rate * relative), 0.0)
    a = ops.cumsum(weights * growth[:, :, None], axis=1)
    b = ops.cumsum(weights * (relative * growth)[:, :, None], axis=1)
    return dict(finite=finite, origin=origin, relative=relative, growth=growth, a=a, b=b)


def _crossing_intervals(p, decay_rate, threshold):
    """Whether the potential reaches theta between input k and input k+1.

    After input k the potential e^{-Kt}(A_k t - B_k) is unimodal with its
    peak at B_k/A_k + 1/K (it only falls when A_k <= 0), so it reaches theta
    on [t_(k), t_(k+1)] exactly when its maximum there does.  The first such
    interval holds the spike; this needs one exp per candidate, and Lambert
    W only for the accepted one.
    """
    relative, finite, a, b = p["relative"], p["finite"], p["a"], p["b"]
    following = ops.concatenate([relative[:, 1:], relative[:, -1:]], axis=1)
    following_finite = ops.concatenate(
        [finite[:, 1:], ops.zeros_like(finite[:, :1])], axis=1)
    positive = a > 0.0
    peak = b / ops.where(positive, a, 1.0) + 1.0 / decay_rate
    start = relative[:, :, None]
    peak = ops.maximum(peak, start)
    peak = ops.where(following_finite[:, :, None],
                     ops.minimum(peak, following[:, :, None]), peak)
    potential = ops.exp(-decay_rate * (peak - start)) * (a * peak - b)
    return positive & finite[:, :, None] & (
        potential >= threshold * ops.exp(decay_rate * start))


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


def _local_derivatives(p, sorted_weights, first, fired, accepted, decay_rate, clip):
    """Clipped dt*/dw and dt*/dt_in for every (example, sorted input, neuron)."""
    a, mean_time, w, crossing = accepted
    denominator = a * (1.0 + w)
    denominator = ops.where(ops.abs(denominator) > 0.0, denominator, 1.0)
    growth = p["growth"][:, :, None]
    relative = p["relative"][:, :, None]
    position = ops.arange(ops.shape(sorted_weights)[1])[None, :, None]
    used = ops.logical_and(position <= first[:, None, :], fired[:, None, :])
    d_weight = growth * (relative - crossing[:, None, :]) / denominator[:, None, :]
    d_time = (sorted_weights * growth
              * (decay_rate * (relative - mean_time[:, None, :]) + w[:, None, :] + 1.0)
              / denominator[:, None, :])
    d_weight = ops.where(used, ops.clip(d_weight, -clip, clip), 0.0)
    d_time = ops.where(used, ops.clip(d_time, -clip, clip), 0.0)
    return d_weight, d_time


def spike_times(inputs, weights, decay_rate, threshold,
                clip_derivative=math.inf, penalty_no_spike=0.0):
    """First spike time of every neuron of a layer, +inf where it is silent.

    inputs: (batch, n_in) input spike times, +inf for inputs that never spike.
    weights: (n_in, n_out) synaptic weights (negative = inhibitory).
    decay_rate, threshold: K and theta of the alpha kernel (python floats).
    clip_derivative, penalty_no_spike: the reference gradient semantics;
    the penalty is averaged over the batch like the loss.
    Returns (batch, n_out) spike times.
    """
    if decay_rate <= 0 or threshold <= 0:
        raise ValueError(f"decay_rate and threshold must be positive, got {decay_rate}, {threshold}")
    clip = float(clip_derivative)

    @ops.custom_gradient
    def _spike_times(inputs, weights):
        order = ops.argsort(inputs, axis=1)
        times = ops.take_along_axis(inputs, order, axis=1)
        sorted_weights = _take_rows(weights, order)
        p = _prefix_sums(times, sorted_weights, decay_rate)
        valid = _crossing_intervals(p, decay_rate, threshold)
        fired = ops.any(valid, axis=1)
        first = ops.argmax(ops.cast(valid, "int32"), axis=1)
        accepted = _crossing_time(_accepted(p["a"], first), _accepted(p["b"], first),
                                  decay_rate, threshold)
        result = ops.where(fired, accepted[3] + p["origin"], math.inf)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            upstream = ops.where(fired, upstream, 0.0)
            d_weight, d_time = _local_derivatives(
                p, sorted_weights, first, fired, accepted, decay_rate, clip)
            batch, n_in = ops.shape(inputs)[0], ops.shape(inputs)[1]
            per_input = ops.reshape(d_weight * upstream[:, None, :], (-1, ops.shape(weights)[1]))
            weight_grad = ops.segment_sum(per_input, ops.reshape(order, (-1,)), num_segments=n_in)
            silent = ops.sum(ops.cast(ops.logical_not(fired), weights.dtype), axis=0)
            weight_grad = weight_grad - penalty_no_spike * silent[None, :] / ops.cast(batch, weights.dtype)
            time_grad_sorted = ops.sum(d_time * upstream[:, None, :], axis=2)
            time_grad = ops.take_along_axis(time_grad_sorted, ops.argsort(order, axis=1), axis=1)
            return time_grad, weight_grad

        return result, grad

    # ops.copy reads variables into plain tensors, as the custom gradient expects.
    return _spike_times(ops.copy(inputs), ops.copy(weights))
