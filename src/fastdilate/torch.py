"""fastdilate under PyTorch: differentiable conv1d/conv2d, drop-in modules.

``import fastdilate.torch`` (never ``import fastdilate``) imports PyTorch.
CPU float32/float64 tensors are computed by fastdilate, through two custom
ops (``torch.ops.fastdilate.conv`` and ``conv_backward``) that ``torch.compile``
and ``torch.library.opcheck`` accept; each op's gradient is expressed in
the two ops again, so double (and higher) backward works.  Anything else
(other devices and dtypes) runs PyTorch's own convolution.  Tensors are
shared with NumPy without copies where they are contiguous; fastdilate
runs with ``torch.get_num_threads()`` threads.
"""
import functools
from typing import Callable, List, NamedTuple, Optional

import torch
import torch.nn.functional as F

from . import _api
from ._backward import conv1d_backward, conv2d_backward
from ._checks import check_conv

__all__ = ["Conv1d", "Conv2d", "conv1d", "conv2d", "replace_convs"]

_FORWARD = {1: _api.conv1d, 2: _api.conv2d}
_BACKWARD = {1: conv1d_backward, 2: conv2d_backward}
_FAST_DTYPES = (torch.float32, torch.float64)
_TORCH_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
                    "circular": "circular"}


# ------------------------------------------------------------- arguments
def _normalised(dims, value):
    """torch's one-element tuples for 1-D arguments, as fastdilate's ints."""
    if dims == 1 and isinstance(value, (tuple, list)) and len(value) == 1:
        return value[0]
    return tuple(value) if isinstance(value, list) else value


_cached_check = functools.lru_cache(maxsize=256)(check_conv)


def _geometry(name, dims, input, weight, bias, stride, padding, dilation, groups, padding_mode):
    """The forward's checked geometry (``_checks.check_conv``), cached for
    arguments that may key a cache (in eager mode: Dynamo traces the check)."""
    call = (name, dims, tuple(input.shape), tuple(weight.shape),
            None if bias is None else tuple(bias.shape),
            _normalised(dims, stride), _normalised(dims, padding), _normalised(dims, dilation),
            groups, padding_mode)
    if not torch.compiler.is_compiling() and all(map(_api._plain, call[5:])):
        return _cached_check(*call)
    return check_conv(*call)


def _core_args(dims, stride, pads, dilation):
    """The custom ops' int lists as fastdilate's stride, padding, dilation."""
    pairs = tuple(tuple(pads[2 * i:2 * i + 2]) for i in range(dims))
    if dims == 1:
        return stride[0], pairs[0], dilation[0]
    return tuple(stride), pairs, tuple(dilation)


def _array(tensor):
    """A NumPy view of a CPU tensor: its memory, shared."""
    return tensor.detach().numpy() if tensor.requires_grad else tensor.numpy()


# ---------------------------------------------- the computation, on tensors
# ``args`` is (stride, padding, dilation, groups, padding_mode) as
# fastdilate.conv1d/conv2d take them.
def _forward_impl(input, weight, bias, args):
    stride, padding, dilation, groups, padding_mode = args
    out = _FORWARD[weight.dim() - 2](
        _array(input), _array(weight), None if bias is None else _array(bias), stride, padding,
        dilation, groups, padding_mode=padding_mode, num_threads=torch.get_num_threads())
    return torch.from_numpy(out)


def _backward_impl(grad_output, input, weight, args, mask):
    """(grad_input, grad_weight, grad_bias); an empty tensor where masked."""
    stride, padding, dilation, groups, padding_mode = args
    grads = _BACKWARD[weight.dim() - 2](
        _array(grad_output), _array(input), _array(weight), stride, padding, dilation, groups,
        padding_mode=padding_mode, output_mask=tuple(mask), num_threads=torch.get_num_threads())
    return tuple(input.new_empty(0) if g is None else torch.from_numpy(g) for g in grads)


class _Ops(NamedTuple):
    """The two differentiable operations, ``conv(input, weight, bias, args)``
    and ``backward(grad_output, input, weight, args, mask)``: the custom ops
    (for torch.compile) or the eager autograd Functions."""
    conv: Callable
    backward: Callable


def _conv_gradients(ops, grad_output, input, weight, args, mask):
    if not any(mask):
        return None, None, None
    grads = ops.backward(grad_output, input, weight, args, mask)
    return tuple(g if wanted else None for g, wanted in zip(grads, mask))


def _backward_gradients(ops, grad_output, input, weight, args, mask, upstream, needs):
    """The gradients of (grad_input, grad_weight, grad_bias) = backward(g, x, w)
    with respect to g, x and w, from theirs (a, b, c).  Each is linear in g;
    by the adjoint identities <a, dx(g, w)> = <conv(a, w), g> and
    <b, dw(g, x)> = <conv(x, b), g>."""
    a, b, c = (t if wanted and t is not None else None for t, wanted in zip(upstream, mask))
    grad_g = grad_x = grad_w = None
    if needs[0]:
        terms = [ops.conv(a, weight, None, args)] if a is not None else []
        if b is not None:
            terms.append(ops.conv(input, b, None, args))
        if c is not None:
            terms.append(c.reshape((-1,) + (1,) * (weight.dim() - 2)).expand_as(grad_output))
        grad_g = sum(terms[1:], terms[0]) if terms else None
    if needs[1] and b is not None:
        grad_x = ops.backward(grad_output, input, b, args, (True, False, False))[0]
    if needs[2] and a is not None:
        grad_w = ops.backward(grad_output, a, weight, args, (False, True, False))[1]
    return grad_g, grad_x, grad_w


# ------------------------------------------------- eager autograd Functions
# Old-style forward(ctx, ...): apply() binds no signature for those, which
# would cost more than a small convolution.
class _Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, weight, bias, args):
        ctx.args, ctx.has_bias = args, bias is not None
        ctx.save_for_backward(input, weight)
        ctx.set_materialize_grads(False)
        return _forward_impl(input, weight, bias, args)

    @staticmethod
    def backward(ctx, grad_output):
        if grad_output is None:
            return None, None, None, None
        needs = ctx.needs_input_grad
        mask = (needs[0], needs[1], ctx.has_bias and needs[2])
        return _conv_gradients(_EAGER, grad_output, *ctx.saved_tensors, ctx.args, mask) + (None,)


class _ConvBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grad_output, input, weight, args, mask):
        ctx.args, ctx.mask = args, mask
        ctx.save_for_backward(grad_output, input, weight)
        ctx.set_materialize_grads(False)
        return _backward_impl(grad_output, input, weight, args, mask)

    @staticmethod
    def backward(ctx, *upstream):
        return _backward_gradients(_EAGER, *ctx.saved_tensors, ctx.args, ctx.mask, upstream,
                                   ctx.needs_input_grad) + (None, None)


def _eager_backward(grad_output, input, weight, args, mask):
    """The backward op, recorded for autograd only where its own gradient may
    be asked for (create_graph): the Function's bookkeeping costs more than
    a small convolution."""
    if torch.is_grad_enabled():
        return _ConvBackward.apply(grad_output, input, weight, args, mask)
    return _backward_impl(grad_output, input, weight, args, mask)


_EAGER = _Ops(_Conv.apply, _eager_backward)


# ------------------------------------------------------------ custom ops
# The same two operations for torch.compile, with int lists for arguments:
# padding is (before, after) of each spatial axis, flat.
def _op_args(weight, stride, padding, dilation, groups, padding_mode):
    return _core_args(weight.dim() - 2, stride, padding, dilation) + (groups, padding_mode)


@torch.library.custom_op("fastdilate::conv", mutates_args=())
def _conv_op(input: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
             stride: List[int], padding: List[int], dilation: List[int], groups: int,
             padding_mode: str) -> torch.Tensor:
    return _forward_impl(input, weight, bias,
                         _op_args(weight, stride, padding, dilation, groups, padding_mode))


@_conv_op.register_fake
def _(input, weight, bias, stride, padding, dilation, groups, padding_mode):
    dims = weight.dim() - 2
    stride, padding, dilation, groups, padding_mode = _op_args(
        weight, stride, padding, dilation, groups, padding_mode)
    geometry = check_conv(f"conv{dims}d", dims, input.shape, weight.shape, None, stride,
                          padding, dilation, groups, padding_mode)
    return input.new_empty(geometry.result_shape)


@torch.library.custom_op("fastdilate::conv_backward", mutates_args=())
def _conv_backward_op(grad_output: torch.Tensor, input: torch.Tensor, weight: torch.Tensor,
                      stride: List[int], padding: List[int], dilation: List[int], groups: int,
                      padding_mode: str, output_mask: List[bool]
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(grad_input, grad_weight, grad_bias); an empty tensor where masked."""
    return _backward_impl(grad_output, input, weight,
                          _op_args(weight, stride, padding, dilation, groups, padding_mode),
                          output_mask)


@_conv_backward_op.register_fake
def _(grad_output, input, weight, stride, padding, dilation, groups, padding_mode, output_mask):
    shapes = (input.shape, weight.shape, weight.shape[:1])
    return tuple(input.new_empty(shape if wanted else (0,))
                 for shape, wanted in zip(shapes, output_mask))


_COMPILED = _Ops(lambda input, weight, bias, args: torch.ops.fastdilate.conv(
                     input, weight, bias, *args),
                 lambda grad_output, input, weight, args, mask: torch.ops.fastdilate.conv_backward(
                     grad_output, input, weight, *args, list(mask)))


def _conv_op_setup(ctx, inputs, output):
    input, weight, bias, *args = inputs
    ctx.args, ctx.has_bias = tuple(args), bias is not None
    ctx.save_for_backward(input, weight)


def _conv_op_grad(ctx, grad_output):
    needs = ctx.needs_input_grad
    mask = (needs[0], needs[1], ctx.has_bias and needs[2])
    return _conv_gradients(_COMPILED, grad_output, *ctx.saved_tensors, ctx.args,
                           mask) + (None,) * 5


def _backward_op_setup(ctx, inputs, output):
    grad_output, input, weight, *args, mask = inputs
    ctx.args, ctx.mask = tuple(args), tuple(mask)
    ctx.save_for_backward(grad_output, input, weight)


def _backward_op_grad(ctx, *upstream):
    return _backward_gradients(_COMPILED, *ctx.saved_tensors, ctx.args, ctx.mask, upstream,
                               ctx.needs_input_grad) + (None,) * 6


_conv_op.register_autograd(_conv_op_grad, setup_context=_conv_op_setup)
_conv_backward_op.register_autograd(_backward_op_grad, setup_context=_backward_op_setup)


# ------------------------------------------------------------ functional
def _fast(input, weight, bias):
    """Whether fastdilate computes this call: dense CPU tensors, float32 or
    float64.  There, a weight or bias of another dtype is a TypeError (as in
    PyTorch), named."""
    for name, tensor in (("input", input), ("weight", weight), ("bias", bias)):
        if not isinstance(tensor, torch.Tensor) and (tensor is not None or name != "bias"):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    tensors = (input, weight) if bias is None else (input, weight, bias)
    if not all(t.is_cpu and t.layout is torch.strided for t in tensors):
        return False
    if input.dtype not in _FAST_DTYPES:
        return False
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and tensor.dtype is not input.dtype:
            raise TypeError(f"{name} must have input's dtype {input.dtype}, got {tensor.dtype}")
    return True


def _convolve(dims, input, weight, bias, stride, padding, dilation, groups, padding_mode):
    fast = _fast(input, weight, bias)
    if fast and not torch.compiler.is_compiling():  # eager: no dispatcher in the way
        args = (_normalised(dims, stride), _normalised(dims, padding),
                _normalised(dims, dilation), groups, padding_mode)
        if torch.is_grad_enabled() and (input.requires_grad or weight.requires_grad or (
                bias is not None and bias.requires_grad)):
            return _Conv.apply(input, weight, bias, args)
        return _forward_impl(input, weight, bias, args)
    geometry = _geometry(f"conv{dims}d", dims, input, weight, bias, stride, padding, dilation,
                         groups, padding_mode)
    pads = [p for pair in geometry.pads for p in pair]
    if fast:
        return torch.ops.fastdilate.conv(input, weight, bias, list(geometry.strides), pads,
                                         list(geometry.dilations), geometry.groups, padding_mode)
    return _torch_conv(dims, input, weight, bias, geometry)


def _torch_conv(dims, input, weight, bias, geometry):
    """PyTorch's own convolution of a checked call (padding applied by F.pad
    where it is one-sided or not zeros)."""
    conv = F.conv1d if dims == 1 else F.conv2d
    symmetric = all(before == after for before, after in geometry.pads)
    if geometry.padding_mode == "zeros" and symmetric:
        padding = tuple(before for before, _ in geometry.pads)
    else:
        flat = [p for pair in reversed(geometry.pads) for p in pair]  # F.pad: last axis first
        input = F.pad(input, flat, mode=_TORCH_PAD_MODES[geometry.padding_mode])
        padding = 0
    return conv(input, weight, bias, geometry.strides, padding, geometry.dilations,
                geometry.groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros"):
    """``torch.nn.functional.conv1d`` computed by fastdilate, differentiable.

    The arguments of :func:`fastdilate.conv1d` (``padding`` also
    ``"causal"``; ``padding_mode`` as ``torch.nn.Conv1d``'s), on tensors:
    CPU float32/float64 tensors of one dtype run fastdilate's core (forward
    and backward); anything else runs PyTorch's convolution.
    """
    return _convolve(1, input, weight, bias, stride, padding, dilation, groups, padding_mode)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros"):
    """``torch.nn.functional.conv2d`` computed by fastdilate; as :func:`conv1d`."""
    return _convolve(2, input, weight, bias, stride, padding, dilation, groups, padding_mode)


# --------------------------------------------------------------- modules
class _FastConv:
    """What Conv1d and Conv2d add to PyTorch's: padding="causal" and the
    forward through fastdilate."""

    _causal = False
    _functional = None

    def _init(self, base, args, kwargs):
        padding = kwargs.get("padding", args[4] if len(args) > 4 else 0)
        if isinstance(padding, str) and padding == "causal":
            if len(args) > 4:
                args = args[:4] + (0,) + args[5:]
            else:
                kwargs["padding"] = 0
        base.__init__(self, *args, **kwargs)
        if isinstance(padding, str) and padding == "causal":
            self._causal, self.padding = True, "causal"

    def _conv_forward(self, input, weight, bias):
        return self._functional(input, weight, bias, self.stride, self.padding, self.dilation,
                                self.groups, self.padding_mode)


class Conv1d(_FastConv, torch.nn.Conv1d):
    """``torch.nn.Conv1d`` (same constructor and state_dict) computed by
    fastdilate on CPU float32/float64 tensors, by PyTorch elsewhere; padding
    may also be ``"causal"``."""

    _functional = staticmethod(conv1d)

    def __init__(self, *args, **kwargs):
        self._init(torch.nn.Conv1d, args, kwargs)


class Conv2d(_FastConv, torch.nn.Conv2d):
    """``torch.nn.Conv2d`` computed by fastdilate; as :class:`Conv1d`
    (without ``"causal"``)."""

    _functional = staticmethod(conv2d)

    def __init__(self, *args, **kwargs):
        self._init(torch.nn.Conv2d, args, kwargs)


_REPLACEMENTS = {torch.nn.Conv1d: Conv1d, torch.nn.Conv2d: Conv2d}


def replace_convs(module):
    """Make every plain ``torch.nn.Conv1d``/``Conv2d`` in ``module`` (itself
    included) a fastdilate :class:`Conv1d`/:class:`Conv2d`, in place: the
    same object, parameters, buffers and hooks, only the class changes.
    Subclasses of PyTorch's convs are left alone, since they may compute
    otherwise.  Returns the qualified names of the modules swapped."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    swapped = []
    for name, child in module.named_modules():
        replacement = _REPLACEMENTS.get(type(child))
        if replacement is not None:
            child.__class__ = replacement
            swapped.append(name)
    return swapped
