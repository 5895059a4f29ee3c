"""How one call is laid out for the compiled core: the time tile, the packed
weights and the thread count.  Policy only; the core does what it is told."""
import numpy as np

from ._dispatch import core

# Problems smaller than this many multiply-adds run on the calling thread:
# waking a thread team costs more than they do.
SERIAL_MACS = 1 << 15

# Per-thread input tile: all input channels' rows for one time tile.  It is
# re-read once per output channel block, so it should stay in L2.
TILE_BYTES = 256 * 1024
MAX_TILE_POINTS = 2048


# The dense kernel computes whole blocks of CO_BLOCK channels; under this many
# per group the thin kernel wastes less.
DENSE_MIN_CHANNELS = core.DENSE_CO_BLOCK


def thread_count(requested, macs):
    """Threads to use: the request, or 1 for a tiny problem."""
    return 1 if macs < SERIAL_MACS else requested


def tile_width(itemsize, c_in, kernel_h, kernel_w, stride_w, dilation_w, w_out, n_rows, threads,
               dense):
    """Output points per work item along the last axis.

    As many as fit the tile budget, but not fewer than the taps' reach
    (up to MAX_TILE_POINTS), else the halo would be copied more often than
    the data; and cut so that every thread gets work.  A whole number of
    the chunks that the (dense or thin) kernel computes.
    """
    quantum = core.DENSE_TILE_QUANTUM_BYTES if dense else core.THIN_TILE_QUANTUM_BYTES
    chunk = quantum // itemsize
    reach = (kernel_w - 1) * dilation_w // stride_w
    phases = len({k * dilation_w % stride_w for k in range(kernel_w)})
    fits = TILE_BYTES // itemsize // (c_in * kernel_h * phases) - reach
    width = min(max(fits, reach, chunk), MAX_TILE_POINTS)
    if n_rows * -(-w_out // width) < 4 * threads:
        width = -(-w_out * n_rows // (4 * threads))
    width = -(-width // chunk) * chunk
    return max(chunk, min(width, -(-w_out // chunk) * chunk))


def kernel_family(c_in, c_out, groups, kernel_h, h_out):
    """The core's kernel for this channel grouping: the depthwise one for a
    2-D depthwise layer, else the dense one (blocks of output channels, a
    part-zero block for any remainder) unless a group has fewer output
    channels than DENSE_MIN_CHANNELS, where zero channels would be most of
    the work.  (1-D depthwise runs thin, in place.)"""
    if groups == c_in == c_out and (kernel_h > 1 or h_out > 1):
        return core.DEPTHWISE_KERNEL
    return core.DENSE_KERNEL if c_out // groups >= DENSE_MIN_CHANNELS else core.THIN_KERNEL


def depthwise_band_rows(itemsize, h_out, w_out, kernel_w, kernel_h, stride, dilation, planes,
                        threads):
    """Output rows per work item of the depthwise kernel: as many as keep the
    band's input rows within the tile budget (its halo is copied once per
    band), and few enough that every thread gets work."""
    row_bytes = (w_out * stride[1] + (kernel_w - 1) * dilation[1]) * itemsize
    halo = (kernel_h - 1) * dilation[0]
    rows = max(1, (TILE_BYTES // row_bytes - halo) // stride[0])
    if planes * -(-h_out // rows) < 4 * threads:
        rows = -(-h_out * planes // (4 * threads))
    return max(1, min(rows, h_out))



def padding_taps_add_zeros(weight, bias):
    """Whether a tap that reads zero padding adds an exact zero to every sum,
    so the core may leave it out and give the same bits: every weight
    finite (inf * 0 is NaN) and no bias -0.0 (-0.0 + 0.0 is +0.0; a sum
    that starts at +0.0 stays what it is when zeros are added)."""
    if not np.isfinite(weight).all():
        return False
    return bias is None or not np.signbit(bias[bias == 0]).any()


def packed_weight(weight, groups):
    """The weights, flat, as the dense kernel reads them:
    [groups][C_out // groups / CO_BLOCK][C_in // groups][KH*KW][CO_BLOCK],
    each group's output channels padded with zero ones to whole blocks.
    (The thin kernel reads them in PyTorch's order.)"""
    c_out, c_in_group = weight.shape[:2]
    block = core.DENSE_CO_BLOCK
    per_group = weight.reshape(groups, c_out // groups, c_in_group, -1)
    padding = -(c_out // groups) % block
    if padding:
        per_group = np.pad(per_group, ((0, 0), (0, padding), (0, 0), (0, 0)))
    blocks = per_group.reshape(groups, -1, block, c_in_group, per_group.shape[-1])
    return np.ascontiguousarray(blocks.transpose(0, 1, 3, 4, 2)).reshape(-1)
