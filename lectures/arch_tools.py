"""Architecture as data: per-layer tables and summaries for lectures 5-7.

Shapes come from forward hooks and multiply-accumulates (MACs) from PyTorch's
own ``torch.utils.flop_counter`` (a MAC is two FLOPs), on the ``meta`` device:
no memory is allocated and no arithmetic is done, so even VGG-19 is described
in milliseconds.  Tested in ``tests/test_arch_tools.py``.
"""
from __future__ import annotations

import contextlib
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


def _is_layer(m: nn.Module) -> bool:
    """A leaf module, or a BatchNorm that carries its activation as a parameterless child
    (timm's fused ``BatchNormAct2d``): both are one layer of the table."""
    children = list(m.children())
    return not children or (isinstance(m, nn.BatchNorm2d)
                            and not any(True for c in children for _ in c.parameters()))


def eval_pass(model: nn.Module, input_shape: Sequence[int], handles: list,
              context=None) -> None:
    """One forward pass of a zero image of ``input_shape`` in eval mode, without gradients
    (and inside ``context``, such as a FLOP counter), on the model's device and dtype; the
    forward ``handles`` are removed and the model's mode restored afterwards."""
    first = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        with context or contextlib.nullcontext(), torch.no_grad():
            model(torch.zeros(1, *input_shape, device=first.device, dtype=first.dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)


def forward_rows(model: nn.Module, input_shape: Sequence[int],
                 modules: dict) -> tuple[list[dict], int]:
    """One forward pass under PyTorch's FLOP counter, for one image of ``input_shape``.

    Returns a row per call of each module in ``modules`` (module -> name), in the
    order they run: ``layer``, ``type``, ``out_shape`` (without the batch),
    ``params`` and ``macs``; and the model's total MACs.  ``model`` may live on
    the meta device.
    """
    rows: list[dict] = []

    def hook(mod, inp, out):
        rows.append({"layer": modules[mod], "type": type(mod).__name__,
                     "out_shape": tuple(out.shape[1:]), "params": count_params(mod), "macs": 0})

    counter = FlopCounterMode(display=False)
    eval_pass(model, input_shape, [m.register_forward_hook(hook) for m in modules], counter)
    flops = counter.get_flop_counts()
    root = type(model).__name__
    for row in rows:
        row["macs"] = int(sum(flops.get(f"{root}.{row['layer']}", {}).values()) // 2)
    return rows, int(counter.get_total_flops() // 2)


def layer_table(model: nn.Module, input_shape: Sequence[int],
                types: tuple = COMPUTE) -> list[dict]:
    """One row per layer of the given ``types``, in the order the forward pass runs them.

    Columns: ``layer`` (its name in ``state_dict``), ``type``, ``out_shape``
    (without the batch), ``params`` and ``macs`` (for one image).  A layer
    called twice gets two rows.  ``model`` may live on the meta device.
    """
    modules = {m: name for name, m in model.named_modules() if isinstance(m, types) and _is_layer(m)}
    return forward_rows(model, input_shape, modules)[0]


def count(model: nn.Module, input_shape: Sequence[int]) -> dict:
    """Parameters and MACs for one image, from a single pass (no table): for sweeps."""
    return {"params": count_params(model), "macs": forward_rows(model, input_shape, {})[1]}


def summary(model: nn.Module, input_shape: Sequence[int]) -> dict:
    """Totals for one image: parameters, MACs and depth (weight layers on the longest path).

    Depth counts convolutions and linear layers the way the papers do
    ("VGG-16" has 13 convolutions and 3 linear layers); a shortcut's 1x1
    projection is not on the longest path, so names containing "downsample"
    are left out.  This holds for chains and ResNets only: for branched
    networks (GoogLeNet) use the longest path of the traced graph instead
    (``vgg_googlenet_tools.depth``).
    """
    modules = {m: name for name, m in model.named_modules()
               if isinstance(m, (nn.Conv2d, nn.Linear)) and _is_layer(m)}
    rows, macs = forward_rows(model, input_shape, modules)
    return {"params": count_params(model), "macs": macs,
            "weight_layers": sum(1 for r in rows if "downsample" not in r["layer"])}
