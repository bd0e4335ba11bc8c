"""Architecture as data: per-layer tables and summaries for lectures 5-7.

Shapes come from forward hooks and multiply-accumulates (MACs) from PyTorch's
own ``torch.utils.flop_counter`` (a MAC is two FLOPs), on the ``meta`` device:
no memory is allocated and no arithmetic is done, so even VGG-19 is described
in milliseconds.  Tested in ``tests/test_arch_tools.py``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

# Layers that compute something; activations, dropout and flatten are left out of tables.
COMPUTE = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d,
           nn.AdaptiveAvgPool2d, nn.LocalResponseNorm)


def on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` with every tensor on the meta device (shapes only, no storage)."""
    with torch.device("meta"):
        return build()


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def layer_table(model: nn.Module, input_shape: Sequence[int],
                types: tuple = COMPUTE) -> list[dict]:
    """One row per leaf layer of the given ``types``, in the order the forward pass runs them.

    Columns: ``layer`` (its name in ``state_dict``), ``type``, ``out_shape``
    (without the batch), ``params`` and ``macs`` (for one image).  A layer
    called twice gets two rows.  ``model`` may live on the meta device.
    """
    first = next(model.parameters())
    names = {mod: name for name, mod in model.named_modules()}
    rows: list[dict] = []

    def hook(mod, inp, out):
        rows.append({"layer": names[mod], "type": type(mod).__name__,
                     "out_shape": tuple(out.shape[1:]), "params": count_params(mod), "macs": 0})

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, types) and not list(m.children())]
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.zeros(1, *input_shape, device=first.device, dtype=first.dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    flops = counter.get_flop_counts()
    root = type(model).__name__
    for row in rows:
        row["macs"] = int(sum(flops.get(f"{root}.{row['layer']}", {}).values()) // 2)
    return rows


def summary(model: nn.Module, input_shape: Sequence[int]) -> dict:
    """Totals for one image: parameters, MACs and depth (weight layers on the longest path).

    Depth counts convolutions and linear layers the way the papers do
    ("VGG-16" has 13 convolutions and 3 linear layers); a shortcut's 1x1
    projection is not on the longest path, so names containing "downsample"
    are left out.  This holds for chains and ResNets only: for branched
    networks (GoogLeNet) use the longest path of the traced graph instead
    (``vgg_googlenet_tools.depth``).
    """
    rows = layer_table(model, input_shape, types=(nn.Conv2d, nn.Linear))
    first, was_training = next(model.parameters()), model.training
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape, device=first.device, dtype=first.dtype))
    finally:
        model.train(was_training)
    return {"params": count_params(model), "macs": int(counter.get_total_flops() // 2),
            "weight_layers": sum(1 for r in rows if "downsample" not in r["layer"])}
