"""fastdilate: fast batched dilated (atrous) convolution on the CPU.

>>> import fastdilate as fd
>>> fd.dilated_convolve_1d([1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 4.0, 0.0, 5.0], [1.0, 1.0, 1.0], 2)
array([ 6.,  0.,  9.,  0., 12.])
"""
from ._api import conv1d, conv2d, dilated_convolve_1d
from ._backward import conv1d_backward, conv2d_backward
from ._info import build_info
from ._version import __version__
from .receptive import (compute_receptive_field, gridding_holes, trace_dependencies,
                        visualize_receptive_field)

__all__ = [
    "__version__",
    "build_info",
    "compute_receptive_field",
    "conv1d",
    "conv1d_backward",
    "conv2d",
    "conv2d_backward",
    "dilated_convolve_1d",
    "gridding_holes",
    "trace_dependencies",
    "visualize_receptive_field",
]
