"""How much faster is im2col than a loop over pixels, and how far is either from PyTorch?

    python benchmarks/bench_convolution.py [--size 56 --channels 64 --repeat 3]

Times four ways of computing the same 3x3 convolution (padding 1, stride 1,
C -> C channels, float64 unless noted) on an N x C x size x size input: a NumPy
loop over pixels (``naive``), the problem-set-2 solution's im2col ``conv2d_fast``
(``fast``), and ``F.conv2d`` in float64 and float32. The implementations and the
timing live in ``lectures/conv_timing.py``, which Lecture 4 runs too; every
implementation is checked against ``F.conv2d`` before it is timed. Prints best-of-
``repeat`` milliseconds and the ratio to torch f64. Not a test: timings on
shared machines are noisy, ratios less so.
"""
from __future__ import annotations

import argparse

from lectures.conv_timing import describe_device, load_fast, measure


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--size", type=int, default=56)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    results = measure(args.n, args.channels, args.size, args.k, args.repeat)
    label = load_fast()[1]
    flops = 2 * args.n * args.channels ** 2 * args.k ** 2 * args.size ** 2
    print(f"conv2d {args.n}x{args.channels}x{args.size}x{args.size}, {args.k}x{args.k}, "
          f"{args.channels}->{args.channels}, padding {args.k // 2}")
    print(f"device: {describe_device()}\n")
    print(f"{'implementation':<34} {'ms':>9} {'GFLOP/s':>8} {'x torch f64':>11}")
    for key, s in results.items():
        name = label if key == "fast" else key
        print(f"{name:<34} {1000 * s:9.2f} {flops / s / 1e9:8.2f} "
              f"{s / results['torch f64']:11.2f}")


if __name__ == "__main__":
    main()
