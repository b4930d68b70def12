"""Plain sequential float64 reference of an alpha-kernel neuron's first spike.

Deliberately simple and independent of spikelib (which it must not import):
python loops over the arrival events of one neuron in time order.  After
every event (all inputs arriving at that same time) the potential is
e^{-Kt} (A t - B); its rising crossing of theta, if any, is
t = B/A - W0(x)/K with x = -(K theta / A) exp(K B / A) (the model page, spike times),
computed with scipy's Lambert W, with times measured from the latest event
(see `first_spike`).  The crossing is accepted if it lies between
this event and the next one.  Derivatives follow the model page, gradient.
"""

import math

import numpy as np
import scipy.special

INV_E = math.exp(-1.0)


def _events(times):
    """Arrival events in time order: list of (time, [input indices])."""
    events = []
    for i in sorted(range(len(times)), key=lambda i: times[i]):
        t = float(times[i])
        if not math.isfinite(t):
            continue
        if events and events[-1][0] == t:
            events[-1][1].append(i)
        else:
            events.append((t, [i]))
    return events


def first_spike(times, weights, decay_rate, threshold):
    """First spike of one neuron: a dict with its time (inf if silent) and details.

    times: n_in input spike times (+inf = silent); weights: n_in weights.
    A and B are kept relative to the latest event time (origin): moving the
    origin forward by d multiplies A by e^{-Kd} and B becomes e^{-Kd}(B - d A),
    so nothing overflows however far apart the inputs are.
    Returned keys: time, a, b, w (the accepted candidate's A, B relative to
    `origin`, and W0), origin, used (inputs that arrived before the spike),
    pending (crossings of earlier prefixes that the next input pre-empted by
    arriving first), prevented (True if one of those pending crossings is
    earlier than the actual spike, or the neuron stays silent: the later
    inputs, inhibitory ones, delayed or cancelled it), margin (the accepted
    crossing's distance to the nearest input time), branch_gap (1 + W of the
    accepted candidate).
    """
    k, theta = float(decay_rate), float(threshold)
    events = _events(times)
    result = dict(time=math.inf, pending=[], used=[])
    a = b = 0.0
    origin = events[0][0] if events else 0.0
    used = []
    for e, (t_event, indices) in enumerate(events):
        shift = t_event - origin
        decay = math.exp(-k * shift)
        a, b = a * decay, (b - shift * a) * decay
        origin = t_event
        for i in indices:  # arriving now: e^{K (t_i - origin)} = 1, t_i - origin = 0
            a += float(weights[i])
            used.append(i)
        if a <= 0.0:
            continue
        log_minus_x = math.log(k * theta / a) + k * b / a
        if log_minus_x > 0.0:  # x < -1 < -1/e: no crossing, and exp() is safe
            continue
        x = -math.exp(log_minus_x)
        if x < -INV_E:
            continue
        w = scipy.special.lambertw(x, 0).real
        t_cross = origin + b / a - w / k
        t_next = events[e + 1][0] if e + 1 < len(events) else math.inf
        if t_cross < t_event:
            continue
        if t_cross > t_next:
            result["pending"].append(t_cross)
            continue
        nearest = min(abs(t_cross - float(t)) for t in times if math.isfinite(t))
        result.update(time=t_cross, a=a, b=b, w=w, origin=origin, used=list(used),
                      margin=nearest, branch_gap=1.0 + w)
        return _finish(result)
    return _finish(result)


def _finish(result):
    result["prevented"] = any(t < result["time"] for t in result["pending"])
    return result


def derivatives(times, weights, decay_rate, spike):
    """Analytic dt*/dw_j and dt*/dt_j (the model page, gradient) of one neuron's spike.

    spike: the dict returned by `first_spike`.  Returns two n_in arrays, zero
    for inputs that did not arrive before the spike and for a silent neuron.
    """
    n = len(times)
    d_weight, d_time = np.zeros(n), np.zeros(n)
    if not math.isfinite(spike["time"]):
        return d_weight, d_time
    k, a, b, w = float(decay_rate), spike["a"], spike["b"], spike["w"]
    for j in spike["used"]:
        t_j = float(times[j]) - spike["origin"]
        growth = math.exp(k * t_j)
        d_weight[j] = growth * (t_j - b / a + w / k) / (a * (1.0 + w))
        d_time[j] = float(weights[j]) * growth * (k * (t_j - b / a) + w + 1.0) / (a * (1.0 + w))
    return d_weight, d_time


def layer(times, weights, decay_rate, threshold):
    """Reference for a whole layer: spike times (batch, n_out) and the details.

    times: (batch, n_in); weights: (n_in, n_out).  details[b][j] is the dict
    of `first_spike` for example b and neuron j.
    """
    times, weights = np.asarray(times, np.float64), np.asarray(weights, np.float64)
    batch, n_out = times.shape[0], weights.shape[1]
    out = np.full((batch, n_out), math.inf)
    details = []
    for b in range(batch):
        row = []
        for j in range(n_out):
            spike = first_spike(times[b], weights[:, j], decay_rate, threshold)
            out[b, j] = spike["time"]
            row.append(spike)
        details.append(row)
    return out, details
