"""Checks at the public boundary: bad arguments fail early, with a clear message.

Every check raises a `TypeError` (wrong kind of value or dtype) or a
`ValueError` (wrong shape, range, order, or a NaN/infinite value) whose
message names the argument, what was expected and what came.

Cost: shape and dtype checks are static (free, also while tracing).  Value
checks (finiteness, ranges, order) need the values: they run on numpy
arrays and on eager tensors, and are skipped for symbolic tensors, i.e.
inside a `tf.function` / XLA-compiled loop or a `jax.jit`, where they
would cost time in every step.  Compiled callers validate their data once,
before the loop (the training data is checked by `encode_images` and
`add_noise` when it is prepared).  `set_value_checks(False)` turns the value checks off also
in eager code (e.g. for timing); they are on by default.
"""

import contextlib
import math
import numbers

import numpy as np

# Floating dtypes the spike-time computation supports.
FLOAT_DTYPES = ("float32", "float64")

_value_checks = True


def set_value_checks(enabled):
    """Turn the eager value checks (finiteness, ranges, order) on or off; returns the old setting."""
    global _value_checks
    previous, _value_checks = _value_checks, bool(enabled)
    return previous


@contextlib.contextmanager
def value_checks(enabled):
    """Context manager form of `set_value_checks`."""
    previous = set_value_checks(enabled)
    try:
        yield
    finally:
        set_value_checks(previous)


def dtype_name(x):
    """The standard name of the dtype of an array, tensor or variable ('float32', ...)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return np.asarray(x).dtype.name
    name = getattr(dtype, "name", None)
    if isinstance(name, str):
        return {"bool_": "bool"}.get(name, name)
    return str(dtype)


def shape_of(x):
    """The static shape as a tuple (None for unknown dimensions)."""
    shape = getattr(x, "shape", None)
    if shape is None:
        return np.shape(x)
    if hasattr(shape, "as_list"):
        dims = shape.as_list() if shape.rank is not None else None
        return None if dims is None else tuple(dims)
    return tuple(shape)


def concrete(x):
    """The values of `x` as a numpy array, or None if `x` is symbolic (being traced)."""
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np.asarray(x)
    if not _eager(x):
        return None
    try:
        return np.asarray(x.numpy() if hasattr(x, "numpy") else x)
    except (AttributeError, NotImplementedError, TypeError, ValueError):
        return None


def _eager(x):
    """Whether `x` holds values: not a tensor being traced by the Keras backend."""
    import keras
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        return tf.executing_eagerly()
    if backend == "jax":
        import jax
        return not isinstance(x, jax.core.Tracer)
    return True


def value_checks_enabled():
    return _value_checks


def _describe_position(mask):
    index = tuple(int(i) for i in np.argwhere(mask)[0])
    count = int(np.count_nonzero(mask))
    where = f"at index {list(index)}" if index else ""
    return f"{where} ({count} value{'s' if count != 1 else ''} in all)".strip()


# ----------------------------------------------------------------------------
# python scalars


def check_real(name, value, *, minimum=None, strict=False, maximum=None, allow_inf=False):
    """A real python/numpy number (not bool, not NaN) in the given range; returns it as float.

    `minimum` with `strict` requires value > minimum, else >= minimum;
    `allow_inf` admits +inf (e.g. an unbounded clip).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a real number, got NaN")
    if math.isinf(value) and not (allow_inf and value > 0):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum:g}, got {value:g}")
    return value


def check_integer(name, value, *, minimum=None, maximum=None):
    """A python/numpy integer (not bool) in [minimum, maximum]; returns it as int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


# ----------------------------------------------------------------------------
# arrays and tensors: static checks


def check_float_dtype(name, x, allowed=FLOAT_DTYPES):
    """`x` has one of the `allowed` floating dtypes; returns the dtype name."""
    return check_float_dtype_name(name, dtype_name(x), allowed)


def check_float_dtype_name(name, dtype, allowed=FLOAT_DTYPES):
    """`dtype` (a name such as 'float32') is one of the `allowed` floating dtypes."""
    dtype = str(dtype)
    if dtype not in allowed:
        hint = (" (half precision is not supported: the closed form needs the range of"
                " float32 or float64)" if dtype in ("float16", "bfloat16") else "")
        raise TypeError(f"{name} must have a floating dtype in {allowed}, got {dtype}{hint}")
    return dtype


def check_integer_dtype(name, x):
    dtype = dtype_name(x)
    if not (dtype.startswith("int") or dtype.startswith("uint")):
        raise TypeError(f"{name} must have an integer dtype, got {dtype}")
    return dtype


def check_rank(name, x, rank, layout):
    """`x` has `rank` dimensions; `layout` describes them, e.g. '(batch, n_inputs)'."""
    shape = shape_of(x)
    if shape is None or len(shape) != rank:
        raise ValueError(f"{name} must be {rank}-D {layout}, got shape "
                         f"{'unknown' if shape is None else shape}")
    return shape


def check_dimension(name, x, axis, expected, meaning):
    """Dimension `axis` of `x` equals `expected` where both are known statically."""
    shape = shape_of(x)
    got = shape[axis]
    if got is not None and expected is not None and got != expected:
        raise ValueError(f"{name} must have {expected} {meaning} (dimension {axis}), "
                         f"got shape {shape}")


# ----------------------------------------------------------------------------
# arrays and tensors: value checks (eager only)


def _values(x):
    return concrete(x) if _value_checks else None


def check_spike_times(name, x):
    """Spike times: finite, or +inf (silent); NaN and -inf are refused."""
    values = _values(x)
    if values is None or values.size == 0:
        return
    bad = np.isnan(values) | (values == -np.inf)
    if bad.any():
        kind = "NaN" if np.isnan(values[bad]).any() else "-inf"
        raise ValueError(f"{name} must be spike times (finite, or +inf for silent), got {kind} "
                         f"{_describe_position(bad)}")


def check_finite(name, x):
    """All values finite (no NaN, no +-inf)."""
    values = _values(x)
    if values is None or values.size == 0:
        return
    bad = ~np.isfinite(values)
    if bad.any():
        kind = "NaN" if np.isnan(values[bad]).any() else "an infinite value"
        raise ValueError(f"{name} must be finite, got {kind} {_describe_position(bad)}")


def check_range(name, x, low, high, what):
    """low <= x <= high elementwise (NaN fails); `what` describes the range."""
    values = _values(x)
    if values is None or values.size == 0:
        return
    bad = ~((values >= low) & (values <= high))
    if bad.any():
        first = values[bad][0]
        raise ValueError(f"{name} must be {what}, got {first.item()!r} {_describe_position(bad)}")


def check_ascending(name, x, columns):
    """The first `columns` columns of every row of 2-D `x` are ascending (+inf last)."""
    values = _values(x)
    if values is None or values.size == 0 or columns < 2:
        return
    head = values[:, :columns]
    bad = head[:, 1:] < head[:, :-1]
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}: the first {columns} columns must be ascending in every row (+inf last), "
            f"as promised by sorted_prefix / sorted_inputs; got {float(head[row, column])!r} before "
            f"{float(head[row, column + 1])!r} in row {row} (columns {column}, {column + 1})")


def check_index(name, x, upper):
    """Integer indices in [0, upper)."""
    values = _values(x)
    if values is None or values.size == 0:
        return
    bad = (values < 0) | (values >= upper)
    if bad.any():
        raise ValueError(f"{name} must be row indices in [0, {upper}), got {values[bad][0].item()} "
                         f"{_describe_position(bad)}")
