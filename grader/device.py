"""Where reference computations run.

References run in float64, on CUDA when it is available and on the CPU otherwise.
TF32 is switched off: on Ampere and newer GPUs PyTorch would otherwise run
convolutions with a 10-bit mantissa, which is far too coarse to grade against.
"""
from __future__ import annotations

import functools

import torch

DTYPE = torch.float64


def _disable_tf32() -> None:
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


@functools.lru_cache(maxsize=1)
def reference_device() -> torch.device:
    """The device the references run on: ``cuda`` when available, else ``cpu``."""
    _disable_tf32()
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe_device() -> str:
    """One line saying where the references run, for logs and benchmark output."""
    dev = reference_device()
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        return f"references on {name} (CUDA), float64, TF32 off"
    return f"references on the CPU ({torch.get_num_threads()} threads), float64"


def to_tensor(array) -> torch.Tensor:
    """A float64 tensor on the reference device (copies, so callers keep their array)."""
    return torch.as_tensor(array, dtype=DTYPE).to(reference_device()).clone()


def to_numpy(tensor: torch.Tensor):
    return tensor.detach().to("cpu").numpy()
