"""``lectures/arch_tools.py`` against torchvision's models, hand-computed numbers and the digits."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from grader import models as gm
from grader.data import digits_split
from lectures import arch_tools as at
from lectures import lenet_alexnet_tools as lat
from lectures import resnet_tools as rt


def test_layer_table_alexnet_matches_hand_counts():
    rows = at.layer_table(at.on_meta(lambda: torchvision.models.alexnet(weights=None)),
                          (3, 224, 224))
    first = rows[0]
    assert first["layer"] == "features.0" and first["out_shape"] == (64, 55, 55)
    assert first["params"] == 64 * 3 * 11 * 11 + 64
    assert first["macs"] == 55 * 55 * 64 * 3 * 11 * 11
    assert sum(r["params"] for r in rows) == 61_100_840


@pytest.mark.parametrize("name, params, macs, depth", [
    ("vgg16", 138_357_544, 15_470_264_320, 16),
    ("resnet18", 11_689_512, 1_814_073_344, 18),
    ("resnet50", 25_557_032, 4_089_184_256, 50),
])
def test_summary(name, params, macs, depth):
    model = at.on_meta(lambda: getattr(torchvision.models, name)(weights=None))
    got = at.summary(model, (3, 224, 224))
    assert got == {"params": params, "macs": macs, "weight_layers": depth}


def test_layer_table_works_on_real_tensors_and_restores_mode():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(), nn.Flatten(), nn.Linear(8, 3))
    model.train()
    rows = at.layer_table(model, (1, 4, 4))
    assert [r["type"] for r in rows] == ["Conv2d", "Linear"]
    assert [r["macs"] for r in rows] == [2 * 9 * 4, 8 * 3]
    assert model.training


def test_output_shapes_against_a_forward_pass():
    net = gm.LeNet5Paper().train()
    shapes = at.output_shapes(net, (1, 32, 32), ["c1", "s2", "c3", "s4", "c5", "f6", "output"])
    assert net.training                                   # the mode is restored
    x = torch.zeros(1, 1, 32, 32)
    with torch.no_grad():
        c1 = net.c1(x)
        assert shapes["c1"] == tuple(c1.shape[1:]) == (6, 28, 28)
        assert shapes["s2"] == tuple(net.s2(c1).shape[1:]) == (6, 14, 14)
    assert [shapes[n] for n in ("c3", "s4", "c5", "f6", "output")] == [
        (16, 10, 10), (16, 5, 5), (120, 1, 1), (84,), (10,)]
    # Sequential paths and the meta device work too.
    tv = at.on_meta(lambda: torchvision.models.alexnet(weights=None))
    assert at.output_shapes(tv, (3, 224, 224), ["features.0", "avgpool"]) == {
        "features.0": (64, 55, 55), "avgpool": (256, 6, 6)}


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "resnext50_32x4d",
                                  "wide_resnet50_2", "densenet121", "densenet161"])
def test_top5_error_reads_torchvision_metadata(name):
    meta = torchvision.models.get_model_weights(name)["IMAGENET1K_V1"].meta
    err = at.top5_error(name)
    assert err == pytest.approx(100 - meta["_metrics"]["ImageNet-1K"]["acc@5"])
    assert 4 < err < 12
    model = at.on_meta(lambda: getattr(torchvision.models, name)(weights=None))
    assert meta["num_params"] == at.count_params(model)


# ---------------------------------------------------------------------------
# The traced graph
# ---------------------------------------------------------------------------


def test_graph_walk_square_and_per_axis():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Conv2d(2, 2, 3, dilation=2),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    walk = at.graph_walk(net)
    assert walk["2"]["path"] == [(3, 1, 1), ("pool", 2, 2), (3, 1, 2)]
    assert (walk["2"]["r"], walk["2"]["j"]) == (3 + 1 + 2 * 2 * 2, 2) == (12, 2)
    assert walk["5"]["depth"] == at.depth(net) == 3 and walk["5"]["r"] == 12
    assert not walk["2"]["global"] and walk["3"]["global"] and walk["5"]["global"]
    per_axis = at.graph_walk(net, per_axis=True)
    assert per_axis["2"]["r"] == (12, 12) and "path" not in per_axis["2"]
    with pytest.raises(ValueError, match="per_axis"):
        at.graph_walk(nn.Sequential(nn.Conv2d(1, 1, (1, 3)), nn.Conv2d(1, 1, (3, 1))))


def test_rf_chain_skips_the_named_shortcuts():
    model = at.on_meta(lambda: torchvision.models.resnet18(weights=None))
    chain = at.rf_chain(model)
    assert len(chain) == len(at.rf_chain(model, skip=("downsample",))) + 3
    assert chain[:2] == [("conv1", (7, 2, 1)), ("maxpool", ("pool", 3, 2))]


# ---------------------------------------------------------------------------
# A few optimizer steps on a tiny batch of digits
# ---------------------------------------------------------------------------


def test_digits_batch_is_real_digits_classes_in_turn():
    x, y = at.digits_batch(n=20, pad=2)
    assert x.shape == (20, 1, 32, 32) and x.dtype == torch.float32 and y.shape == (20,)
    assert x.min() >= 0 and x.max() <= 1
    # A 2-pixel frame of zeros around each 28x28 digit.
    assert x[:, :, :2].abs().sum() == 0 and x[:, :, :, -2:].abs().sum() == 0
    assert y.tolist() == list(range(10)) * 2                  # a balanced batch
    # Shrunk back to 8x8, the enlarged digit looks like the first 0 of the training split
    # (interpolation blurs a little).
    images, labels = digits_split("train")
    first = torch.from_numpy(images[np.flatnonzero(labels == 0)[0]])
    back = F.adaptive_avg_pool2d(x[0, 0, 2:-2, 2:-2][None], 8)[0]
    assert np.corrcoef(back.flatten().numpy(), first.flatten().numpy())[0, 1] > 0.95


def test_digits_batch_copies_and_standardizes():
    x, y = at.digits_batch(n=5, size=16, channels=3)
    assert x.shape == (5, 3, 16, 16) and y.tolist() == [0, 1, 2, 3, 4]
    assert torch.equal(x[:, 0], x[:, 2])
    images, labels = digits_split("train")
    raw = torch.from_numpy(np.stack([images[np.flatnonzero(labels == c)[0]] for c in range(5)]))
    # Area-averaging the bilinear upsample back to 8x8 gives roughly the original.
    back = F.interpolate(x[:, :1], size=(8, 8), mode="area")[:, 0]
    assert (back - raw).abs().mean() < 0.1
    z, _ = at.digits_batch(10, size=32, standardize=True)
    assert abs(z.mean().item()) < 1e-5 and z.std().item() == pytest.approx(1, abs=1e-5)


def test_train_steps_learns_and_is_deterministic():
    x, y = at.digits_batch(n=32, pad=2)

    def build():
        return lat.swap_activation(gm.LeNet5(), nn.Sigmoid, nn.ReLU)

    losses = at.train_steps(build, x, y, steps=15, lr=1e-2)
    assert len(losses) == 15 and losses[-1] < 0.7 * losses[0]
    assert at.train_steps(build, x, y, steps=15, lr=1e-2) == losses      # same seed, same run
    assert at.train_steps(build, x, y, steps=15, lr=1e-2, seed=1) != losses


def test_train_steps_final_loss():
    x, y = at.digits_batch(n=4, size=16, channels=3)

    def build():
        return rt.cifar_resnet(1, num_classes=10)

    losses = at.train_steps(build, x, y, steps=4, lr=1e-2, final=True)
    assert len(losses) == 5 and losses[-1] < losses[0]
    # The first loss is the freshly built model's, in training mode, under the seed.
    torch.manual_seed(0)
    assert losses[0] == pytest.approx(F.cross_entropy(build().train()(x), y).item())
