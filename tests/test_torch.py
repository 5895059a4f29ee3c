"""fastdilate.torch: conv1d/conv2d on tensors (differentiable, custom ops for
torch.compile), the Conv1d/Conv2d modules and replace_convs.

Oracles: PyTorch's own convolution and autograd, on PyTorch's conv module
cases (the table in test_backward), gradcheck/gradgradcheck in float64,
opcheck, eager against torch.compile, and a TCN trained with and without
replace_convs.
"""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import fastdilate.torch as ft
from conftest import run_isolated
from test_backward import TORCH_CASES

FUNCTIONAL = {1: ft.conv1d, 2: ft.conv2d}
TORCH_MODULE = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d}
FAST_MODULE = {1: ft.Conv1d, 2: ft.Conv2d}
SAME_EVEN = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def tensors(case, dtype=torch.float64, seed=0, requires_grad=True):
    """(input, weight, bias or None) of a case, random."""
    _, x_shape, w_shape, bias, _ = case
    generator = torch.Generator().manual_seed(seed)
    made = [torch.randn(shape, dtype=dtype, generator=generator).requires_grad_(requires_grad)
            for shape in (x_shape, w_shape, w_shape[:1])]
    return made[0], made[1], made[2] if bias else None


def module_pair(case, dtype=torch.float64):
    """A torch.nn.Conv{d}d of the case and a fastdilate one with its state_dict."""
    dims, x_shape, w_shape, bias, kwargs = case
    args = (x_shape[-dims - 1], w_shape[0], w_shape[2:])
    plain = TORCH_MODULE[dims](*args, bias=bias, dtype=dtype, **kwargs)
    fast = FAST_MODULE[dims](*args, bias=bias, dtype=dtype, **kwargs)
    fast.load_state_dict(plain.state_dict())
    return plain, fast


# ---------------------------------------------------------- the gradients
@SAME_EVEN
@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_gradcheck_and_gradgradcheck_on_pytorchs_conv_cases(name):
    dims, *_, kwargs = TORCH_CASES[name]
    x, w, b = tensors(TORCH_CASES[name])
    inputs = (x, w) if b is None else (x, w, b)

    def conv(x, w, b=None):
        return FUNCTIONAL[dims](x, w, b, **kwargs)

    assert torch.autograd.gradcheck(conv, inputs)
    assert torch.autograd.gradgradcheck(conv, inputs, fast_mode=True)


@SAME_EVEN
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_module_matches_pytorchs_forward_and_gradients(name, dtype):
    plain, fast = module_pair(TORCH_CASES[name], dtype)
    x = tensors(TORCH_CASES[name], dtype)[0]
    x_fast = x.detach().clone().requires_grad_()
    y_plain, y_fast = plain(x), fast(x_fast)
    grad = torch.randn(y_plain.shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
    y_plain.backward(grad)
    y_fast.backward(grad)
    tolerance = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5,
                                                                                 atol=1e-5)
    torch.testing.assert_close(y_fast, y_plain, **tolerance)
    torch.testing.assert_close(x_fast.grad, x.grad, **tolerance)
    for p_fast, p_plain in zip(fast.parameters(), plain.parameters()):
        torch.testing.assert_close(p_fast.grad, p_plain.grad, **tolerance)


@pytest.mark.parametrize("needs", [(True, False, False), (False, True, True), (True, True, False),
                                   (False, False, True)])
def test_only_the_gradients_asked_for(needs):
    x, w, b = tensors(TORCH_CASES["Conv1d_dilated"])
    for tensor, wanted in zip((x, w, b), needs):
        tensor.requires_grad_(wanted)
    ft.conv1d(x, w, b, dilation=2).sum().backward()
    assert [t.grad is not None for t in (x, w, b)] == list(needs)


def test_third_derivative_matches_pytorch():
    x, w, b = tensors(TORCH_CASES["Conv1d_reflect_stride2_pad2"])

    def third(conv):
        y = conv(x, w, b)
        (gx,) = torch.autograd.grad(y.pow(2).sum(), x, create_graph=True)
        (gw,) = torch.autograd.grad(gx.pow(2).sum(), w, create_graph=True)
        return torch.autograd.grad(gw.sum(), (x, w, b), allow_unused=True)
    fast = third(lambda x, w, b: ft.conv1d(x, w, b, 2, 1, padding_mode="reflect"))
    plain = third(lambda x, w, b: F.conv1d(F.pad(x, (1, 1), mode="reflect"), w, b, 2))
    for got, want in zip(fast, plain):
        assert (got is None) == (want is None)
        if got is not None:
            torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


# --------------------------------------------------- custom ops and compile
OPCHECK_CASES = ["Conv1d_groups", "Conv1d_circular_stride2_pad2", "Conv2d_depthwise_strided",
                 "Conv2d_reflect_stride2_pad2", "sample_conv1d_1_unbatched", "Conv1d_zero_batch"]


def _op_args(case):
    dims, *_, kwargs = case
    x, w, b = tensors(case)
    kwargs = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "padding_mode": "zeros",
              **kwargs}
    geometry = ft._geometry(f"conv{dims}d", dims, x, w, b, kwargs["stride"], kwargs["padding"],
                            kwargs["dilation"], kwargs["groups"], kwargs["padding_mode"])
    args = [list(geometry.strides), [p for pair in geometry.pads for p in pair],
            list(geometry.dilations), geometry.groups, geometry.padding_mode]
    return x, w, b, args


@pytest.mark.parametrize("name", OPCHECK_CASES)
def test_opcheck_accepts_the_ops(name):
    x, w, b, args = _op_args(TORCH_CASES[name])
    torch.library.opcheck(torch.ops.fastdilate.conv.default, (x, w, b, *args))
    y = torch.ops.fastdilate.conv(x, w, b, *args)
    g = torch.randn_like(y).requires_grad_()
    for mask in ([True, True, True], [False, True, False], [True, False, False]):
        torch.library.opcheck(torch.ops.fastdilate.conv_backward.default,
                              (g, x, w, *args, mask))


def _tcn(channels=4, blocks=3, conv=torch.nn.Conv1d, seed=0):
    """Residual blocks of causal dilated convolutions, then a 1x1 head."""
    torch.manual_seed(seed)

    class Block(torch.nn.Module):
        def __init__(self, dilation):
            super().__init__()
            self.pad = 2 * dilation
            self.conv = conv(channels, channels, 3, dilation=dilation, dtype=torch.float64)

        def forward(self, x):
            return x + torch.tanh(self.conv(F.pad(x, (self.pad, 0))))

    layers = [Block(2 ** i) for i in range(blocks)]
    return torch.nn.Sequential(*layers, conv(channels, 1, 1, dtype=torch.float64))


def _losses(model, steps, loss_of=None, seed=1):
    """The loss at each of ``steps`` SGD steps fitting a sine from noise."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 4, 64, dtype=torch.float64, generator=generator)
    target = torch.sin(torch.linspace(0, 12, 64, dtype=torch.float64)).expand(4, 1, 64)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_of = loss_of or (lambda model, x: F.mse_loss(model(x), target))
    losses = []
    for _ in range(steps):
        optimiser.zero_grad()
        loss = loss_of(model, x)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return np.array(losses)


def test_tcn_trained_with_replace_convs_follows_pytorchs_loss_curve():
    plain, fast = _tcn(), _tcn()
    swapped = ft.replace_convs(fast)
    assert swapped == ["0.conv", "1.conv", "2.conv", "3"]
    plain_losses, fast_losses = _losses(plain, 200), _losses(fast, 200)
    assert plain_losses[-1] < 0.2 * plain_losses[0]  # it learns
    np.testing.assert_allclose(fast_losses, plain_losses, rtol=1e-9)


def test_compiled_training_step_equals_eager():
    eager, compiled = _tcn(blocks=2, conv=ft.Conv1d), _tcn(blocks=2, conv=ft.Conv1d)
    target = torch.linspace(-1, 1, 64, dtype=torch.float64).expand(4, 1, 64)

    def loss_of(model, x):
        return F.mse_loss(model(x), target)

    torch._dynamo.reset()
    compiled_loss = torch.compile(loss_of, fullgraph=True)
    np.testing.assert_allclose(_losses(compiled, 3, compiled_loss), _losses(eager, 3, loss_of),
                               rtol=1e-12)
    for p, q in zip(compiled.parameters(), eager.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------ modules, fallbacks
def test_causal_padding_pads_the_left_only():
    conv = ft.Conv1d(3, 2, 3, dilation=4, padding="causal", padding_mode="replicate",
                     dtype=torch.float64)
    x = torch.randn(2, 3, 20, dtype=torch.float64)
    want = F.conv1d(F.pad(x, (8, 0), mode="replicate"), conv.weight, conv.bias, dilation=4)
    torch.testing.assert_close(conv(x), want, rtol=1e-12, atol=1e-12)
    assert "padding=causal" in repr(conv)
    assert set(conv.state_dict()) == {"weight", "bias"}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_other_dtypes_fall_back_to_pytorch(dtype):
    conv = ft.Conv2d(2, 3, 3, padding=1, padding_mode="circular", dtype=dtype)
    plain = torch.nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular", dtype=dtype)
    plain.load_state_dict(conv.state_dict())
    x = torch.randn(1, 2, 5, 6, dtype=dtype)
    assert torch.equal(conv(x), plain(x))


def test_other_devices_fall_back_to_pytorch():
    conv = ft.Conv1d(2, 3, 3, padding="causal", device="meta")
    y = conv(torch.empty(4, 2, 10, device="meta"))
    assert y.device.type == "meta" and y.shape == (4, 3, 10)


def test_replace_convs_swaps_plain_convs_in_place():
    class Mine(torch.nn.Conv1d):
        pass

    model = torch.nn.Sequential(torch.nn.Conv1d(2, 2, 3), torch.nn.ConvTranspose1d(2, 2, 3),
                                torch.nn.Sequential(torch.nn.Conv2d(1, 1, 2)), Mine(2, 2, 1))
    first = model[0]
    x = torch.randn(1, 2, 9)
    before = model[0](x)
    assert ft.replace_convs(model) == ["0", "2.0"]
    assert model[0] is first and type(first) is ft.Conv1d and type(model[2][0]) is ft.Conv2d
    assert type(model[1]) is torch.nn.ConvTranspose1d and type(model[3]) is Mine
    torch.testing.assert_close(model[0](x), before)
    assert ft.replace_convs(model) == []
    with pytest.raises(TypeError, match="module"):
        ft.replace_convs([model])


def test_tensors_are_shared_with_numpy_not_copied():
    x = torch.randn(2, 3, 5, requires_grad=True)
    assert np.shares_memory(ft._array(x), x.detach().numpy())
    assert ft._forward_impl(x, torch.randn(1, 3, 1), None, (1, 0, 1, 1, "zeros"))._base is None


def test_mismatched_dtypes_and_non_tensors_name_the_argument():
    x, w = torch.randn(1, 2, 5), torch.randn(3, 2, 2)
    with pytest.raises(TypeError, match="weight must have input's dtype"):
        ft.conv1d(x, w.double())
    with pytest.raises(TypeError, match="bias must have input's dtype"):
        ft.conv1d(x, w, torch.zeros(3, dtype=torch.float64))
    with pytest.raises(TypeError, match="input must be a torch.Tensor"):
        ft.conv1d(x.numpy(), w)
    with pytest.raises(ValueError, match="groups=2 must divide"):
        ft.conv1d(x, torch.randn(3, 1, 2), groups=2)


def test_fastdilate_torch_imports_the_real_torch():
    code, out, err = run_isolated("""
        import sys
        import fastdilate
        assert "torch" not in sys.modules
        import fastdilate.torch as ft
        import torch
        assert ft.torch is torch and torch.__file__ != ft.__file__
        print(type(ft.conv1d(torch.ones(1, 1, 3), torch.ones(1, 1, 2))).__name__)
    """)
    assert code == 0, err
    assert out == "Tensor"
