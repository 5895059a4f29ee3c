"""The argument and geometry rules of a convolution, in one place.

Every front end (``fastdilate.conv1d``/``conv2d``, the streaming layers,
the Dask, PyTorch and wavelet front ends, the pure-Python reference) calls
``check_conv`` on the shapes and arguments it was given, so each rule and
each message exists once.  Pure Python: no NumPy, so the reference stays
free of it.
"""
from typing import NamedTuple

from .receptive import check_int

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

# Larger than any array can be; bounding every size, span and padded extent
# by it keeps the core's 64-bit index arithmetic from overflowing.
MAX_INT = 2**60
# More threads than any machine this runs on has cores.
MAX_THREADS = 1024


def as_int(name, value, minimum, maximum=MAX_INT):
    """check_int, bounded by default so no size overflows the core."""
    return check_int(name, value, minimum, maximum)


def as_thread_request(num_threads):
    """None (follow OpenMP) or an int in [1, MAX_THREADS]."""
    return None if num_threads is None else as_int("num_threads", num_threads, 1, MAX_THREADS)


def as_pair(name, value, minimum):
    """An int for both spatial axes, or a pair (height, width)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair, got {value!r}")
        return tuple(as_int(name, v, minimum) for v in value)
    value = as_int(name, value, minimum)
    return value, value


def as_axis_args(spatial_dims, stride, dilation):
    """(strides, dilations), one int per spatial axis."""
    if spatial_dims == 1:
        return (as_int("stride", stride, 1),), (as_int("dilation", dilation, 1),)
    return as_pair("stride", stride, 1), as_pair("dilation", dilation, 1)


# ---------------------------------------------------------------- padding
def resolve_padding(padding, kernel_sizes, strides, dilations, allow_causal):
    """((before, after), ...) for each spatial axis, from any padding form."""
    ndim = len(kernel_sizes)
    spans = [d * (k - 1) for k, d in zip(kernel_sizes, dilations)]
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * ndim
        if padding == "same":
            if any(s != 1 for s in strides):
                raise ValueError(f"padding='same' needs stride 1, got stride {tuple(strides)}")
            return tuple((span // 2, span - span // 2) for span in spans)
        if padding == "causal" and allow_causal:
            return ((spans[0], 0),)
        forms = "'valid', 'same', 'causal'" if allow_causal else "'valid', 'same'"
        raise ValueError(f"padding must be an int, a pair or one of {forms}; got {padding!r}")
    if isinstance(padding, (tuple, list)):
        if ndim == 1:
            if len(padding) != 2:
                raise ValueError(f"padding must be an int or a pair (left, right), got {padding!r}")
            return (tuple(as_int("padding", p, 0) for p in padding),)
        if len(padding) != 2:
            raise ValueError(f"padding must be an int, a pair (ph, pw) or "
                             f"((top, bottom), (left, right)), got {padding!r}")
        return tuple(_axis_padding(p, padding) for p in padding)
    padding = as_int("padding", padding, 0)
    return ((padding, padding),) * ndim


def _axis_padding(p, padding):
    """(before, after) of one 2-D axis: a pair, or an int for both sides."""
    if isinstance(p, (tuple, list)):
        if len(p) != 2:
            raise ValueError(f"padding must be ((top, bottom), (left, right)), got {padding!r}")
        return tuple(as_int("padding", v, 0) for v in p)
    p = as_int("padding", p, 0)
    return p, p


def check_padding_mode(padding_mode, pads, spatial):
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    for (before, after), size in zip(pads, spatial):
        if padding_mode == "reflect" and max(before, after) >= size:
            raise ValueError(f"padding_mode='reflect' needs padding < input size, "
                             f"got padding ({before}, {after}) for size {size}")
        if padding_mode == "circular" and max(before, after) > size:
            raise ValueError(f"padding_mode='circular' needs padding <= input size, "
                             f"got padding ({before}, {after}) for size {size}")


def output_size(size, pad, kernel, dilation, stride):
    """Output points along one axis: PyTorch's formula."""
    return (size + pad[0] + pad[1] - dilation * (kernel - 1) - 1) // stride + 1


# ------------------------------------------------------------ convolution
class ConvGeometry(NamedTuple):
    """A checked convolution call: every size and resolved argument."""
    batched: bool          # input had a batch axis
    batch_shape: tuple     # input as (N, C_in, *spatial)
    weight_shape: tuple    # (C_out, C_in // groups, *kernel)
    strides: tuple         # one per spatial axis
    dilations: tuple
    pads: tuple            # ((before, after), ...) per spatial axis
    padding_mode: str
    groups: int
    out_shape: tuple       # output as (N, C_out, *out_spatial)

    @property
    def result_shape(self):
        """The output as the caller gets it (no batch axis if none came in)."""
        return self.out_shape if self.batched else self.out_shape[1:]

    @property
    def kernel(self):
        return self.weight_shape[2:]

    @property
    def spatial(self):
        return self.batch_shape[2:]


def check_conv(name, spatial_dims, x_shape, w_shape, bias_shape, stride, padding, dilation,
               groups, padding_mode, allow_causal=None):
    """Check a convolution's shapes and arguments; its ConvGeometry.

    ``bias_shape`` is None when there is no bias.  ``padding="causal"`` is
    accepted in 1-D (or where ``allow_causal`` says).  Every error is a
    ValueError or TypeError that names the argument and the numbers.
    """
    x_shape, w_shape = tuple(x_shape), tuple(w_shape)
    batched = len(x_shape) == spatial_dims + 2
    if not batched and len(x_shape) != spatial_dims + 1:
        raise ValueError(f"{name}: input must have {spatial_dims + 2} dimensions (batched) or "
                         f"{spatial_dims + 1} (unbatched), got shape {x_shape}")
    if len(w_shape) != spatial_dims + 2:
        raise ValueError(f"{name}: weight must have {spatial_dims + 2} dimensions "
                         f"(C_out, C_in // groups, kernel...), got shape {w_shape}")
    groups = as_int("groups", groups, 1)
    strides, dilations = as_axis_args(spatial_dims, stride, dilation)
    batch_shape = x_shape if batched else (1,) + x_shape
    c_in, spatial = batch_shape[1], batch_shape[2:]
    c_out, kernel = w_shape[0], w_shape[2:]
    _check_channels(name, x_shape, w_shape, bias_shape, c_in, c_out, kernel, spatial, groups)

    causal = spatial_dims == 1 if allow_causal is None else allow_causal
    pads = resolve_padding(padding, kernel, strides, dilations, allow_causal=causal)
    check_padding_mode(padding_mode, pads, spatial)
    for size, pad, k, d in zip(spatial, pads, kernel, dilations):
        if size + pad[0] + pad[1] > MAX_INT or d * (k - 1) > MAX_INT:
            raise ValueError(f"{name}: padding {pad} or dilation {d} with kernel "
                             f"size {k} reaches past 2**60 samples")
    out_spatial = tuple(output_size(*axis) for axis in zip(spatial, pads, kernel, dilations,
                                                            strides))
    if min(out_spatial) < 1:
        raise ValueError(f"{name}: output would be empty: input size {tuple(spatial)} with padding "
                         f"{pads}, kernel {tuple(kernel)}, dilation {dilations} "
                         f"and stride {strides} gives output size {out_spatial}")
    return ConvGeometry(batched, batch_shape, w_shape, strides, dilations, pads, padding_mode,
                        groups, (batch_shape[0], c_out) + out_spatial)


def _check_channels(name, x_shape, w_shape, bias_shape, c_in, c_out, kernel, spatial, groups):
    if c_in < 1 or c_out < 1 or min(kernel) < 1 or min(spatial) < 1:
        raise ValueError(f"{name}: input {x_shape} and weight {w_shape} must not be empty")
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide the input channels ({c_in}) "
                         f"and the output channels ({c_out})")
    if w_shape[1] != c_in // groups:
        raise ValueError(f"weight must have shape (C_out, C_in // groups, ...) = "
                         f"({c_out}, {c_in // groups}, ...), got {w_shape} "
                         f"for input with {c_in} channels and groups={groups}")
    if bias_shape is not None and tuple(bias_shape) != (c_out,):
        raise ValueError(f"bias must have shape ({c_out},), got {tuple(bias_shape)}")
