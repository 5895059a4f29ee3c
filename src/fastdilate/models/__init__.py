"""Whole models run by the compiled core: WaveNet stacks of the Neural Amp
Modeler family (``WaveNet``, built from ``LayerArray`` and ``Layer`` specs or
read from a ``.nam`` file with ``WaveNet.from_nam``)."""
from .wavenet import ACTIVATIONS, GATINGS, Layer, LayerArray, WaveNet

__all__ = ["ACTIVATIONS", "GATINGS", "Layer", "LayerArray", "WaveNet"]
