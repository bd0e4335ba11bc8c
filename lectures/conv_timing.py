"""How fast is a convolution? Four ways of computing the same one, checked, then timed.

Lecture 4 (``ct.measure``) and ``benchmarks/bench_convolution.py`` (the command line) both
time a 3x3 convolution (padding 1, stride 1, C -> C channels, float64 unless noted) on an
N x C x size x size input:

* ``naive``: a NumPy loop over output pixels with one ``np.tensordot`` per pixel (the
  typical first attempt);
* ``fast``: ``conv2d_fast`` from the problem-set-2 model solution
  (``solutions/ps02_convolution_zoo/convolution_zoo.ipynb``), im2col and one matrix
  product. Where that notebook or function does not exist (a student's copy of the
  course), an im2col written here stands in, labelled "fast (im2col, benchmark's own)";
* ``torch f64`` and ``torch f32``: ``torch.nn.functional.conv2d``, with PyTorch's default
  number of threads.

Every implementation is checked against ``F.conv2d`` before it is timed; a wrong one
raises instead of producing a meaningless time. Timings on shared machines are noisy,
ratios less so: nothing here asserts a time.
"""
from __future__ import annotations

import functools
import os
import platform
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

SOLUTION = (Path(__file__).resolve().parents[1] / "solutions" / "ps02_convolution_zoo"
            / "convolution_zoo.ipynb")
KEYS = ("naive", "fast", "torch f64", "torch f32")


def naive_conv2d(x: np.ndarray, w: np.ndarray, padding: int = 0) -> np.ndarray:
    """Stride-1 convolution, one output pixel at a time: window . filters via tensordot."""
    n, _, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = h + 2 * padding - kh + 1, wd + 2 * padding - kw + 1
    out = np.empty((n, c_out, oh, ow))
    for i in range(oh):
        for j in range(ow):
            # (n, C, kh, kw) window against (C_out, C, kh, kw) filters -> (n, C_out)
            out[:, :, i, j] = np.tensordot(xp[:, :, i:i + kh, j:j + kw], w,
                                           axes=([1, 2, 3], [1, 2, 3]))
    return out


def im2col_conv2d(x: np.ndarray, w: np.ndarray, padding: int = 0) -> np.ndarray:
    """Stand-in for the solution's conv2d_fast: stride 1, groups 1, im2col + one matmul."""
    n, c = x.shape[:2]
    c_out, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    oh, ow = windows.shape[2:4]
    # (n, oh, ow, C, kh, kw) rows: one patch per output pixel, then a single product.
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    out = cols @ w.reshape(c_out, -1).T
    return out.reshape(n, oh, ow, c_out).transpose(0, 3, 1, 2)


@functools.lru_cache(maxsize=None)
def load_fast() -> tuple[Callable, str]:
    """(conv2d_fast, label): the model solution's function ``(x, w)``, or the stand-in above.

    The solution's answer cells (and its set-up cells, which hold the imports)
    are executed in order in one namespace, as the grader does.
    """
    if SOLUTION.exists():
        try:
            from grader import notebook as nbio
            from grader.submissions import solution_answers

            nb = nbio.read(SOLUTION)
            answers = solution_answers(nb)
            ns: dict = {}
            for gid, src in nbio.answer_cells(nb):
                exec(answers.get(gid, src), ns)
            if callable(ns.get("conv2d_fast")):
                return ns["conv2d_fast"], "fast (solution's conv2d_fast)"
        except Exception as err:  # a half-written solution must not break the lecture
            warnings.warn(f"could not load conv2d_fast from {SOLUTION.name}: {err!r}",
                          stacklevel=2)
    return im2col_conv2d, "fast (im2col, benchmark's own)"


def verify(fn: Callable, x: np.ndarray, w: np.ndarray, padding: int, name: str) -> None:
    """Raise unless ``fn(x, w, padding)`` equals F.conv2d in float64."""
    expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=padding).numpy()
    got = np.asarray(fn(x, w, padding))
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-9, atol=1e-9):
        raise AssertionError(f"{name} disagrees with torch.nn.functional.conv2d")


def with_padding(fast: Callable) -> Callable:
    """``fast(x, w)`` as ``run(x, w, padding)``: the solution's signature is not ours to fix,
    so the input is padded here."""
    def run(x, w, padding):
        return fast(np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))), w)
    return run


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` timed calls of ``fn``, in seconds."""
    fn()  # warm-up, not timed: first calls pay for allocation and library start-up
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure(n: int = 1, channels: int = 64, size: int = 56, k: int = 3,
            repeat: int = 3) -> dict[str, float]:
    """Best-of-``repeat`` seconds for each of :data:`KEYS` (all checked against F.conv2d first)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, channels, size, size))
    w = rng.standard_normal((channels, channels, k, k)) / (channels * k * k) ** 0.5
    p = k // 2
    fast, label = load_fast()
    fast = with_padding(fast)
    verify(naive_conv2d, x, w, p, "naive")
    verify(fast, x, w, p, label)
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    x32, w32 = xt.float(), wt.float()
    return {
        "naive": best_time(lambda: naive_conv2d(x, w, p), repeat),
        "fast": best_time(lambda: fast(x, w, p), repeat),
        "torch f64": best_time(lambda: F.conv2d(xt, wt, padding=p), repeat),
        "torch f32": best_time(lambda: F.conv2d(x32, w32, padding=p), repeat),
    }


def describe_device() -> str:
    cpu = platform.processor() or platform.machine()
    return (f"{cpu}, {os.cpu_count()} CPUs, torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads, NumPy {np.__version__}")
