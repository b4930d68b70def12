"""Whether a finished run had converged: one rule for "still learning".

A run is *still learning* when its last `patience` epochs together still
improved on the best before them by the relative `min_delta` or more, or
when it stopped at its epoch cap still on the mean-image plateau (then
nothing tells "cannot learn" from "has not learned yet").  This holds for a
run stopped by its cap and also for one stopped by the stopping rule
(`spikelib.stopping`), which compares each epoch with the best so far: a
curve falling steadily by a little less than `min_delta` per epoch is
stopped by it, yet has not flattened.  A still-learning run's test error is
an upper bound on what its row reaches, not a converged value; chapters
list such runs and `spikelib.claims` prints a caveat on every verdict that
rests on one.
"""

import math

# A run judged with this many epochs (and this gain) when its budget has no
# patience of its own (e.g. a fixed-epoch profile).
DEFAULT_PATIENCE, DEFAULT_MIN_DELTA = 3, 0.01


def still_learning(validation, stop_reason, patience=None, min_delta=None, on_plateau=None):
    """Whether a run with this validation curve, stopped for `stop_reason`, was still learning.

    `validation`: validation error per epoch; `stop_reason`: "max_epochs"
    (its cap) or "patience" (the stopping rule); `on_plateau`: per epoch,
    whether it was still on the mean-image plateau (None: unknown).
    """
    if not len(validation):
        return False
    at_cap = stop_reason == "max_epochs"
    if at_cap and on_plateau is not None and len(on_plateau) and on_plateau[-1]:
        return True
    if patience is None:
        patience, min_delta = DEFAULT_PATIENCE, DEFAULT_MIN_DELTA
    before, last = validation[:-patience], validation[-patience:]
    best_before = min(before) if len(before) else math.inf
    return min(last) < best_before * (1.0 - min_delta)
