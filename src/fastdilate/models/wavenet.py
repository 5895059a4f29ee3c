"""WaveNet stacks of the Neural Amp Modeler "A1" family, run by the compiled core.

A WaveNet is a list of layer arrays.  Array ``a`` rechannels its input (the
audio for the first array, the previous array's residual stream after) with
a 1x1 conv, then each of its layers computes, on the residual stream ``x``
and the audio ``c`` (the condition)::

    z = conv_dilated_causal(x) + mixin(c)          # (mid, C, K) conv with bias; (mid, 1) mixin
    a = act(z)                                     # or act(z1) * act2(z2) ("gated"),
                                                   # act2(z2) * act(z1) + (1 - act2(z2)) * z1 ("blended")
    x = x + layer1x1(a)                            # (C, B) 1x1 with bias (or x + a)
    head_sum += head1x1(a)                         # (H, B) 1x1 with bias (or += a)

The head sum starts from the previous array's head output (zero for the
first array) and goes through the array's head rechannel, a causal conv
(out, H, kh) with an optional bias.  The net's output is ``head_scale``
times the last array's head output (one channel).  ``net(x)`` runs a whole
signal as if silence preceded it; ``net.stream(block)`` runs it block by
block, and any split of a signal gives ``net(x)`` bitwise.
"""
import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .. import _layout
from .._api import as_array, check_out, core_array
from .._checks import as_int, as_thread_request
from .._dispatch import core

ACTIVATIONS = core.WAVENET_ACTIVATIONS
GATINGS = core.WAVENET_GATINGS
# Frames each layer runs at a time inside a block: a layer's signals for
# this many frames stay in L1/L2 while all the layers run over them.
CHUNK = 256
# The most channels of a layer array for which the core vectorises over
# frames rather than channels (measured: bench/bench_stream.py).
TIME_MAJOR_CHANNELS = 8
# Parameters of the parametrised activations, in the order the core reads them.
_ACTIVATION_PARAMS = {
    "LeakyReLU": (("negative_slope", 0.01),),
    "Hardtanh": (("min_val", -1.0), ("max_val", 1.0)),
    "LeakyHardtanh": (("min_val", -1.0), ("max_val", 1.0), ("min_slope", 0.01),
                      ("max_slope", 0.01)),
}


@dataclass(frozen=True)
class Layer:
    """One layer (shapes as PyTorch's Conv1d weights, without the 1x1 axes).

    ``conv_weight`` (mid, C, K) and ``conv_bias`` (mid,): the dilated causal
    conv, mid = B channels, or 2B when ``gating`` is "gated" or "blended"
    (the first B go through ``activation``, the others through
    ``secondary``).  ``mixin_weight`` (mid, 1): the audio's 1x1 mixin, no
    bias.  ``layer1x1_weight`` (C, B) and bias (C,), or None for x + a (B = C).
    ``head1x1_weight`` (H, B) and bias (H,), or None for a head term of a
    itself.  An activation is a name of ``ACTIVATIONS`` or a dict with its
    "type" (or "name") and parameters (negative_slope, min_val, ...).
    """
    conv_weight: Any
    conv_bias: Any
    mixin_weight: Any
    dilation: int
    activation: Any = "Tanh"
    gating: str = "none"
    secondary: Any = "Sigmoid"
    layer1x1_weight: Any = None
    layer1x1_bias: Any = None
    head1x1_weight: Any = None
    head1x1_bias: Any = None


@dataclass(frozen=True)
class LayerArray:
    """``rechannel_weight`` (C, input channels): 1x1, no bias; ``layers``;
    ``head_weight`` (out, H, kh) and ``head_bias`` (out,) or None: the head
    rechannel, causal over the head sum."""
    rechannel_weight: Any
    layers: tuple
    head_weight: Any
    head_bias: Any = None


def _activation(spec, where):
    """(code, 4 parameters) of an activation given by name or dict."""
    params = {}
    if isinstance(spec, dict):
        params = dict(spec)
        name = params.pop("type", None) or params.pop("name", None)
    else:
        name = spec
    if name == "PReLU" and np.ndim(params.get("negative_slope", 0.25)) == 0:
        name = "LeakyReLU"
        params.setdefault("negative_slope", 0.25)
    if name not in ACTIVATIONS:
        raise ValueError(f"{where}: activation {spec!r} is not supported; "
                         f"supported: {', '.join(ACTIVATIONS)}")
    defaults = _ACTIVATION_PARAMS.get(name, ())
    unknown = set(params) - {key for key, _ in defaults}
    if unknown:
        raise ValueError(f"{where}: activation {name} has no parameters {sorted(unknown)}")
    values = [float(params.get(key, default)) for key, default in defaults]
    return ACTIVATIONS.index(name), values + [0.0] * (4 - len(values))


def _matrix(value, name, shape):
    """A weight as float64, checked against its expected shape (None: any size)."""
    array = np.asarray(as_array(name, value), dtype=np.float64)
    if array.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, array.shape)):
        expected = tuple("?" if s is None else s for s in shape)
        raise ValueError(f"{name} must have shape {expected}, got {array.shape}")
    return array


class _Packer:
    """The flat weight array the core reads, built part by part."""

    def __init__(self):
        self.parts, self.size = [], 0

    def add(self, array):
        offset = self.size
        self.parts.append(np.ravel(array))
        self.size += self.parts[-1].size
        return offset


class _Plan:
    """The core's tables for a WaveNet: weights laid out at the vector
    widths of the dtype, one history buffer per layer and per head."""

    def __init__(self, arrays, head_scale, dtype, chunk, time_major):
        self.lanes, self.small = core.WAVENET_VECTOR_BYTES // dtype.itemsize, 16 // dtype.itemsize
        self.time_major = time_major
        self.weights, self.offsets = _Packer(), [0]
        self.layers, self.arrays, self.buffers = [], [], []
        self.state_len, self.chunk = 0, chunk
        self.widest = dict(mid=0, activated=0, residual=0, head_out=0, audio=1)
        self.receptive_field, self.macs_per_sample = 1, 0
        in_channels, head_in = 1, None
        for a, array in enumerate(arrays):
            in_channels, head_in = self._add_array(a, array, in_channels, head_in,
                                                   last=a == len(arrays) - 1)
        if head_in != 1:
            raise ValueError(f"the last layer array's head must have 1 output channel, "
                             f"got {head_in}")
        self.head_scale = float(head_scale)
        self.weights.add(np.zeros(1))  # a weight table is never empty
        self.scratch, length = {}, 0
        for section in core.WAVENET_SCRATCH_FIELDS[:-1]:
            self.scratch[section], length = length, length + chunk * self.widest[section]
        self.scratch["length"] = length

    def width(self, channels):
        """Values per frame of a signal: one 16-byte vector or whole native
        ones, or the channels themselves (time-major)."""
        if self.time_major:
            return channels
        if channels <= self.small:
            return self.small
        return -(-channels // self.lanes) * self.lanes

    def _buffer(self, history, width):
        self.buffers.append((self.state_len, history, max(self.chunk, history), width))
        self.state_len += (history + max(self.chunk, history)) * width
        return len(self.buffers) - 1

    def _taps(self, taps, frames, width):
        """Offsets (values) of taps k = 0..taps-1 reading ``frames`` frames
        of ``width`` values per step back, the last tap at the current frame."""
        spacing = frames * (1 if self.time_major else width)
        self.offsets.extend(-(taps - 1 - k) * spacing for k in range(taps))
        return len(self.offsets) - taps

    def _add_array(self, a, array, in_channels, head_in, last):
        where = f"layer array {a}"
        if not isinstance(array, LayerArray) or len(array.layers) == 0:
            raise ValueError(f"{where} must be a LayerArray with at least one Layer")
        rechannel = _matrix(array.rechannel_weight, f"{where} rechannel_weight", (None, in_channels))
        channels = rechannel.shape[0]
        c_width = self.width(channels)
        packed = np.zeros((in_channels, c_width))
        packed[:, :channels] = rechannel.T
        rechannel_at = self.weights.add(packed)
        first = len(self.layers)
        head_channels = None
        for i, layer in enumerate(array.layers):
            head_channels = self._add_layer(f"{where} layer {i}", layer, channels, head_channels)
        head_taps, head_at, bias_at, out_channels = self._add_head(where, array, head_channels)
        head_width, out_width = self.width(head_channels), self.width(out_channels)
        if head_in is not None and head_in != head_channels:
            raise ValueError(f"{where}: its head sum has {head_channels} channels but the "
                             f"previous array's head gives {head_in}")
        head_buffer = self._buffer(head_taps - 1, head_width)
        for l in range(first, len(self.layers)):
            self.layers[l]["head_width"] = head_width
            self.layers[l]["next_buffer"] = (
                self.layers[l + 1]["buffer"] if l + 1 < len(self.layers) else -2 if last else -1)
        self.arrays.append(dict(
            first_layer=first, n_layers=len(array.layers), input_channels=in_channels,
            rechannel_weight=rechannel_at, head_buffer=head_buffer, head_channels=head_channels,
            head_taps=head_taps, head_tap_offsets=self._taps(head_taps, 1, head_width),
            head_weight=head_at, head_bias=bias_at, head_out_width=out_width))
        self.widest["residual"] = max(self.widest["residual"], c_width)
        self.widest["head_out"] = max(self.widest["head_out"], out_width)
        self.receptive_field += head_taps - 1
        self.macs_per_sample += channels * in_channels + head_taps * head_channels * out_channels
        return channels, out_channels

    def _add_head(self, where, array, head_channels):
        head = _matrix(array.head_weight, f"{where} head_weight", (None, head_channels, None))
        out_channels, _, taps = head.shape
        out_width = self.width(out_channels)
        packed = np.zeros((taps, head_channels, out_width))
        packed[:, :, :out_channels] = head.transpose(2, 1, 0)
        bias_at = -1
        if array.head_bias is not None:
            bias = np.zeros(out_width)
            bias[:out_channels] = _matrix(array.head_bias, f"{where} head_bias", (out_channels,))
            bias_at = self.weights.add(bias)
        return taps, self.weights.add(packed), bias_at, out_channels

    def _add_layer(self, where, layer, channels, head_channels):
        if not isinstance(layer, Layer):
            raise ValueError(f"{where} must be a Layer, got {type(layer).__name__}")
        if layer.gating not in GATINGS:
            raise ValueError(f"{where}: gating must be one of {GATINGS}, got {layer.gating!r}")
        conv = _matrix(layer.conv_weight, f"{where} conv_weight", (None, channels, None))
        mid, _, taps = conv.shape
        gated = layer.gating != "none"
        if gated and mid % 2:
            raise ValueError(f"{where}: a {layer.gating} layer's conv needs an even number of "
                             f"output channels (2 x bottleneck), got {mid}")
        bottleneck = mid // 2 if gated else mid
        b_width, c_width = self.width(bottleneck), self.width(channels)
        mid_width = 2 * b_width if gated else b_width
        slots = np.r_[0:bottleneck, b_width:b_width + bottleneck] if gated else np.r_[0:mid]
        dilation = as_int(f"{where} dilation", layer.dilation, 1)

        def spread(values, rows):  # (rows..., mid) -> (rows..., mid_width), halves apart
            packed = np.zeros(rows + (mid_width,))
            packed[..., slots] = values
            return packed

        entry = dict(
            buffer=self._buffer((taps - 1) * dilation, c_width), channels=channels,
            channels_width=c_width, taps=taps, tap_offsets=self._taps(taps, dilation, c_width),
            mid_width=mid_width, bottleneck=bottleneck, bottleneck_width=b_width,
            conv_weight=self.weights.add(spread(conv.transpose(2, 1, 0), (taps, channels))),
            conv_bias=self.weights.add(spread(
                _matrix(layer.conv_bias, f"{where} conv_bias", (mid,)), ())),
            mixin_weight=self.weights.add(spread(
                _matrix(layer.mixin_weight, f"{where} mixin_weight", (mid, 1)).T, (1,))),
            gating=GATINGS.index(layer.gating))
        for field, spec in (("activation", layer.activation), ("secondary", layer.secondary)):
            entry[field], params = _activation(spec, where)
            entry[field + "_params"] = self.weights.add(np.array(params))
        entry["layer1x1_weight"], entry["layer1x1_bias"] = self._one_by_one(
            f"{where} layer1x1", layer.layer1x1_weight, layer.layer1x1_bias, bottleneck, channels)
        entry["head1x1_weight"], entry["head1x1_bias"] = self._one_by_one(
            f"{where} head1x1", layer.head1x1_weight, layer.head1x1_bias, bottleneck, None)
        this_head = bottleneck if layer.head1x1_weight is None else np.shape(layer.head1x1_weight)[0]
        if head_channels is not None and this_head != head_channels:
            raise ValueError(f"{where}: head term of {this_head} channels, the array's other "
                             f"layers give {head_channels}")
        self.layers.append(entry)
        self.widest["mid"] = max(self.widest["mid"], mid_width)
        self.widest["activated"] = max(self.widest["activated"], b_width)
        self.receptive_field += (taps - 1) * dilation
        self.macs_per_sample += mid * (taps * channels + 1) + bottleneck * (channels + this_head)
        return this_head

    def _one_by_one(self, where, weight, bias, bottleneck, identity_channels):
        """(weight, bias) offsets of a 1x1 from the bottleneck, or (-1, -1)
        for the identity, which needs as many channels as the bottleneck."""
        if weight is None:
            if identity_channels is not None and identity_channels != bottleneck:
                raise ValueError(f"{where}: without a 1x1 the bottleneck ({bottleneck}) must "
                                 f"equal the channels ({identity_channels})")
            return -1, -1
        weight = _matrix(weight, f"{where}_weight", (None, bottleneck))
        out = weight.shape[0]
        if identity_channels is not None and out != identity_channels:
            raise ValueError(f"{where}_weight must have {identity_channels} output channels, "
                             f"got {out}")
        packed = np.zeros((bottleneck, self.width(out)))
        packed[:, :out] = weight.T
        packed_bias = np.zeros(self.width(out))
        packed_bias[:out] = _matrix(bias, f"{where}_bias", (out,))
        return self.weights.add(packed), self.weights.add(packed_bias)

    def kernel(self, dtype):
        def table(rows, fields):
            return np.array([[row[f] for f in fields] for row in rows], dtype=np.intp).ravel()
        weights = np.concatenate(self.weights.parts).astype(dtype)
        return core.WaveNetKernel(
            weights, table(self.layers, core.WAVENET_LAYER_FIELDS),
            table(self.arrays, core.WAVENET_ARRAY_FIELDS), np.array(self.buffers, np.intp).ravel(),
            np.array(self.offsets, np.intp),
            np.array([self.scratch[f] for f in core.WAVENET_SCRATCH_FIELDS], np.intp),
            self.state_len, self.chunk, self.head_scale, self.time_major)


def _few_channels(arrays):
    """Whether every layer array has at most TIME_MAJOR_CHANNELS channels,
    where vectors over frames beat mostly padded vectors of channels."""
    channels = [np.shape(a.rechannel_weight)[0] for a in arrays
                if isinstance(a, LayerArray) and np.ndim(a.rechannel_weight) == 2]
    return bool(channels) and max(channels) <= TIME_MAJOR_CHANNELS


class WaveNet:
    """A WaveNet stack (see the module's docstring), run by the compiled core.

    Parameters
    ----------
    arrays : sequence of LayerArray
    head_scale : float
    dtype : float32 (default) or float64, what the net computes in
    num_threads : int >= 1, optional; None follows OpenMP
    vectorize : "channels", "time" or None (default: the faster for the
        net's channel counts); what the core's vectors run over, each frame's
        channels or each channel's frames.  Both give every value the same
        operations in the same order; streaming equals offline bitwise with
        either.

    ``net(x)`` runs whole signals (T,) or (N, T), as if silence preceded
    them.  ``net.stream(block)`` runs N streams block by block (any block
    size, 1 included); ``prepare(max_block, batch)`` allocates all a stream
    needs, after which a block allocates nothing.  ``WaveNet.from_nam(path
    or dict)`` reads a Neural Amp Modeler ``.nam`` file.
    """

    def __init__(self, arrays, head_scale=1.0, *, dtype=np.float32, num_threads=None,
                 vectorize=None):
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.num_threads = as_thread_request(num_threads)
        arrays = tuple(arrays)
        if vectorize is None:
            vectorize = "time" if _few_channels(arrays) else "channels"
        if vectorize not in ("channels", "time"):
            raise ValueError(f"vectorize must be 'channels', 'time' or None, got {vectorize!r}")
        self.vectorize = vectorize
        plan = _Plan(arrays, head_scale, self.dtype, CHUNK, vectorize == "time")
        self.receptive_field = plan.receptive_field
        self.macs_per_sample = plan.macs_per_sample
        self._kernel = plan.kernel(self.dtype)
        self._silence, self._silence_positions = self._silent_state(plan)
        self._batch, self._view = None, None

    @classmethod
    def from_nam(cls, source, *, dtype=np.float32, num_threads=None, vectorize=None):
        """A WaveNet from a ``.nam`` file (a path) or its parsed JSON (a dict)."""
        from .nam import read_nam
        arrays, head_scale = read_nam(source)
        return cls(arrays, head_scale, dtype=dtype, num_threads=num_threads,
                   vectorize=vectorize)

    def _silent_state(self, plan):
        """The state after endless silence: that of receptive_field - 1 zeros
        fed from zeroed buffers, since no later output reads further back."""
        state = np.zeros((1, plan.state_len), self.dtype)
        positions = np.array([[history for _, history, _, _ in plan.buffers]], np.intp)
        zeros = np.zeros(self.receptive_field - 1, self.dtype)
        scratch = np.empty((1, self._kernel.scratch_len), self.dtype)
        self._kernel.stream(zeros, np.empty_like(zeros), 1, zeros.size, state, positions,
                            scratch, 1)
        return state[0], positions[0]

    def _threads(self, n_samples):
        requested = core.default_num_threads() if self.num_threads is None else self.num_threads
        return _layout.thread_count(requested, n_samples * self.macs_per_sample)

    def _signal(self, name, value):
        """A (T,) or (N, T) real signal as a C-contiguous array of the net's dtype."""
        x = value if type(value) is np.ndarray else as_array(name, value)
        if x.ndim not in (1, 2):
            raise ValueError(f"{name} must have shape (T,) or (N, T), got {x.shape}")
        if x.dtype != self.dtype or not (x.flags.c_contiguous and x.flags.aligned):
            as_array(name, x)  # the dtype rules: real numbers only
            x = core_array(x, self.dtype)
        return x

    def __call__(self, x):
        """The whole signal(s) x, (T,) or (N, T), as if silence preceded them."""
        x = self._signal("x", x)
        n, length = (1, x.shape[0]) if x.ndim == 1 else x.shape
        y = np.empty_like(x)
        threads = self._threads(x.size)
        # A long signal is cut into pieces for the threads; each piece first
        # runs the receptive field before it, so long pieces waste little.
        pieces = 1 if n >= threads else max(1, min(-(-threads // n),
                                                   length // (4 * self.receptive_field)))
        team = max(1, min(threads, n * pieces))
        work = np.empty((team, self._kernel.state_len), self.dtype)
        work_positions = np.empty((team, self._kernel.n_buffers), np.intp)
        scratch = np.empty((team, self._kernel.scratch_len), self.dtype)
        self._kernel.offline(x, y, n, length, self._silence, self._silence_positions, work,
                             work_positions, scratch, pieces, self.receptive_field - 1, team)
        return y

    # ------------------------------------------------------------- streaming
    def prepare(self, max_block, batch=1):
        """Allocate the state of ``batch`` streams and the output of blocks
        up to ``max_block`` samples, and start from silence (see reset)."""
        max_block, batch = as_int("max_block", max_block, 1), as_int("batch", batch, 1)
        threads = core.default_num_threads() if self.num_threads is None else self.num_threads
        self._state = np.empty((batch, self._kernel.state_len), self.dtype)
        self._positions = np.empty((batch, self._kernel.n_buffers), np.intp)
        self._scratch = np.empty((max(1, min(threads, batch)), self._kernel.scratch_len),
                                 self.dtype)
        self._out = np.empty((batch, max_block), self.dtype)
        self._batch, self._view_key, self._view = batch, None, None
        self.reset()
        if batch == 1:  # blocks of one stream then take the kernel's unchecked path
            self._kernel.bind(self._state, self._positions, self._scratch[:1])

    def reset(self):
        """Start every stream over, as if preceded by silence."""
        if self._batch is not None:
            self._state[...] = self._silence
            self._positions[...] = self._silence_positions

    def stream(self, block, *, out=None):
        """The outputs of the next block of each stream.

        ``block`` is (T,) for one stream or (N, T) for N; the first block
        prepares N streams if ``prepare`` was not called.  Without ``out``
        the result is a view of a buffer that the next call overwrites.
        """
        y = self._view if out is None else out
        if self._batch == 1 and self._kernel.stream_bound(block, y):
            return y  # one prepared stream, a block and out as the kernel takes them
        return self._stream_checked(block, out)

    def _stream_checked(self, block, out):
        """stream() for any block and out: checked, converted, then run."""
        x = block
        if (type(x) is not np.ndarray or x.dtype != self.dtype
                or not (x.flags.c_contiguous and x.flags.aligned)):
            x = self._signal("block", block)
        shape = x.shape
        if len(shape) == 1:
            n, length = 1, shape[0]
        elif len(shape) == 2:
            n, length = shape
        else:
            raise ValueError(f"block must have shape (T,) or (N, T), got {shape}")
        if self._batch is None:
            self.prepare(max(length, 1), n)
        if n != self._batch:
            raise ValueError(f"block has {n} streams, the net was prepared for {self._batch}: "
                             f"call prepare(max_block, batch={n}), which resets the streams")
        if out is not None:
            y = check_out(out, shape, self.dtype, [("block", x)])
        elif self._view_key == shape:
            y = self._view
        else:
            if length > self._out.shape[1]:
                self._out = np.empty((n, length), self.dtype)
            y = self._out.reshape(-1)[:x.size].reshape(shape)
            self._view_key, self._view = shape, y
        # one stream runs on the calling thread; several share the team
        team = 1 if n == 1 else min(self._threads(x.size), n, self._scratch.shape[0])
        self._kernel.stream(x, y, n, length, self._state, self._positions, self._scratch, team)
        return y
