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


# The dense kernel computes whole blocks of CO_BLOCK channels from this many
# per group; a group's last few run in blocks of 1-4 rows.
DENSE_MIN_CHANNELS = core.DENSE_CO_BLOCK
# Fewer output channels (2 or more) per group take the dense kernel too where
# a group has more input channels than this: there the thin kernel copies
# them through its tile as well (its in-place limit, THIN_IN_PLACE_CHANNELS)
# and rereads the tile for each output channel, where the dense kernel reads
# it once for all (measured at 1 thread: 256 -> 3 channels on a 9x9 image
# 2-3.6x faster, 512 -> 3 on 19x19 1.2-2.4x; 1 -> 2 channels 1.7x slower).
FEW_CHANNELS_DENSE_INPUTS = 16


def thread_count(requested, macs):
    """Threads to use: the request, or 1 for a tiny problem."""
    return 1 if macs < SERIAL_MACS else requested


def item_rows(h_out, dense):
    """Output rows of one work item: the dense kernel's block takes one
    vector from each of DENSE_VECS rows where an image has that many (the
    depthwise kernel chooses its own bands)."""
    return core.DENSE_RUN_VECTORS if dense and h_out >= core.DENSE_RUN_VECTORS else 1


def tile_width(itemsize, c_in, kernel_h, kernel_w, stride_w, dilation_w, w_out, h_out, n_rows,
               threads, dense):
    """Output points per work item along the last axis.

    As many as fit the tile budget with the item's rows, but not fewer than the taps' reach
    (up to MAX_TILE_POINTS), else the halo would be copied more often than
    the data, nor than one run of the dense block (narrower, a row would
    run only on the narrow block, a quarter as fast); and cut so that every
    thread gets work (one thread needs no cut: every tile costs its halo
    and its chunk remainders).  A whole number of the chunks that the
    (dense or thin) kernel computes.
    """
    quantum = core.DENSE_TILE_QUANTUM_BYTES if dense else core.THIN_TILE_QUANTUM_BYTES
    chunk = quantum // itemsize
    least = chunk * core.DENSE_RUN_VECTORS if dense else chunk
    reach = (kernel_w - 1) * dilation_w // stride_w
    phases = len({k * dilation_w % stride_w for k in range(kernel_w)})
    fits = TILE_BYTES // itemsize // (c_in * kernel_h * phases * item_rows(h_out, dense)) - reach
    width = min(max(fits, reach, least), MAX_TILE_POINTS)
    if threads > 1 and n_rows * -(-w_out // width) < 4 * threads:
        width = max(-(-w_out * n_rows // (4 * threads)), least)
    width = -(-width // chunk) * chunk
    return max(chunk, min(width, -(-w_out // chunk) * chunk))


def kernel_family(c_in, c_out, groups, kernel_h, h_out):
    """The core's kernel for this channel grouping: the depthwise one for a
    2-D depthwise layer, else the dense one (blocks of output channels, any
    remainder in narrower ones) unless a group has fewer output channels
    than DENSE_MIN_CHANNELS and few inputs, or a single output channel.
    (1-D depthwise runs thin, in place.)"""
    if groups == c_in == c_out and (kernel_h > 1 or h_out > 1):
        return core.DEPTHWISE_KERNEL
    outputs, inputs = c_out // groups, c_in // groups
    if outputs >= DENSE_MIN_CHANNELS or (outputs >= 2 and inputs > FEW_CHANNELS_DENSE_INPUTS):
        return core.DENSE_KERNEL
    return core.THIN_KERNEL


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
    weight = weight.reshape(weight.shape[:2] + (1,) * (4 - weight.ndim) + weight.shape[2:])
    c_out, c_in_group, kernel_h, kernel_w = weight.shape
    channels = groups * -(-(c_out // groups) // core.DENSE_CO_BLOCK) * core.DENSE_CO_BLOCK
    packed = np.empty(channels * c_in_group * kernel_h * kernel_w, weight.dtype)
    core.pack_dense_weights(weight, packed, groups)
    return packed
