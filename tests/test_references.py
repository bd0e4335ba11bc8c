"""References are PyTorch itself; these tests pin the conventions they encode."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grader import references as R
from grader.device import describe_device, reference_device, to_tensor
from grader.problems import ps01_convolution as ps01


def test_device_is_cuda_when_available_and_tf32_is_off():
    dev = reference_device()
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert torch.backends.cudnn.allow_tf32 is False
    assert torch.backends.cuda.matmul.allow_tf32 is False
    assert to_tensor(np.zeros(2)).dtype == torch.float64
    assert ("CUDA" in describe_device()) == torch.cuda.is_available()


def test_seed_example():
    np.testing.assert_array_equal(R.conv2d_single(ps01.SEED_IMAGE, ps01.SEED_KERNEL),
                                  ps01.SEED_OUTPUT)


@pytest.mark.parametrize("k", range(1, 8))
@pytest.mark.parametrize("d", range(1, 4))
def test_same_padding_matches_explicit_padding(k, d):
    before, after = R.same_padding(k, d)
    assert before + after == d * (k - 1) and after - before in (0, 1)  # extra pixel after
    x = torch.randn(1, 1, 1, 13, dtype=torch.float64)
    w = torch.randn(1, 1, 1, k, dtype=torch.float64)
    same = F.conv2d(x, w, padding="same", dilation=(1, d))
    explicit = F.conv2d(F.pad(x, (before, after)), w, dilation=(1, d))
    torch.testing.assert_close(same, explicit)


@pytest.mark.parametrize("n,k,s,p,d", [(7, 3, 1, 0, 1), (7, 3, 2, 0, 1), (7, 3, 3, 0, 1),
                                       (28, 3, 1, 0, 1), (32, 3, 1, 1, 1), (10, 3, 2, 1, 2)])
def test_conv_output_size_is_the_floor_formula(n, k, s, p, d):
    assert R.conv_output_size(n, k, s, p, d) == (n + 2 * p - d * (k - 1) - 1) // s + 1


@pytest.mark.parametrize("bad", [dict(n=2, kernel_size=3), dict(n=5, kernel_size=3, stride=0),
                                 dict(n=5, kernel_size=3, padding=-1)])
def test_conv_output_size_refuses_impossible_settings(bad):
    with pytest.raises(ValueError):
        R.conv_output_size(**bad)


def test_pool_output_size_ceil_mode_drops_a_window_starting_in_the_padding():
    # n=5, k=2, s=2, p=1: ceil gives 4 windows, but the 4th would start at 6 >= n + p.
    assert R.pool_output_size(5, 2, 2, 1, ceil_mode=True) == 3
    assert R.pool_output_size(5, 2, ceil_mode=True) == 3
    assert R.pool_output_size(5, 2) == 2


def test_parameter_counts_of_the_seed_nets():
    assert R.conv2d_param_count(1, 10, 3) == 100
    assert R.conv2d_param_count(10, 20, 3) == 1820
    assert R.linear_param_count(500, 10) == 5010
    assert R.flatten_size(*ps01.MNIST_NET) == 500 and R.flatten_size(*ps01.CIFAR_NET) == 400
    assert R.conv2d_param_count(64, 128, 1) == 8320
    assert R.conv2d_param_count(10, 6, 5, bias=False) == 1500
    assert R.conv2d_param_count(3, 64, 3) == 1792
    assert R.conv2d_param_count(8, 8, 3, groups=4) == 8 * 2 * 9 + 8


def test_references_return_float64_numpy_without_touching_inputs():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.ones((1, 1, 2, 2))
    before = x.copy()
    out = R.conv2d(x, w, padding="same")
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(x, before)
    assert R.max_pool2d(-x, 3, padding=1).max() == 0  # padding is -inf, never 0
