"""Reference implementations: PyTorch itself, in float64.

Each function takes and returns NumPy values, exactly like the student's
function it grades, so that a check only has to compare two results.
Where PyTorch raises, the reference raises ``ValueError`` with PyTorch's message.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .device import reference_device, to_numpy, to_tensor

_META = torch.device("meta")


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# --- convolution and pooling -------------------------------------------------


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    b = None if bias is None else to_tensor(bias)
    with warnings.catch_warnings():  # 'same' with even kernels warns about a copy
        warnings.simplefilter("ignore")
        out = F.conv2d(to_tensor(x), to_tensor(weight), b, stride=stride, padding=padding,
                       dilation=dilation, groups=groups)
    return to_numpy(out)


def conv2d_single(image, kernel) -> np.ndarray:
    """Valid cross-correlation of one 2-D channel with one 2-D kernel."""
    image, kernel = np.asarray(image), np.asarray(kernel)
    return conv2d(image[None, None], kernel[None, None])[0, 0]


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False) -> np.ndarray:
    out = F.max_pool2d(to_tensor(x), kernel_size, stride=stride, padding=padding,
                       dilation=dilation, ceil_mode=ceil_mode)
    return to_numpy(out)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True) -> np.ndarray:
    out = F.avg_pool2d(to_tensor(x), kernel_size, stride=stride, padding=padding,
                       ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    return to_numpy(out)


# --- sizes ---------------------------------------------------------------------


def conv_output_size(n: int, kernel_size: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """The output length PyTorch's conv2d gives for an input of length ``n``.

    Shapes are inferred on the ``meta`` device, so no arithmetic is done here:
    whatever PyTorch computes is the answer.  Settings PyTorch refuses raise
    ``ValueError``.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    try:
        out = F.conv2d(torch.empty(1, 1, n, 1, device=_META),
                       torch.empty(1, 1, kernel_size, 1, device=_META),
                       stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1))
    except RuntimeError as err:
        raise ValueError(str(err)) from None
    return int(out.shape[2])


def pool_output_size(n: int, kernel_size: int, stride=None, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """The output length PyTorch's max_pool2d gives for an input of length ``n``."""
    out = F.max_pool2d(torch.empty(1, 1, n, 1, device=_META), (kernel_size, 1),
                       stride=None if stride is None else (stride, 1), padding=(padding, 0),
                       dilation=(dilation, 1), ceil_mode=ceil_mode)
    return int(out.shape[2])


def same_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding of PyTorch's ``padding='same'`` along one axis.

    Measured, not derived: an impulse kernel tap at position 0 copies the input
    shifted by the left padding, so the leading zeros of the output count it.
    """
    n = 2 * dilation * kernel_size + 3
    x = torch.arange(1, n + 1, dtype=torch.float64).reshape(1, 1, 1, n)
    w = torch.zeros(1, 1, 1, kernel_size, dtype=torch.float64)
    w[..., 0] = 1.0
    with warnings.catch_warnings():  # "may require a zero-padded copy": irrelevant here
        warnings.simplefilter("ignore")
        y = F.conv2d(x, w, padding="same", dilation=(1, dilation)).flatten()
    before = int((y == 0).nonzero().max().item() + 1) if (y[0] == 0) else 0
    total = dilation * (kernel_size - 1)
    return before, total - before


# --- parameter counts ----------------------------------------------------------


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv2d_param_count(in_channels, out_channels, kernel_size, bias=True, groups=1) -> int:
    return _numel(nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias, groups=groups,
                            device=_META))


def linear_param_count(in_features, out_features, bias=True) -> int:
    return _numel(nn.Linear(in_features, out_features, bias=bias, device=_META))


_LAYER_TYPES = {"conv2d", "max_pool2d", "avg_pool2d"}


def build_stack(in_channels: int, layers: Sequence[dict]) -> nn.Sequential:
    """The ``nn.Sequential`` described by the layer dicts used in problem set 1.

    Each dict has a ``"type"`` (``"conv2d"``, ``"max_pool2d"`` or ``"avg_pool2d"``)
    and the keyword arguments of the matching PyTorch module; missing keys take
    PyTorch's defaults.
    """
    mods, c = [], in_channels
    for spec in layers:
        spec = dict(spec)
        kind = spec.pop("type")
        if kind == "conv2d":
            mods.append(nn.Conv2d(c, device=_META, **spec))
            c = spec["out_channels"]
        elif kind == "max_pool2d":
            mods.append(nn.MaxPool2d(**spec))
        elif kind == "avg_pool2d":
            mods.append(nn.AvgPool2d(**spec))
        else:
            raise ValueError(f"unknown layer type {kind!r}; expected one of {sorted(_LAYER_TYPES)}")
    return nn.Sequential(*mods)


def flatten_size(in_shape: Sequence[int], layers: Sequence[dict]) -> int:
    """Number of features per sample after running ``layers`` on a (C, H, W) input."""
    c, h, w = in_shape
    out = build_stack(c, layers)(torch.empty(1, c, h, w, device=_META))
    return int(out[0].numel())


def describe() -> str:
    from .device import describe_device
    return describe_device()


__all__ = [
    "avg_pool2d", "build_stack", "conv2d", "conv2d_param_count", "conv2d_single",
    "conv_output_size", "flatten_size", "linear_param_count", "max_pool2d", "reference_device",
    "same_padding",
]
