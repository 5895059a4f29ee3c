"""Read Neural Amp Modeler ``.nam`` files (the JSON that the
``neural-amp-modeler`` package's ``export`` writes) into WaveNet specs.

Both layer-array formats are read: the A1 one of NAM 0.5-0.12 (``head_size``,
``head_bias``, ``gated``, one activation and kernel size for all layers) and
the current one (``head`` {out_channels, kernel_size, bias}, per-layer
``kernel_sizes``, ``activation``, ``gating_mode`` and
``secondary_activation``, ``bottleneck``, ``layer1x1``, ``head1x1``).  The
weights are one flat list, in the order the exporter writes them: per layer
array the rechannel, then per layer the conv weight and bias, the mixin,
the layer 1x1 weight and bias, the head 1x1 weight and bias (those that are
active), then the head rechannel's weight and bias; ``head_scale`` last.
"""
import json
import os

import numpy as np

from .wavenet import Layer, LayerArray

# NAM's A1 WaveNet architectures: (channels, head size, dilations) of their
# two layer arrays (kernel size 3, Tanh; the first head without bias, the
# second with; head_scale 0.02).
_D10 = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
_D7, _D13 = _D10[:7], _D10[7:] + _D10
A1_ARCHITECTURES = {
    "standard": ((16, 8, _D10), (8, 1, _D10)),
    "lite": ((12, 6, _D7), (6, 1, _D13)),
    "feather": ((8, 4, _D7), (4, 1, _D13)),
    "nano": ((4, 2, _D7), (2, 1, _D13)),
}

# Features of the current format that the core does not run.
_FILM_KEYS = ("conv_pre_film", "conv_post_film", "input_mixin_pre_film", "input_mixin_post_film",
              "activation_pre_film", "activation_post_film", "layer1x1_post_film",
              "head1x1_post_film")
_GROUP_KEYS = ("groups_input", "groups_input_mixin")


def read_nam(source):
    """(layer arrays, head_scale) of a ``.nam`` file's path or parsed dict."""
    data = _load(source)
    if data.get("architecture") != "WaveNet":
        raise ValueError(f".nam architecture {data.get('architecture')!r} is not supported: "
                         f"fastdilate.models reads WaveNet models only")
    config = data.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(".nam WaveNet config must hold a list of 'layers'")
    for key in ("head", "condition_dsp"):
        if config.get(key) is not None:
            raise ValueError(f".nam WaveNet config: a {key!r} is not supported "
                             f"(only head_scale after the layer arrays)")
    weights = _Weights(data.get("weights"))
    arrays = tuple(_layer_array(i, layer_config, weights)
                   for i, layer_config in enumerate(config["layers"]))
    # The list ends with head_scale in float32; NAM keeps the config's value
    # when the two agree to 1e-5 (0.02 rather than 0.0199999995...), so do we.
    head_scale = float(weights.take(1, "head_scale")[0])
    if abs(head_scale - config.get("head_scale", head_scale)) <= 1e-5:
        head_scale = float(config["head_scale"])
    weights.check_used()
    return arrays, head_scale


def a1_layers_config(name, gated=False):
    """The ``layers_configs`` of NAM's ``WaveNet.init_from_config`` for an A1
    architecture (``A1_ARCHITECTURES``), gated (tanh x sigmoid) or not."""
    activation = ({"name": "PairMultiply", "primary": "Tanh", "secondary": "Sigmoid"}
                  if gated else "Tanh")
    layers, inputs = [], 1
    for (channels, head_size, dilations), head_bias in zip(A1_ARCHITECTURES[name], (False, True)):
        layers.append(dict(input_size=inputs, condition_size=1, channels=channels,
                           head={"out_channels": head_size, "kernel_size": 1, "bias": head_bias},
                           kernel_size=3, dilations=list(dilations), activation=activation))
        inputs = channels
    return layers


def random_a1_nam(name, seed=0, gated=False, scale=0.1):
    """A ``.nam`` dict (the A1 format) of an A1 architecture with random
    normal weights: a model to try the library on without a trained file."""
    layers, weights, inputs = [], 0, 1
    for (channels, head_size, dilations), head_bias in zip(A1_ARCHITECTURES[name], (False, True)):
        mid = 2 * channels if gated else channels
        per_layer = mid * channels * 3 + 2 * mid + channels * channels + channels
        weights += channels * inputs + len(dilations) * per_layer + head_size * channels + (
            head_size if head_bias else 0)
        layers.append(dict(input_size=inputs, condition_size=1, channels=channels,
                           head_size=head_size, kernel_size=3, dilations=list(dilations),
                           activation="Tanh", gated=gated, head_bias=head_bias))
        inputs = channels
    rng = np.random.default_rng(seed)
    return {"version": "0.5.4", "architecture": "WaveNet",
            "config": {"layers": layers, "head": None, "head_scale": 0.02},
            "weights": (scale * rng.standard_normal(weights + 1)).tolist()}


def _load(source):
    if isinstance(source, dict):
        return source
    if isinstance(source, (str, os.PathLike)):
        with open(source) as f:
            return json.load(f)
    raise TypeError(f"from_nam takes a path or a dict, got {type(source).__name__}")


class _Weights:
    """The flat weight list, taken from the front."""

    def __init__(self, values):
        if not isinstance(values, (list, tuple, np.ndarray)):
            raise ValueError(".nam file must hold a list of 'weights'")
        self.values, self.used = np.asarray(values, dtype=np.float64).ravel(), 0

    def take(self, count, what, shape=None):
        left = self.values.size - self.used
        if count > left:
            raise ValueError(f".nam weight list is truncated: {what} needs {count} values, "
                             f"{left} left of {self.values.size}")
        part = self.values[self.used:self.used + count]
        self.used += count
        return part if shape is None else part.reshape(shape)

    def check_used(self):
        if self.used != self.values.size:
            raise ValueError(f".nam weight list has {self.values.size - self.used} values more "
                             f"than its config uses ({self.used})")


def _per_layer(value, count, name, where):
    """A per-layer setting: one value for every layer, or a list of them."""
    if isinstance(value, list):
        if len(value) != count:
            raise ValueError(f"{where}: {name} lists {len(value)} values for {count} layers")
        return value
    return [value] * count


def _check_supported(config, where):
    for key in _FILM_KEYS:
        if isinstance(config.get(key), dict) and config[key].get("active", False):
            raise ValueError(f"{where}: FiLM ({key}) is not supported")
    for key in _GROUP_KEYS:
        if config.get(key, 1) != 1:
            raise ValueError(f"{where}: {key}={config[key]} is not supported (groups 1 only)")
    for key in ("layer1x1", "head1x1"):
        if (config.get(key) or {}).get("groups", 1) != 1:
            raise ValueError(f"{where}: {key} groups={config[key]['groups']} is not supported")
    for key in ("slimmable", "packing"):
        if config.get(key) is not None:
            raise ValueError(f"{where}: {key!r} models are not supported")
    if config.get("condition_size", 1) != 1:
        raise ValueError(f"{where}: condition_size={config['condition_size']} is not supported "
                         f"(the condition is the audio itself, 1 channel)")


def _gatings(config, count, where):
    """(gating, secondary activation) of each layer."""
    if "gating_mode" in config:
        gatings = _per_layer(config["gating_mode"], count, "gating_mode", where)
        secondaries = _per_layer(config.get("secondary_activation"), count,
                                 "secondary_activation", where)
        return [(g, "Sigmoid" if s is None else s) for g, s in zip(gatings, secondaries)]
    return [("gated" if config.get("gated", False) else "none", "Sigmoid")] * count


def _head(config):
    """(out channels, kernel size, bias) of the head rechannel."""
    if "head" in config:
        head = config["head"]
        return head["out_channels"], head.get("kernel_size", 1), head.get("bias", False)
    return config["head_size"], 1, config.get("head_bias", False)


def _layer_array(index, config, weights):
    where = f".nam layer array {index}"
    if not isinstance(config, dict):
        raise ValueError(f"{where} must be a JSON object")
    _check_supported(config, where)
    try:
        channels, inputs, dilations = config["channels"], config["input_size"], config["dilations"]
        head_out, head_taps, head_bias = _head(config)
    except KeyError as missing:
        raise ValueError(f"{where} has no {missing}") from None
    count = len(dilations)
    kernels = _per_layer(config.get("kernel_sizes", config.get("kernel_size")), count,
                         "kernel_size", where)
    activations = _per_layer(config.get("activation", "Tanh"), count, "activation", where)
    bottleneck = config.get("bottleneck", channels)
    layer1x1 = (config.get("layer1x1") or {}).get("active", True)
    head1x1 = config.get("head1x1") or {}
    head_channels = head1x1["out_channels"] if head1x1.get("active", False) else bottleneck

    rechannel = weights.take(channels * inputs, f"{where} rechannel", (channels, inputs))
    layers = []
    for i, (kernel, dilation, activation, (gating, secondary)) in enumerate(
            zip(kernels, dilations, activations, _gatings(config, count, where))):
        mid = 2 * bottleneck if gating != "none" else bottleneck
        name = f"{where} layer {i}"
        parts = dict(
            conv_weight=weights.take(mid * channels * kernel, f"{name} conv weight",
                                     (mid, channels, kernel)),
            conv_bias=weights.take(mid, f"{name} conv bias"),
            mixin_weight=weights.take(mid, f"{name} input mixin", (mid, 1)))
        if layer1x1:
            parts["layer1x1_weight"] = weights.take(channels * bottleneck, f"{name} layer 1x1",
                                                    (channels, bottleneck))
            parts["layer1x1_bias"] = weights.take(channels, f"{name} layer 1x1 bias")
        if head1x1.get("active", False):
            parts["head1x1_weight"] = weights.take(head_channels * bottleneck, f"{name} head 1x1",
                                                   (head_channels, bottleneck))
            parts["head1x1_bias"] = weights.take(head_channels, f"{name} head 1x1 bias")
        layers.append(Layer(dilation=dilation, activation=activation, gating=gating,
                            secondary=secondary, **parts))
    head_weight = weights.take(head_out * head_channels * head_taps, f"{where} head rechannel",
                               (head_out, head_channels, head_taps))
    bias = weights.take(head_out, f"{where} head rechannel bias") if head_bias else None
    return LayerArray(rechannel, tuple(layers), head_weight, bias)
