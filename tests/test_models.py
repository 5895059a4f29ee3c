"""fastdilate.models: WaveNet against the neural-amp-modeler PyTorch model on
random-weight exports of its standard, lite, feather and nano configs;
streaming against offline bitwise; .nam errors; no allocation per block."""
import json
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import BAD_ARGUMENT, sweep
from fastdilate.models import Layer, LayerArray, WaveNet
from fastdilate.models.nam import A1_ARCHITECTURES, a1_layers_config, random_a1_nam

import torch  # the oracle: CI installs torch and neural-amp-modeler (see pyproject.toml)
from nam.models import wavenet as nam_wavenet


def layer_config(input_size, channels, head_size, dilations, head_bias, activation="Tanh",
                 **extra):
    return dict(input_size=input_size, condition_size=1, channels=channels,
                head={"out_channels": head_size, "kernel_size": 1, "bias": head_bias},
                kernel_size=3, dilations=dilations, activation=activation, **extra)


def nam_model(layers_configs, seed, head_scale=0.02):
    """A neural-amp-modeler WaveNet with random weights (its own
    initialisation, seeded) and its .nam dict."""
    torch.manual_seed(seed)
    model = nam_wavenet.WaveNet.init_from_config(
        {"layers_configs": layers_configs, "head": None, "head_scale": head_scale})
    model.eval()
    # What Exportable.export writes, less the loudness metadata (which runs
    # the model on a long file).
    exported = {"version": "0.7.0", "architecture": "WaveNet", "config": model._export_config(),
                "weights": model._export_weights().tolist()}
    return model, json.loads(json.dumps(exported))


def nam_output(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)[None]).numpy()[0]


def signal(length, seed=0, dtype=np.float32):
    return (0.5 * np.random.default_rng(seed).standard_normal(length)).astype(dtype)


def assert_close_to_scale(got, expected, tolerance):
    scale = np.abs(expected).max()
    assert np.abs(got - expected).max() <= tolerance * scale


VECTORIZE = ["channels", "time"]


@pytest.mark.parametrize("vectorize", VECTORIZE)
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("name", list(A1_ARCHITECTURES))
def test_a1_configs_match_the_nam_pytorch_model(name, gated, vectorize):
    model, exported = nam_model(a1_layers_config(name, gated), seed=len(name))
    net = WaveNet.from_nam(exported, vectorize=vectorize)
    assert net.receptive_field == model.receptive_field
    x = signal(net.receptive_field + 3000)
    assert_close_to_scale(net(x), nam_output(model, x), 1e-5)


@pytest.mark.parametrize("name, expected", [("nano", "time"), ("feather", "time"),
                                            ("lite", "channels"), ("standard", "channels")])
def test_few_channels_vectorize_over_time(name, expected):
    assert WaveNet.from_nam(random_a1_nam(name)).vectorize == expected


@pytest.mark.parametrize("vectorize", VECTORIZE)
@pytest.mark.parametrize("extra, activation", [
    ({"bottleneck": 6, "head_1x1_config": {"active": True, "out_channels": 3}}, "Tanh"),
    ({"layer_1x1_config": {"active": False}}, "ReLU"),
    ({"bottleneck": 3}, {"name": "PairBlend", "primary": "Tanh", "secondary": "Sigmoid"}),
    ({}, ["Sigmoid", "SiLU", "Softsign", {"name": "LeakyReLU", "negative_slope": 0.2},
          {"name": "Hardtanh", "min_val": -0.5, "max_val": 0.7}]),
])
def test_current_format_features_match_the_nam_pytorch_model(extra, activation, vectorize):
    first = layer_config(1, 5, 4, [1, 3, 9, 2, 5], False, activation, **extra)
    first["head"]["kernel_size"] = 2
    second = layer_config(5, 4, 1, [2, 7], True)
    second["kernel_size"] = [2, 4]
    model, exported = nam_model([first, second], seed=3)
    net = WaveNet.from_nam(exported, vectorize=vectorize)
    assert net.receptive_field == model.receptive_field
    x = signal(2000, seed=1)
    assert_close_to_scale(net(x), nam_output(model, x), 1e-5)


def test_float64_matches_the_nam_model_in_double():
    model, exported = nam_model(a1_layers_config("lite", gated=True), seed=4)
    x = signal(6000, dtype=np.float64)
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(x)[None]).numpy()[0]
    for vectorize in VECTORIZE:
        got = WaveNet.from_nam(exported, dtype=np.float64, vectorize=vectorize)(x)
        assert got.dtype == np.float64
        assert_close_to_scale(got, expected, 1e-10)


def legacy_export(exported, gated):
    """The same model in the A1 format of NAM 0.5-0.12 (head_size, gated...)."""
    layers = []
    for layer in exported["config"]["layers"]:
        layers.append(dict(input_size=layer["input_size"], condition_size=1,
                           channels=layer["channels"], head_size=layer["head"]["out_channels"],
                           kernel_size=layer["kernel_sizes"][0], dilations=layer["dilations"],
                           activation="Tanh", gated=gated, head_bias=layer["head"]["bias"]))
    config = {"layers": layers, "head": None, "head_scale": exported["config"]["head_scale"]}
    return {"version": "0.5.2", "architecture": "WaveNet", "config": config,
            "weights": exported["weights"]}


@pytest.mark.parametrize("gated", [False, True])
def test_the_legacy_a1_format_reads_the_same_model(gated, tmp_path):
    model, exported = nam_model(a1_layers_config("nano", gated), seed=5)
    path = tmp_path / "legacy.nam"
    path.write_text(json.dumps(legacy_export(exported, gated)))
    x = signal(5000)
    np.testing.assert_array_equal(WaveNet.from_nam(path)(x), WaveNet.from_nam(exported)(x))


@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("name", list(A1_ARCHITECTURES))
def test_random_a1_nam_has_the_weights_of_its_architecture(name, gated):
    model, exported = nam_model(a1_layers_config(name, gated), seed=0)
    made = random_a1_nam(name, seed=1, gated=gated)
    assert len(made["weights"]) == len(exported["weights"])
    assert WaveNet.from_nam(made).receptive_field == model.receptive_field


# ------------------------------------------------------------- streaming
def small_net(seed, dtype, num_threads=None, vectorize=None):
    """A random two-array WaveNet built from arrays: mixed gating, kernel
    sizes, 1x1s (or none) and head taps."""
    rng = np.random.default_rng(seed)
    arrays, inputs, head_in = [], 1, None
    for a in range(2):
        channels, bottleneck = int(rng.integers(1, 11)), int(rng.integers(1, 6))
        head = head_in or int(rng.integers(1, 4))
        layers = []
        for _ in range(int(rng.integers(1, 4))):
            gating = str(rng.choice(["none", "gated", "blended"]))
            mid, taps = bottleneck * (1 if gating == "none" else 2), int(rng.integers(1, 4))
            # a 1x1 may be left out where the widths allow (x + a; head term a)
            layer1x1 = bottleneck != channels or rng.random() < 0.5
            head1x1 = bottleneck != head or rng.random() < 0.5
            layers.append(Layer(
                rng.normal(0, 0.5, (mid, channels, taps)), rng.normal(0, 0.5, mid),
                rng.normal(0, 0.5, (mid, 1)), int(rng.integers(1, 9)),
                activation=str(rng.choice(["Tanh", "ReLU", "Sigmoid"])), gating=gating,
                layer1x1_weight=rng.normal(0, 0.5, (channels, bottleneck)) if layer1x1 else None,
                layer1x1_bias=rng.normal(0, 0.5, channels) if layer1x1 else None,
                head1x1_weight=rng.normal(0, 0.5, (head, bottleneck)) if head1x1 else None,
                head1x1_bias=rng.normal(0, 0.5, head) if head1x1 else None))
        out = 1 if a == 1 else int(rng.integers(1, 4))
        arrays.append(LayerArray(rng.normal(0, 0.5, (channels, inputs)), tuple(layers),
                                 rng.normal(0, 0.5, (out, head, int(rng.integers(1, 3)))),
                                 rng.normal(0, 0.5, out)))
        inputs, head_in = channels, out
    return WaveNet(arrays, 0.5, dtype=dtype, num_threads=num_threads, vectorize=vectorize)


def stream_in_blocks(net, x, sizes):
    outputs, start = [], 0
    for size in sizes:
        outputs.append(net.stream(x[..., start:start + size]).copy())
        start += size
    return np.concatenate(outputs, axis=-1)


def random_blocks(rng, length):
    sizes = []
    while sum(sizes) < length:
        sizes.append(int(rng.choice([1, int(rng.integers(1, 40)), int(rng.integers(1, 700))])))
    sizes[-1] -= sum(sizes) - length
    return sizes


@sweep(60)
@given(seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from([np.float32, np.float64]),
       batch=st.sampled_from([None, 1, 3]), num_threads=st.sampled_from([1, 2, 3]),
       vectorize=st.sampled_from(VECTORIZE))
def test_any_block_split_equals_offline_bitwise(seed, dtype, batch, num_threads, vectorize):
    net = small_net(seed, dtype, num_threads, vectorize)
    rng = np.random.default_rng(seed)
    x = signal(int(rng.integers(1, 1500)), seed, dtype)
    if batch:
        x = np.stack([x * (i + 1) for i in range(batch)])
    expected = net(x)
    net.prepare(64, batch or 1)
    np.testing.assert_array_equal(stream_in_blocks(net, x, random_blocks(rng, x.shape[-1])),
                                  expected, strict=True)


@pytest.mark.parametrize("vectorize", VECTORIZE)
@pytest.mark.parametrize("name", ["standard", "nano"])
def test_a1_streams_equal_offline_bitwise_at_every_block_size(name, vectorize):
    _, exported = nam_model(a1_layers_config(name, gated=True), seed=6)
    net = WaveNet.from_nam(exported, vectorize=vectorize)
    x = signal(3 * net.receptive_field + 17, seed=2)
    expected = net(x)
    for block in (1, 16, 64, 256, 1024, 4096):
        net.prepare(block)
        sizes = [block] * (x.size // block) + [x.size % block]
        np.testing.assert_array_equal(stream_in_blocks(net, x, sizes), expected)


@pytest.mark.parametrize("num_threads", [1, 2, 3])
def test_offline_is_the_same_for_any_thread_count_and_batch(num_threads):
    _, exported = nam_model(a1_layers_config("feather"), seed=7)
    x = np.stack([signal(30000, seed=s) for s in range(3)])
    expected = WaveNet.from_nam(exported, num_threads=1)(x)
    net = WaveNet.from_nam(exported, num_threads=num_threads)
    np.testing.assert_array_equal(net(x), expected)
    np.testing.assert_array_equal(net(x[1]), expected[1])


def test_reset_starts_the_streams_over():
    net = small_net(8, np.float32)
    x = signal(500, seed=3)
    first = stream_in_blocks(net, x, [100] * 5)
    net.reset()
    np.testing.assert_array_equal(stream_in_blocks(net, x, [250, 250]), first)


def test_a_prepared_stream_allocates_nothing_per_block():
    _, exported = nam_model(a1_layers_config("nano"), seed=9)
    net = WaveNet.from_nam(exported, num_threads=1)
    net.prepare(256, 2)
    blocks = np.zeros((2, 64), np.float32), np.zeros(2 * 256, np.float32).reshape(2, 256)
    out = np.empty((2, 64), np.float32)
    first = net.stream(blocks[1])
    for block in blocks:  # warm every path once
        net.stream(block)
    net.stream(blocks[0], out=out)
    not_tracemalloc = [tracemalloc.Filter(False, tracemalloc.__file__)]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces(not_tracemalloc)
        for _ in range(50):
            assert net.stream(blocks[0], out=out) is out
            result = net.stream(blocks[1])
        after = tracemalloc.take_snapshot().filter_traces(not_tracemalloc)
        grown = after.compare_to(before, "filename")
        assert sum(stat.size_diff for stat in grown) <= 0
    finally:
        tracemalloc.stop()
    assert np.shares_memory(result, first)  # the output buffer is reused, not reallocated


def test_a_refused_block_leaves_the_streams_as_they_were():
    net = small_net(10, np.float32)
    x = signal(400, seed=4)
    expected = net(x)
    net.prepare(200)
    head = net.stream(x[:150]).copy()
    with pytest.raises(ValueError, match="streams"):
        net.stream(np.zeros((2, 10), np.float32))
    with pytest.raises(TypeError, match="block"):
        net.stream(np.zeros(10, np.complex64))
    with pytest.raises(ValueError, match="shape"):
        net.stream(np.zeros((1, 1, 10), np.float32))
    np.testing.assert_array_equal(np.concatenate([head, net.stream(x[150:])]), expected)


# ---------------------------------------------------------------- errors
def test_from_nam_refuses_other_architectures():
    with pytest.raises(ValueError, match="architecture 'LSTM' is not supported"):
        WaveNet.from_nam({"architecture": "LSTM", "config": {}, "weights": []})


def test_from_nam_refuses_a_truncated_weight_list():
    _, exported = nam_model(a1_layers_config("nano"), seed=11)
    exported["weights"] = exported["weights"][:-40]
    with pytest.raises(ValueError, match="truncated"):
        WaveNet.from_nam(exported)


def test_from_nam_refuses_extra_weights():
    _, exported = nam_model(a1_layers_config("nano"), seed=12)
    exported["weights"].append(1.0)
    with pytest.raises(ValueError, match="1 values more"):
        WaveNet.from_nam(exported)


@pytest.mark.parametrize("key, value, words", [
    ("conv_pre_film", {"active": True, "shift": True, "groups": 1}, "FiLM"),
    ("groups_input", 2, "groups_input"),
    ("condition_size", 2, "condition_size"),
    ("slimmable", {"method": "slice_channels_uniform", "kwargs": {}}, "slimmable"),
])
def test_from_nam_refuses_unsupported_layer_features(key, value, words):
    _, exported = nam_model(a1_layers_config("nano"), seed=13)
    exported["config"]["layers"][0][key] = value
    with pytest.raises(ValueError, match=words):
        WaveNet.from_nam(exported)


def test_from_nam_refuses_a_post_stack_head_and_bad_sources():
    _, exported = nam_model(a1_layers_config("nano"), seed=14)
    exported["config"]["head"] = {"channels": 4}
    with pytest.raises(ValueError, match="'head' is not supported"):
        WaveNet.from_nam(exported)
    with pytest.raises(TypeError, match="path or a dict"):
        WaveNet.from_nam(42)


def test_constructor_names_the_part_whose_shape_is_wrong():
    good = Layer(np.zeros((2, 2, 3)), np.zeros(2), np.zeros((2, 1)), 1,
                 layer1x1_weight=np.zeros((2, 2)), layer1x1_bias=np.zeros(2))
    bad = Layer(np.zeros((2, 3, 3)), np.zeros(2), np.zeros((2, 1)), 1)
    head = np.zeros((1, 2, 1))
    with pytest.raises(ValueError, match="layer array 0 layer 1 conv_weight"):
        WaveNet([LayerArray(np.zeros((2, 1)), (good, bad), head)])
    with pytest.raises(ValueError, match="1 output channel"):
        WaveNet([LayerArray(np.zeros((2, 1)), (good,), np.zeros((2, 2, 1)))])
    with pytest.raises(ValueError, match="activation 'Swish' is not supported"):
        WaveNet([LayerArray(np.zeros((2, 1)), (Layer(
            np.zeros((2, 2, 3)), np.zeros(2), np.zeros((2, 1)), 1, activation="Swish"),), head)])
    with pytest.raises(BAD_ARGUMENT, match="dilation"):
        WaveNet([LayerArray(np.zeros((2, 1)), (Layer(
            np.zeros((2, 2, 3)), np.zeros(2), np.zeros((2, 1)), 0),), head)])
    with pytest.raises(TypeError, match="dtype"):
        WaveNet([LayerArray(np.zeros((2, 1)), (good,), head)], dtype=np.int32)
    with pytest.raises(ValueError, match="vectorize must be"):
        WaveNet([LayerArray(np.zeros((2, 1)), (good,), head)], vectorize="frames")
