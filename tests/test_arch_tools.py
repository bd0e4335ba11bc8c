"""``lectures/arch_tools.py`` against torchvision's models and hand-computed numbers."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lectures"))

import arch_tools as at  # noqa: E402


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
