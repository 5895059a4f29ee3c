"""The seed, executable: pure-Python (no NumPy) reference implementations.

These are the oracle the compiled code is tested against.  They are written
for clarity, not speed: plain loops over lists, for small sizes.

* ``dilated_convolve_1d``, ``compute_receptive_field``, ``trace_dependencies``
  and ``visualize_receptive_field`` are the seed's functions as printed,
  with argument checks in front.
* ``conv1d`` and ``conv2d`` spell out PyTorch's convolution semantics
  (padding forms and modes, stride, dilation, groups, bias, unbatched
  input) tap by tap, and check their arguments by the same rules
  (``_checks.check_conv``) as the compiled functions.
"""
from ._checks import check_conv
from .receptive import check_stack, layer_dilations


# ------------------------------------------------------------ the seed
def _float_list(name, values):
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a sequence of numbers: {error}") from None


def dilated_convolve_1d(signal, kernel, dilation):
    """Valid-mode dilated convolution of two lists; [] when nothing fits."""
    signal, kernel = _float_list("signal", signal), _float_list("kernel", kernel)
    check_stack(1, max(len(kernel), 1), [dilation])
    if not kernel:
        raise ValueError("kernel must have at least one tap")
    kernel_size = len(kernel)
    span = (kernel_size - 1) * dilation
    output_length = len(signal) - span
    output = []
    for output_index in range(output_length):
        total = 0.0
        for tap_index in range(kernel_size):
            signal_index = output_index + tap_index * dilation
            total += kernel[tap_index] * signal[signal_index]
        output.append(total)
    return output


def compute_receptive_field(n_layers, kernel_size, dilations):
    n_layers, kernel_size, dilations = check_stack(n_layers, kernel_size, dilations)
    receptive_field = 1
    for layer_index in range(n_layers):
        receptive_field += (kernel_size - 1) * dilations[layer_index]
    return receptive_field


def trace_dependencies(n_layers, kernel_size, dilations):
    n_layers, kernel_size, dilations = check_stack(n_layers, kernel_size, dilations)
    positions = {0}
    for layer_index in reversed(range(n_layers)):
        dilation = dilations[layer_index]
        next_positions = set()
        for position in positions:
            for tap_index in range(kernel_size):
                next_positions.add(position + tap_index * dilation)
        positions = next_positions
    return sorted(positions)


def visualize_receptive_field(n_layers, kernel_size, dilation):
    n_layers, kernel_size, dilations = check_stack(
        n_layers, kernel_size, layer_dilations(n_layers, dilation))
    receptive_field = compute_receptive_field(n_layers, kernel_size, dilations)
    touched = set(trace_dependencies(n_layers, kernel_size, dilations))
    return "".join("█" if p in touched else "." for p in range(receptive_field))


# ------------------------------------------------------- the conv oracle
def _nested_shape(name, nested):
    """Shape of a rectangular nested sequence of numbers, or an error naming ``name``."""
    shape, level = [], nested
    while isinstance(level, (list, tuple)):
        shape.append(len(level))
        if not level:
            break
        level = level[0]
    _check_rectangular(name, nested, shape, ())
    return tuple(shape)


def _check_rectangular(name, nested, shape, index):
    depth = len(index)
    if depth == len(shape):
        if isinstance(nested, (list, tuple, str, bytes, complex)) or not _is_real(nested):
            raise TypeError(f"{name}{list(index)} must be a real number, got {nested!r}")
        return
    if not isinstance(nested, (list, tuple)) or len(nested) != shape[depth]:
        raise ValueError(f"{name} must be a rectangular nested list of shape {tuple(shape)}; "
                         f"{name}{list(index)} is {nested!r}")
    for i, item in enumerate(nested):
        _check_rectangular(name, item, shape, index + (i,))


def _is_real(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _padded_index(position, size, before, mode):
    """Index into the unpadded axis for padded position, or None for a zero."""
    index = position - before
    if 0 <= index < size:
        return index
    if mode == "zeros":
        return None
    if mode == "replicate":
        return min(max(index, 0), size - 1)
    if mode == "reflect":
        return -index if index < 0 else 2 * (size - 1) - index
    return index % size  # circular


def _conv(name, dims, x, w, bias, stride, padding, dilation, groups, padding_mode):
    """N-d cross-correlation over nested lists x ([N,] C, *S) and w (O, C/g, *K),
    checked by the same rules as the compiled functions."""
    x_shape, w_shape = _nested_shape("input", x), _nested_shape("weight", w)
    bias_shape = None if bias is None else _nested_shape("bias", bias)
    geometry = check_conv(name, dims, x_shape, w_shape, bias_shape, stride, padding, dilation,
                          groups, padding_mode)
    batch = x if geometry.batched else [x]
    result = _correlate(batch, w, bias, geometry)
    return result if geometry.batched else result[0]


def _correlate(x, w, bias, g):
    """The tap-by-tap sums over a checked batch, as nested lists."""
    dims = len(g.strides)
    n_batch, c_in, *spatial = g.batch_shape
    c_out, c_group, *kernel = g.weight_shape
    out_size = g.out_shape[2:]
    per_group_out = c_out // g.groups

    def tap_positions(index):
        """All (kernel offset, input index or None) products for one output."""
        combos = [((), ())]
        for axis in range(dims):
            axis_taps = []
            for k in range(kernel[axis]):
                p = index[axis] * g.strides[axis] + k * g.dilations[axis]
                axis_taps.append((k, _padded_index(p, spatial[axis], g.pads[axis][0],
                                                   g.padding_mode)))
            combos = [(ks + (k,), ps + (p,)) for ks, ps in combos for k, p in axis_taps]
        return combos

    def fetch(nested, index):
        for i in index:
            nested = nested[i]
        return nested

    def build(prefix, axis):
        if axis == dims:
            n, o = prefix[0], prefix[1]
            group = o // per_group_out
            total = 0.0 if bias is None else float(bias[o])
            for ks, ps in tap_positions(prefix[2:]):
                padded_zero = any(p is None for p in ps)
                for c in range(c_group):
                    # A zero-padded tap still multiplies: inf * 0 is NaN, as in PyTorch.
                    value = 0.0 if padded_zero else float(fetch(x[n][group * c_group + c], ps))
                    total += float(fetch(w[o][c], ks)) * value
            return total
        return [build(prefix + (i,), axis + 1) for i in range(out_size[axis])]

    return [[build((n, o), 0) for o in range(c_out)] for n in range(n_batch)]


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros"):
    """Nested lists (N, C_in, L) or (C_in, L) in, (N, C_out, L_out) or
    (C_out, L_out) out: ``fastdilate.conv1d``'s arguments and rules."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups,
                 padding_mode)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros"):
    """Nested lists (N, C_in, H, W) or (C_in, H, W) in, (N, C_out, H_out, W_out)
    or (C_out, H_out, W_out) out: ``fastdilate.conv2d``'s arguments and rules."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups,
                 padding_mode)
