"""XLA-compiled functions whose traces are freed with them.

Every graph-mode use of a custom gradient (the neuron's exact gradient)
registers its gradient function in TensorFlow's global gradient registry
under a fresh name, ``CustomGradient-N``, and nothing ever removes it.  That
function holds its whole traced graph, so every trained model stayed in
memory for the life of the process.

`Compiled` traces under a lock and then drops the registrations that its
trace added: a registered gradient is looked up only while the graph that
uses it is being built, and a retrace registers afresh.  The lock keeps two
threads of one worker from dropping each other's registrations mid-trace.

What XLA compiles stays too: TensorFlow's compilation cache never evicts,
and on Linux each compiled function maps a few pages of its own (~580 maps
per short run).  At the kernel's limit (`vm.max_map_count`, 65,530 by
default: ~110 runs in one process) the next compile crashed the process.
`Compiled` refuses to compile near that limit, with an error that says so,
and a runner worker trains in fresh child processes long before
(`spikelib.runner`).
"""

import threading
from pathlib import Path

import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops

_TRACING = threading.Lock()
_PREFIX = "CustomGradient-"
# Above this share of the memory-map limit a new compile is refused.
REFUSE_SHARE = 0.95
_MAX_MAP_COUNT = Path("/proc/sys/vm/max_map_count")
_MAPS = Path("/proc/self/maps")


def map_share():
    """Share of the kernel's memory-map limit this process uses (0 where unknown)."""
    try:
        limit = int(_MAX_MAP_COUNT.read_text())
        with _MAPS.open() as maps:
            return sum(1 for _ in maps) / limit
    except (OSError, ValueError, ZeroDivisionError):
        return 0.0


def custom_gradient_names():
    """Names of the custom gradients now in TensorFlow's registry."""
    return {name for name in tf_ops._gradient_registry.list() if name.startswith(_PREFIX)}


class Compiled:
    """`tf.function(function, jit_compile=True)` that leaves no gradient behind.

    Called like the function; each call looks up (or traces) the concrete
    function for its arguments, then runs it.  `jit_compile=False`: a plain
    graph, without XLA's compilation (seconds) and its faster code.
    """

    def __init__(self, function, jit_compile=True):
        self._function = tf.function(function, jit_compile=jit_compile)

    def __call__(self, *args):
        with _TRACING:
            before, traces = custom_gradient_names(), self.tracing_count()
            concrete = self._function.get_concrete_function(*args)
            for name in custom_gradient_names() - before:
                del tf_ops._gradient_registry._registry[name]
        if self.tracing_count() > traces:
            _check_room_to_compile()
        return concrete(*args)

    def tracing_count(self):
        """How many times the function was traced (each trace is compiled once)."""
        return self._function.experimental_get_tracing_count()


def _check_room_to_compile():
    share = map_share()
    if share > REFUSE_SHARE:
        raise RuntimeError(
            f"this process uses {share:.0%} of the kernel's memory-map limit "
            f"({_MAX_MAP_COUNT}) with code that XLA compiled for earlier runs, which TensorFlow "
            "never frees; one more compile could crash it. Train further runs in a new process "
            "(the runner's workers do so by themselves), or raise the limit (sysctl "
            "vm.max_map_count).")
