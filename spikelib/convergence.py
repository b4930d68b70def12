"""Whether a finished run had converged: one rule for "still learning".

A run stopped by its epoch cap is *still learning* when the stopping rule
(`spikelib.stopping`) would not have stopped it yet: its last `patience`
epochs still improved on the best before them by the relative `min_delta`
or more, or it was still on the mean-image plateau at the cap (then nothing
tells "cannot learn" from "has not learned yet").  Its test error is then an
upper bound on what its row reaches, not a converged value; chapters list
such runs and `spikelib.claims` prints a caveat on every verdict that rests
on one.  A run stopped by the rule itself has, by that rule, flattened.
"""

import math

# A run stopped at its cap, judged with this many epochs (and this gain)
# when its budget has no patience of its own (e.g. a fixed-epoch profile).
DEFAULT_PATIENCE, DEFAULT_MIN_DELTA = 2, 0.02


def still_learning(validation, stop_reason, patience=None, min_delta=None, on_plateau=None):
    """Whether a run with this validation curve, stopped for `stop_reason`, was still learning.

    `validation`: validation error per epoch; `on_plateau`: per epoch,
    whether it was still on the mean-image plateau (None: unknown).  Only a
    run stopped by its epoch cap ("max_epochs") can be still learning.
    """
    if stop_reason != "max_epochs" or not len(validation):
        return False
    if on_plateau is not None and len(on_plateau) and on_plateau[-1]:
        return True
    if patience is None:
        patience, min_delta = DEFAULT_PATIENCE, DEFAULT_MIN_DELTA
    before, last = validation[:-patience], validation[-patience:]
    best_before = min(before) if len(before) else math.inf
    return min(last) < best_before * (1.0 - min_delta)
