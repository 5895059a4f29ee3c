"""Streaming causal convolution with explicit state.

A stream is a signal that arrives in chunks.  ``conv1d_step`` takes one
chunk and the state left by the chunks before it and returns the outputs
that the chunk completes and the new state; the outputs of every chunk,
concatenated, equal ``fastdilate.conv1d(whole, ..., padding="causal")``
bitwise, however the signal was split.

Why bitwise: the causal output ``j`` is the valid-mode output over
``[zeros(span), x]`` whose last tap reads ``x[j * stride]``.  A step runs
the same valid-mode convolution over ``[history, chunk]``, where the
history is the last ``span = dilation * (K - 1)`` samples of the stream
(zeros at its start), so every output sums the same products in the core's
one fixed order.  With a stride, the first output of a chunk may start a
few samples in: the state carries that phase.
"""
from typing import NamedTuple

import numpy as np

from ._api import as_array, check_out, conv1d, result_dtype
from ._checks import as_int, as_thread_request, check_conv


class ConvState(NamedTuple):
    """Where a stream stands: its last ``span`` samples and its stride phase.

    ``history`` (read-only) has the chunks' shape with ``span`` samples, in
    the stream's dtype; ``skip`` is how many samples of the next chunk come
    before its first output (``-samples_seen % stride``); ``layer`` is the
    (kernel size, dilation, stride) of the layer that made it.  A state is
    never written after it is made, so keeping one is a copy of the stream.
    """
    history: np.ndarray
    skip: int
    layer: tuple


def _start_state(shape, dtype, layer):
    kernel, dilation, _ = layer
    history = np.zeros(shape[:-1] + (dilation * (kernel - 1),), dtype)
    history.flags.writeable = False
    return ConvState(history, 0, layer)


def _check_layer(state, layer):
    if not isinstance(state, ConvState):
        raise TypeError(f"state must be a ConvState (as conv1d_step returns) or None, "
                        f"got {type(state).__name__}")
    if state.layer != layer:
        raise ValueError(f"state comes from another layer: (kernel size, dilation, stride) "
                         f"{state.layer}, this one is {layer}")


def _check_state(state, x_shape, dtype, layer):
    """A state fits a chunk when the same layer made it from chunks of the
    same channels and batch, in the same dtype."""
    _check_layer(state, layer)
    if state.history.shape[:-1] != tuple(x_shape[:-1]):
        raise ValueError(f"state is for chunks of shape {state.history.shape[:-1]} + (T,), "
                         f"got a chunk of shape {tuple(x_shape)}")
    if state.history.dtype != dtype:
        raise TypeError(f"state holds a {state.history.dtype} stream, this chunk makes it "
                        f"{dtype}: pass chunks of one dtype")


def _step_geometry(x, w, b, stride, dilation, groups):
    """check_conv on the chunk as one causal call (T = 0 checked as T = 1):
    the argument, channel and shape rules of conv1d, in one place."""
    shape = x.shape[:-1] + (max(x.shape[-1], 1),) if x.ndim else x.shape
    return check_conv("conv1d_step", 1, shape, w.shape, None if b is None else b.shape,
                      stride, "causal", dilation, groups, "zeros")


def conv1d_step(input, weight, bias=None, *, state=None, stride=1, dilation=1, groups=1,
                out=None, num_threads=None):
    """One chunk of a causal convolution stream.

    Parameters
    ----------
    input : array_like, shape (N, C_in, T) or (C_in, T), any T >= 0
        The next T samples of N independent streams.
    weight, bias, stride, dilation, groups : as for :func:`fastdilate.conv1d`
    state : ConvState, optional
        What the previous step returned; None starts the stream (silence before it).
    out : ndarray, optional
        C-contiguous array of the output's shape and dtype to fill.
    num_threads : int >= 1, optional

    Returns
    -------
    (output, state)
        ``output`` (N, C_out, T_out) holds the causal outputs whose last tap
        falls in this chunk (T_out = T for stride 1); ``state`` goes into
        the next step.
    """
    x, w = as_array("input", input), as_array("weight", weight)
    b = None if bias is None else as_array("bias", bias)
    geometry = _step_geometry(x, w, b, stride, dilation, groups)
    stride, dilation = geometry.strides[0], geometry.dilations[0]
    dtype = result_dtype(*(a.dtype for a in (x, w, b) if a is not None))
    layer = (w.shape[2], dilation, stride)
    if state is None:
        state = _start_state(x.shape, dtype, layer)
    else:
        _check_state(state, x.shape, dtype, layer)
    span, length = state.history.shape[-1], x.shape[-1]
    n_out = 0 if length <= state.skip else (length - state.skip - 1) // stride + 1
    out_shape = geometry.result_shape[:-1] + (n_out,)
    if out is not None:
        operands = [("input", x), ("weight", w), ("state", state.history)]
        check_out(out, out_shape, dtype, operands + ([("bias", b)] if b is not None else []))

    window = np.concatenate([state.history, x.astype(dtype, copy=False)], axis=-1)
    if n_out:
        output = conv1d(window[..., state.skip:], w, b, stride=stride, dilation=dilation,
                        groups=groups, out=out, num_threads=num_threads)
    else:
        as_thread_request(num_threads)
        output = np.empty(out_shape, dtype) if out is None else out
    history = window[..., window.shape[-1] - span:].copy()
    history.flags.writeable = False
    return output, ConvState(history, (state.skip - length) % stride, layer)


class StreamingConv1d:
    """A causal conv1d layer fed chunk by chunk.

    ``layer(chunk)`` returns the chunk's outputs (see :func:`conv1d_step`);
    the outputs of all chunks equal ``fastdilate.conv1d(whole, weight, bias,
    stride, dilation=dilation, groups=groups, padding="causal")`` bitwise.
    ``state`` is a ConvState, read to save or fork the stream and assigned
    to restore one; ``reset()`` starts over from silence.  A chunk that is
    refused (wrong channels, dtype or batch) leaves the state as it was.
    """

    def __init__(self, weight, bias=None, stride=1, dilation=1, groups=1, *, num_threads=None):
        self.weight = np.array(as_array("weight", weight))
        self.bias = None if bias is None else np.array(as_array("bias", bias))
        if self.weight.ndim != 3:
            raise ValueError(f"weight must have shape (C_out, C_in // groups, K), "
                             f"got {self.weight.shape}")
        self.stride = as_int("stride", stride, 1)
        self.dilation = as_int("dilation", dilation, 1)
        self.groups = as_int("groups", groups, 1)
        self.num_threads = as_thread_request(num_threads)
        # The channel and bias rules, checked now rather than at the first chunk.
        c_in = self.weight.shape[1] * self.groups
        check_conv("StreamingConv1d", 1, (c_in, 1), self.weight.shape,
                   None if self.bias is None else self.bias.shape, self.stride, "causal",
                   self.dilation, self.groups, "zeros")
        self._state = None

    @property
    def receptive_field(self):
        """Samples each output depends on: dilation * (K - 1) + 1."""
        return self.dilation * (self.weight.shape[2] - 1) + 1

    @property
    def state(self):
        """The stream's ConvState (None before the first chunk)."""
        return self._state

    @state.setter
    def state(self, value):
        if value is not None:
            _check_layer(value, (self.weight.shape[2], self.dilation, self.stride))
        self._state = value

    def reset(self):
        """Start the stream over, as if preceded by silence."""
        self._state = None

    def __call__(self, chunk, *, out=None):
        output, self._state = conv1d_step(chunk, self.weight, self.bias, state=self._state,
                                          stride=self.stride, dilation=self.dilation,
                                          groups=self.groups, out=out,
                                          num_threads=self.num_threads)
        return output
