"""Reference implementations: PyTorch itself, in float64.

Each function takes and returns NumPy values, exactly like the student's
function it grades, so that a check only has to compare two results.
Where PyTorch raises, the reference raises ``ValueError`` with PyTorch's message.
"""
from __future__ import annotations

import functools
import warnings
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .device import DTYPE, reference_device, to_numpy, to_tensor

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


# --- problem set 2: the convolution zoo -----------------------------------------


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> np.ndarray:
    """PyTorch's transposed convolution; ``weight`` is (C_in, C_out / groups, kH, kW)."""
    b = None if bias is None else to_tensor(bias)
    out = F.conv_transpose2d(to_tensor(x), to_tensor(weight), b, stride=stride, padding=padding,
                             output_padding=output_padding, groups=groups, dilation=dilation)
    return to_numpy(out)


def conv_transpose_output_size(n: int, kernel_size: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """The output length of PyTorch's conv_transpose2d for an input of length ``n``.

    Measured on a real (tiny) CPU tensor: the meta device skips the
    ``output_padding < max(stride, dilation)`` rule.
    """
    if stride < 1 or padding < 0 or output_padding < 0 or dilation < 1:
        raise ValueError("stride and dilation must be >= 1, padding and output_padding >= 0")
    try:
        out = F.conv_transpose2d(torch.zeros(1, 1, n, 1), torch.zeros(1, 1, kernel_size, 1),
                                 stride=(stride, 1), padding=(padding, 0),
                                 output_padding=(output_padding, 0), dilation=(dilation, 1))
    except RuntimeError as err:
        raise ValueError(str(err)) from None
    return int(out.shape[2])


def conv_matrix(weight, input_hw, stride=1, padding=0) -> np.ndarray:
    """The dense matrix C with ``C @ x.ravel() == conv2d(x, weight).ravel()``.

    Column j is the response to the j-th unit image: the convolution of a
    one-hot input, computed by PyTorch for all of them at once.
    """
    h, w = input_hw
    basis = torch.eye(h * w, dtype=torch.float64, device=reference_device()).reshape(h * w, 1, h, w)
    k = to_tensor(np.asarray(weight))[None, None]
    out = F.conv2d(basis, k, stride=stride, padding=padding)  # (h*w, 1, oh, ow)
    return to_numpy(out.reshape(h * w, -1).T).copy()


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    b = None if bias is None else to_tensor(bias)
    out = F.conv3d(to_tensor(x), to_tensor(weight), b, stride=stride, padding=padding,
                   dilation=dilation)
    return to_numpy(out)


#: A kernel is separable when its second singular value is this small relative to the first.
SEPARABLE_RTOL = 1e-9


def separate_kernel(kernel) -> np.ndarray:
    """The kernel itself: a student's ``(column, row)`` must multiply back to it.

    The factors are not unique (scale one up, the other down), so the check
    compares the outer product, not the factors.  A kernel of rank > 1 raises.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    s = np.linalg.svd(kernel, compute_uv=False)
    if s.size > 1 and s[1] > SEPARABLE_RTOL * s[0]:
        raise ValueError("the kernel has rank > 1, so it is not separable")
    return kernel



def separable_conv2d(image, column, row) -> np.ndarray:
    """The full 2-D valid cross-correlation with ``outer(column, row)``."""
    return conv2d_single(image, np.outer(column, row))


def depthwise_separable_conv2d(x, depthwise_weight, pointwise_weight, depthwise_bias=None,
                               pointwise_bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Depthwise (groups = C_in) then pointwise (1x1), as in Xception and MobileNet."""
    x = to_tensor(x)
    db = None if depthwise_bias is None else to_tensor(depthwise_bias)
    pb = None if pointwise_bias is None else to_tensor(pointwise_bias)
    mid = F.conv2d(x, to_tensor(depthwise_weight), db, stride=stride, padding=padding,
                   dilation=dilation, groups=x.shape[1])
    return to_numpy(F.conv2d(mid, to_tensor(pointwise_weight), pb))


def channel_shuffle(x, groups: int) -> np.ndarray:
    return to_numpy(nn.ChannelShuffle(groups)(to_tensor(x)))


def local_response_norm(x, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> np.ndarray:
    return to_numpy(F.local_response_norm(to_tensor(x), size, alpha=alpha, beta=beta, k=k))


def receptive_field(layers) -> tuple[int, int]:
    """(receptive field, jump) of a stack of ``(kernel, stride, dilation)`` layers.

    Brute force, no formula: build the stack in 1-D with all-ones weights (so
    no gradient cancels), back-propagate from two neighbouring outputs, and
    measure.  The receptive field is the extent of one output's nonzero input
    gradient; the jump is how far the extent moves between neighbours.
    """
    span = 1 + sum((k - 1) * d for k, _, d in layers)
    stride = int(np.prod([s for _, s, _ in layers])) if layers else 1
    size = (span + 2) * stride + span  # room for two neighbouring outputs
    x = torch.zeros(1, 1, size, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, d in layers:
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    starts, extents = [], []
    for i in (0, 1):
        (g,) = torch.autograd.grad(y[0, 0, i], x, retain_graph=True)
        nz = torch.nonzero(g[0, 0]).flatten()
        starts.append(int(nz[0]))
        extents.append(int(nz[-1] - nz[0] + 1))
    return extents[0], starts[1] - starts[0]


def conv2d_backward(dout, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """``(dx, dweight, dbias)`` of ``conv2d`` for the upstream gradient ``dout``, by autograd."""
    xt = to_tensor(x).requires_grad_(True)
    wt = to_tensor(weight).requires_grad_(True)
    bt = torch.zeros(wt.shape[0], dtype=torch.float64, device=xt.device, requires_grad=True)
    out = F.conv2d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation, groups=groups)
    dx, dw, db = torch.autograd.grad(out, (xt, wt, bt), grad_outputs=to_tensor(dout))
    return to_numpy(dx), to_numpy(dw), to_numpy(db)


def im2col(x, kernel_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """``torch.nn.functional.unfold``: (N, C*kH*kW, L) columns, channel-major within a column."""
    return to_numpy(F.unfold(to_tensor(x), kernel_size, dilation=dilation, padding=padding,
                             stride=stride))


def conv2d_fast(x, weight, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    return conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)


def depthwise_separable_param_count(in_channels: int, out_channels: int, kernel_size) -> int:
    """Weights of a depthwise separable convolution without biases."""
    depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, groups=in_channels, bias=False,
                          device=_META)
    pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False, device=_META)
    return _numel(depthwise) + _numel(pointwise)


# --- problem sets 3-5: whole models ---------------------------------------------------
#
# A student's nn.Module is graded against a reference model: torchvision's, built
# with weights=None, or one of the project's own (grader.models).  Both get the
# same generated weights (grader.probes.fill), and the reference runs here,
# in float64 on the reference device.


def on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    with torch.device("meta"):
        return build()


# Reference results are cached for the life of the grading process: `nbgrader autograde`
# grades a whole class in one process, and every student's checks draw the same cases.
# Meta models hold no storage, and outputs are small arrays.
@functools.lru_cache(maxsize=16)
def _meta_model(build: Callable[[], nn.Module]) -> nn.Module:
    return on_meta(build)


@functools.lru_cache(maxsize=2048)
def model_structure(build: Callable[[], nn.Module]) -> dict:
    """What ``grader.probes.structure`` reports, and the state_dict entries, for the reference."""
    from . import probes
    model = on_meta(build)
    return {**probes.describe(model), "entries": probes.entries(model)}


@functools.lru_cache(maxsize=2048)
def model_output_shape(build: Callable[[], nn.Module], input_shape: tuple) -> tuple | None:
    """The reference's output shape in eval mode, or None where it refuses the input."""
    model = _meta_model(build).eval()
    try:
        with torch.no_grad():
            return tuple(model(torch.zeros(tuple(input_shape), device=_META)).shape)
    except Exception:  # noqa: BLE001 - too small an input, for example
        return None


def model_input(input_shape, seed: int = 0) -> np.ndarray:
    g = torch.Generator().manual_seed(10_007 + seed)
    return torch.randn(tuple(input_shape), generator=g, dtype=torch.float64).numpy()


@functools.lru_cache(maxsize=1024)
def model_function(build: Callable[[], nn.Module], input_shape: tuple, seed: int,
                   train: bool = True) -> dict:
    """What ``grader.probes.function`` reports, for the reference with the generated weights.

    ``out`` and ``layers`` (per-layer fingerprints): eval mode, float64, on the
    reference device.  ``train``: ``grader.probes.train_step`` on the CPU, like the
    sandbox (dropout masks come from the CPU generator), or None without ``train`` or
    where the reference cannot train on this input (BatchNorm on one value per channel).
    """
    from . import probes
    spec = model_structure(build)["entries"]
    model, _ = probes.generated_model(
        lambda device: on_meta(build) if device == "meta" else build(), spec, seed)
    x = model_input(input_shape, seed)
    model = model.to(reference_device()).eval()
    with torch.no_grad():
        y, rows = probes.fingerprints(model, lambda: model(to_tensor(x)))
    report = (probes.train_step(model.cpu(), {n: n for n, _ in spec}, spec, x, seed)
              if train else {"error": "not asked for"})
    del model
    return {"out": to_numpy(y), "layers": rows, "train": None if "error" in report else report}


@functools.lru_cache(maxsize=64)
def model_init(build: Callable[[], nn.Module], seed: int) -> dict:
    """What ``grader.probes.init`` reports, for the reference as it builds itself."""
    from . import probes
    torch.manual_seed(seed)
    model = build()
    return probes.initial_state(model, probes.entries(model))


# --- problem set 9: training loops and transfer learning ---------------------------------------
#
# The canonical PyTorch idioms.  A check runs the same probe (grader.probes) on these
# as on the student's functions and compares the two reports.  They run on the CPU,
# like the probe in the sandbox, so that both sides take the same floating-point path.


def train_one_epoch(model, loader, optimizer, loss_fn, device) -> float:
    """One pass over ``loader``; the mean loss per sample (not per batch)."""
    model.train()
    total, count = 0.0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(labels)
        count += len(labels)
    return total / count


def evaluate(model, loader, device) -> float:
    """Accuracy over every sample of ``loader``, in eval mode, without building a graph."""
    model.eval()
    correct, count = 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            correct += (model(images).argmax(dim=1) == labels).sum().item()
            count += len(labels)
    return correct / count


def head_name(model: nn.Module) -> str:
    """The qualified name of the model's head: its last ``nn.Linear``."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError("the model has no nn.Linear head")
    return names[-1]


def freeze_features(model: nn.Module) -> nn.Module:
    """Everything but the head stops learning."""
    head = head_name(model) + "."
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith(head)
    return model


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """A new, trainable head for ``num_classes`` in place of the old one."""
    name = head_name(model)
    old = model.get_submodule(name)
    parent, _, leaf = name.rpartition(".")
    new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    setattr(model.get_submodule(parent) if parent else model, leaf,
            new.to(old.weight.device, old.weight.dtype))
    return model


TRAINING = {"train_one_epoch": train_one_epoch, "evaluate": evaluate,
            "freeze_features": freeze_features, "replace_head": replace_head}


__all__ = [
    "avg_pool2d", "build_stack", "channel_shuffle", "conv2d", "conv2d_backward", "conv2d_fast",
    "conv2d_param_count", "conv2d_single", "conv3d", "conv_matrix", "conv_output_size",
    "conv_transpose2d", "conv_transpose_output_size", "depthwise_separable_conv2d",
    "depthwise_separable_param_count", "evaluate", "flatten_size", "freeze_features",
    "head_name", "im2col", "linear_param_count", "local_response_norm", "max_pool2d",
    "receptive_field", "reference_device", "replace_head", "same_padding", "separable_conv2d",
    "separate_kernel", "train_one_epoch",
]
