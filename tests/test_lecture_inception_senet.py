"""Tests for ``lectures/inception_senet_tools.py`` (Lecture 9, Inception-v4 and SENet): every
helper (and the graph walk of ``lectures/arch_tools.py`` that it uses) against PyTorch, timm
and torchvision, and the figures that the notebook does not draw (``tests/test_lectures.py``
executes the notebook and checks its figures).

Run from the repository root:  python -m pytest tests/test_lecture_inception_senet.py -q
"""

from __future__ import annotations

from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torchvision  # noqa: E402
from timm.layers.norm_act import BatchNormAct2d  # noqa: E402
from timm.models.inception_resnet_v2 import Block8, Block17, Block35  # noqa: E402
from timm.models.inception_v4 import (InceptionA, InceptionB, InceptionC, Mixed3a,  # noqa: E402
                                      Mixed4a, Mixed5a, ReductionA, ReductionB)
from timm.models.senet import SEModule, SEResNetBottleneck  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from lectures import arch_tools as at  # noqa: E402
from lectures import figures as fg  # noqa: E402
from lectures import inception_senet_tools as ist  # noqa: E402
from lectures import lecture_tools as lt  # noqa: E402
from lectures import resnet_tools as rt  # noqa: E402
from lectures import vgg_googlenet_tools as vgt  # noqa: E402
from tests.test_lectures import draws  # noqa: E402

D = torch.float64


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=D)


@pytest.fixture(scope="module")
def nets():
    return OrderedDict((name, ist.build(name)) for name in ist.MODELS)


@pytest.fixture(scope="module")
def v4_rows(nets):
    return ist.layer_table(nets["Inception-v4"], ist.INPUT_299)


# ---------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------


def test_build_counts(nets):
    counts = {name: lt.count_params(m) for name, m in nets.items()}
    assert counts == {"Inception-v4": 42_679_816, "Inception-ResNet-v2": 55_843_464,
                      "ResNet-50": 25_557_032, "SE-ResNet-50": 28_088_024}
    assert all(next(m.parameters()).device.type == "meta" for m in nets.values())
    assert isinstance(nets["ResNet-50"], torchvision.models.ResNet)
    assert lt.count_params(ist.build("legacy_seresnet50")) == 28_088_024
    assert lt.count_params(ist.build("ResNet-50", num_classes=10)) == 25_557_032 - 2048 * 990 - 990


@pytest.mark.parametrize("index, cls", [(3, Mixed3a), (4, Mixed4a), (5, Mixed5a), (6, InceptionA),
                                        (10, ReductionA), (11, InceptionB), (18, ReductionB),
                                        (21, InceptionC)])
def test_make_block_is_the_networks_block(nets, index, cls):
    ours = at.on_meta(lambda: ist.make_block(cls))
    theirs = nets["Inception-v4"].features[index]
    assert type(theirs) is cls and repr(ours) == repr(theirs)
    assert all(m.eps == 1e-3 for m in ours.modules() if isinstance(m, nn.BatchNorm2d))


def test_make_block_inception_resnet(nets):
    irv2 = nets["Inception-ResNet-v2"]
    for ours, theirs in ((at.on_meta(lambda: ist.make_block(Block35, scale=0.17)), irv2.repeat[0]),
                         (at.on_meta(lambda: ist.make_block(Block17, scale=0.10)), irv2.repeat_1[0]),
                         (at.on_meta(lambda: ist.make_block(Block8, scale=0.20)), irv2.repeat_2[0])):
        assert repr(ours) == repr(theirs) and ours.scale == theirs.scale


def test_standalone_timm_blocks_use_other_defaults():
    """Why make_block exists: built alone, timm's blocks pad the valid convolutions and use
    PyTorch's BatchNorm eps; ReductionA then cannot concatenate its branches."""
    alone = ReductionA().eval()
    assert alone.branch0.conv.padding == (1, 1) and alone.branch0.bn.eps == 1e-5
    with pytest.raises(RuntimeError), torch.no_grad():
        alone(torch.zeros(1, 384, 35, 35))
    with torch.no_grad():
        assert ist.make_block(ReductionA).eval()(torch.zeros(1, 384, 35, 35)).shape == (1, 1024, 17, 17)


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------


def test_layer_table_counts_the_fused_batchnorms(nets, v4_rows):
    model = nets["Inception-v4"]
    bns = [m for m in model.modules() if isinstance(m, BatchNormAct2d)]
    extra = [r for r in v4_rows if r["type"] == "BatchNormAct2d"]
    assert len(extra) == len(bns) == 149
    assert sum(r["params"] for r in extra) == sum(map(lt.count_params, bns)) == 63_168
    assert sum(r["params"] for r in v4_rows) == lt.count_params(model) == 42_679_816
    assert sum(r["macs"] for r in v4_rows) == at.summary(model, ist.INPUT_299)["macs"] == 12_253_974_624
    # Each BN row follows its convolution and has its shape.
    for i, r in enumerate(v4_rows):
        if r["type"] == "BatchNormAct2d":
            prev = v4_rows[i - 1]
            assert prev["layer"] == r["layer"][:-2] + "conv" and prev["out_shape"] == r["out_shape"]
    # Networks without fused layers: the same table as arch_tools'.
    assert ist.layer_table(nets["SE-ResNet-50"], ist.INPUT_224) == at.layer_table(nets["SE-ResNet-50"],
                                                                                   ist.INPUT_224)


def test_blocks_of(nets):
    names = [n for n, _ in ist.blocks_of(nets["Inception-v4"])]
    assert names == [f"features.{i}" for i in range(22)] + ["global_pool", "last_linear"]
    se = [n for n, _ in ist.blocks_of(nets["SE-ResNet-50"])]
    assert se[:3] == ["layer0", "pool0", "layer1.0"] and se[-2:] == ["global_pool", "last_linear"]
    assert len(se) == 2 + 16 + 2
    r50 = [n for n, _ in ist.blocks_of(nets["ResNet-50"])]
    assert r50[:4] == ["conv1", "bn1", "maxpool", "layer1.0"] and r50[-2:] == ["avgpool", "fc"]


def test_block_table_against_forward(nets, v4_rows):
    model = nets["Inception-v4"]
    rows = ist.block_table(model, ist.INPUT_299, v4_rows)
    assert rows == ist.block_table(model, ist.INPUT_299)
    assert sum(r["params"] for r in rows) == 42_679_816
    assert sum(r["macs"] for r in rows) == 12_253_974_624
    x = torch.zeros(1, *ist.INPUT_299, device="meta")
    with torch.no_grad():
        for r, block in zip(rows, model.features):
            x = block(x)
            assert r["out_shape"] == tuple(x.shape[1:])
    assert [r["out_shape"] for r in rows[:6]] == [(32, 149, 149), (32, 147, 147), (64, 147, 147),
                                                  (160, 73, 73), (192, 71, 71), (384, 35, 35)]
    assert rows[-1]["out_shape"] == (1000,) and rows[-2]["out_shape"] == (1536,)


def test_tables_in_one_pass_and_macs(nets, v4_rows):
    model = nets["Inception-v4"]
    rows, blocks = ist.tables(model, ist.INPUT_299)
    assert rows == v4_rows and blocks == ist.block_table(model, ist.INPUT_299, v4_rows)
    assert ist.macs(model, ist.INPUT_299) == sum(r["macs"] for r in v4_rows)
    assert ist.macs(nets["Inception-ResNet-v2"], ist.INPUT_299) == 13_155_794_016
    for name in ("ResNet-50", "SE-ResNet-50"):
        assert ist.macs(nets[name], ist.INPUT_224) == at.summary(nets[name], ist.INPUT_224)["macs"]
    se = nets["SE-ResNet-50"].train()
    ist.macs(se, ist.INPUT_224)
    assert se.training          # the mode is restored
    se.eval()


def test_stage_tables(nets, v4_rows):
    v4 = ist.stage_table(ist.block_table(nets["Inception-v4"], ist.INPUT_299, v4_rows), ist.v4_stage_of)
    assert [(s["stage"], s["blocks"]) for s in v4] == ist.V4_STAGES
    assert [s["out_shape"] for s in v4] == [(384, 35, 35), (384, 35, 35), (1024, 17, 17),
                                            (1024, 17, 17), (1536, 8, 8), (1536, 8, 8), (1000,)]
    assert sum(s["params"] for s in v4) == 42_679_816
    for name, shape in (("SE-ResNet-50", ist.INPUT_224), ("ResNet-50", ist.INPUT_224)):
        st = ist.stage_table(ist.block_table(nets[name], shape), ist.resnet_stage_of)
        assert [s["stage"] for s in st] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
        assert [s["out_shape"] for s in st][1:5] == [(256, 56, 56), (512, 28, 28), (1024, 14, 14),
                                                     (2048, 7, 7)]
        assert sum(s["params"] for s in st) == lt.count_params(nets[name])
        assert [s["blocks"] for s in st][1:5] == [3, 4, 6, 3]


def test_v4_stage_of_bounds():
    stages = [ist.v4_stage_of({}, i) for i in range(24)]
    assert stages[:6] == ["stem"] * 6 and stages[6:10] == ["Inception-A"] * 4
    assert stages[10] == "Reduction-A" and stages[17] == "Inception-B" and stages[18] == "Reduction-B"
    assert stages[21] == "Inception-C" and stages[22:] == ["head"] * 2


# ---------------------------------------------------------------------------
# Graph walk
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, weight_layers, rf", [("resnet18", 18, 435), ("resnet50", 50, 427),
                                                     ("vgg16", 16, 212)])
def test_graph_walk_on_torchvision_chains(name, weight_layers, rf):
    model = at.on_meta(lambda: getattr(torchvision.models, name)(weights=None))
    assert at.depth(model) == weight_layers
    assert ist.receptive_field(model)["r"] == (rf, rf)


def test_graph_walk_agrees_with_lecture_6_on_googlenet():
    model = vgt.googlenet()
    lecture_9 = at.graph_walk(model, per_axis=True, leaves=ist.CONV_BLOCKS)
    assert at.depth(model, lecture_9) == at.depth(model, at.graph_walk(model)) == 22
    for prefix in ("inception3a", "inception4e", "inception5b"):
        ours = ist.receptive_field(model, prefix)
        theirs = vgt.receptive_field_at(model, prefix)
        assert ours["r"] == (theirs["r"], theirs["r"]) and ours["j"] == (theirs["j"], theirs["j"])


def test_rectangular_kernels_against_gradient():
    torch.manual_seed(0)
    pair = nn.Sequential(nn.Conv2d(1, 1, (1, 7), bias=False), nn.Conv2d(1, 1, (7, 1), bias=False),
                         nn.Conv2d(1, 1, (1, 3), stride=(1, 2), bias=False),
                         nn.Conv2d(1, 1, (1, 3), bias=False)).double()
    walk = at.graph_walk(pair, per_axis=True)
    assert walk["0"]["r"] == (1, 7) and walk["1"]["r"] == (7, 7)
    assert walk["3"]["r"] == (7, 7 + 2 + 2 * 2) and walk["3"]["j"] == (1, 2)
    with torch.no_grad():
        for m in pair:
            m.weight.fill_(1.0)
    x = torch.zeros(1, 1, 21, 41, dtype=D, requires_grad=True)
    y = pair(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    assert lt.nonzero_extent(x.grad[0, 0].numpy()) == walk["3"]["r"]


def test_inception_block_field_against_gradient():
    """Mixed4a (1x1, 1x7, 7x1, 3x3 valid on its long branch): 9x9, measured on the real block."""
    model = nn.Sequential(OrderedDict(block=ist.make_block(Mixed4a)))
    assert ist.receptive_field(model, "block")["r"] == (9, 9)
    grad = vgt.receptive_field_by_model_gradient(model, "block", 21)
    assert lt.nonzero_extent(grad) == (9, 9)


def test_depth_and_fields_of_the_lecture_networks(nets):
    v4 = ist.receptive_field(nets["Inception-v4"])
    assert at.depth(nets["Inception-v4"]) == 76 and v4["r"] == (2071, 2071) and not v4["global"]
    se = ist.receptive_field(nets["SE-ResNet-50"])
    assert at.depth(nets["SE-ResNet-50"]) == 82 and se["r"] == (483, 483) and se["global"]
    walk = at.graph_walk(nets["SE-ResNet-50"], per_axis=True, leaves=ist.CONV_BLOCKS)
    assert not walk["layer1.0.conv3"]["global"] and walk["layer1.0.se_module.fc1"]["global"]
    assert walk["layer1.1.conv1"]["global"]     # after the first SE block, every pixel counts
    assert walk["global_pool.pool"]["global"]


def test_residual_additions(nets):
    assert ist.residual_additions(nets["Inception-v4"]) == 0
    assert ist.residual_additions(nets["Inception-ResNet-v2"]) == 10 + 20 + 9 + 1
    assert ist.residual_additions(nets["ResNet-50"]) == 16
    assert ist.residual_additions(nets["SE-ResNet-50"]) == 16

    class Adds(nn.Module):
        def forward(self, x):
            return torch.add(x, 1) + x.add(2)

    assert ist.residual_additions(Adds()) == 3


def test_trace_keeps_conv_blocks_whole():
    g = at.trace(ist.make_block(InceptionA), ist.CONV_BLOCKS)
    calls = [n.target for n in g.nodes if n.op == "call_module"]
    assert "branch0" in calls and "branch0.conv" not in calls
    assert sum(n.target is torch.cat for n in g.nodes if n.op == "call_function") == 1


# ---------------------------------------------------------------------------
# Inception-ResNet: scaled residuals
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls, channels, scale", [(Block35, 320, 0.17), (Block17, 1088, 0.10),
                                                  (Block8, 2080, 0.20)])
def test_residual_parts(cls, channels, scale):
    torch.manual_seed(0)
    block = ist.make_block(cls, scale=scale).double().eval()
    x = torch.relu(rand(1, channels, 5, 5))
    parts = ist.residual_parts(block, x)
    assert parts["scale"] == scale and parts["branch"].shape == x.shape
    torch.testing.assert_close(parts["out"], torch.relu(x + scale * parts["branch"]))
    # The branch is the linear 1x1 on the concatenated branches.
    with torch.no_grad():
        cat = torch.cat([nn.Sequential(*[m for m in layers])(x) for layers in ist.branches(block)], 1)
        torch.testing.assert_close(parts["branch"], block.conv2d(cat))


def test_block8_without_relu():
    torch.manual_seed(0)
    block = ist.make_block(Block8, no_relu=True).double().eval()
    x = rand(1, 2080, 3, 3)
    parts = ist.residual_parts(block, x)
    torch.testing.assert_close(parts["out"], x + parts["branch"])
    assert parts["out"].min() < 0


def test_scaled_stack_and_growth():
    a, b = ist.scaled_stack(3, 1.0), ist.scaled_stack(3, 0.17)
    assert len(a) == 3 and [m.scale for m in b] == [0.17] * 3
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert all(p.dtype == D for p in a.parameters())
    ga, gb = ist.activation_growth(a, size=4), ist.activation_growth(b, size=4)
    assert ga["norm"][0] == gb["norm"][0] == 1.0 and len(ga["norm"]) == 4 and len(ga["change"]) == 3
    assert (gb["change"] < ga["change"]).all() and gb["norm"][-1] < ga["norm"][-1]
    # Rescaling the unscaled stack gives the scaled one.
    assert ist.rescale(a, 0.17) is a and [m.scale for m in a] == [0.17] * 3
    gr = ist.activation_growth(a, size=4)
    np.testing.assert_allclose(gr["norm"], gb["norm"])
    ist.rescale(a, 1.0)
    # Recompute by hand.
    g = torch.Generator().manual_seed(1)
    x = torch.relu(torch.randn(2, 320, 4, 4, generator=g, dtype=D))
    with torch.no_grad():
        y = a.train()(x)
    assert ga["norm"][-1] == pytest.approx((y.norm() / x.norm()).item())
    with torch.no_grad():
        y1 = a[0](x.clone())
    assert ga["change"][0] == pytest.approx(((y1 - x).norm() / x.norm()).item())


# ---------------------------------------------------------------------------
# Squeeze-and-excitation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("channels, reduction", [(256, 16), (2048, 16), (64, 4), (48, 8), (30, 7)])
def test_se_params_against_timm(channels, reduction):
    se = SEModule(channels, reduction)
    assert ist.se_params(channels, reduction) == lt.count_params(se)
    assert ist.se_params(channels, reduction, bias=False) == se.fc1.weight.numel() + se.fc2.weight.numel()


def test_se_network_weights_is_the_extra_of_se_resnet50(nets):
    extra = lt.count_params(nets["SE-ResNet-50"]) - lt.count_params(nets["ResNet-50"])
    assert extra == 2_530_992
    ses = [m for m in nets["SE-ResNet-50"].modules() if isinstance(m, SEModule)]
    assert len(ses) == 16 and sum(lt.count_params(m) for m in ses) == extra
    assert ist.se_network_weights() == 2_514_944
    assert extra - ist.se_network_weights() == sum(n * (c + c // 16) for n, c in ist.RESNET50_STAGES)
    assert ist.se_network_weights(reduction=8) == 2 * ist.se_network_weights()


def test_se_weights_are_the_extra_macs(nets):
    v1 = rt.to_v1(ist.build("ResNet-50"))
    extra = at.summary(nets["SE-ResNet-50"], ist.INPUT_224)["macs"] - at.summary(v1, ist.INPUT_224)["macs"]
    assert extra == ist.se_network_weights() == 2_514_944


def test_se_elementwise_ops():
    assert ist.se_elementwise_ops([(1, 4, 3)]) == 2 * 4 * 9
    stages = [(n, c, s) for (n, c), s in zip(ist.RESNET50_STAGES, (56, 28, 14, 7))]
    assert ist.se_elementwise_ops(stages) == 11_038_720
    # The flop counter sees only the two 1x1 convolutions of an SE module.
    se = SEModule(64, 16).double()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        se(rand(1, 64, 8, 8))
    assert counter.get_total_flops() == 2 * ist.se_params(64, 16, bias=False)


def test_se_factors_and_formula():
    torch.manual_seed(0)
    se = SEModule(64, 16).double()
    x = rand(2, 64, 5, 7)
    with torch.no_grad():
        out = se(x.clone())
    s = ist.se_factors(se, x)
    assert s.shape == (2, 64) and (s > 0).all() and (s < 1).all()
    torch.testing.assert_close(out, x * s[:, :, None, None])
    torch.testing.assert_close(ist.se_by_hand(se, x), out)
    # The 1x1 convolutions are linear layers on the pooled vector.
    fc1 = nn.Linear(64, 4).double()
    with torch.no_grad():
        fc1.weight.copy_(se.fc1.weight.flatten(1))
        fc1.bias.copy_(se.fc1.bias)
        z = x.mean((2, 3))
        torch.testing.assert_close(fc1(z), se.fc1(z[:, :, None, None]).flatten(1))


def test_se_toy():
    se = ist.se_toy()
    assert se.fc1.out_channels == 2 and ist.TOY_CHANNELS[2] == "eyes"
    face = ist.se_factors(se, ist.toy_maps(1.0, 0.9, 0.2))[0]
    none = ist.se_factors(se, ist.toy_maps(0.1, 0.1, 0.2))[0]
    mouth_only = ist.se_factors(se, ist.toy_maps(1.0, 0.1, 0.2))[0]
    assert face[2] > 0.9 and none[2] < 0.05 and none[2] < mouth_only[2] < 0.1
    # The other gates do not depend on the input; every gate stays below 1.
    torch.testing.assert_close(face[[0, 1, 3]], none[[0, 1, 3]])
    assert (face < 1).all() and face[2] == pytest.approx(torch.sigmoid(torch.tensor(3 * 1.8 - 3.0)).item())
    x = ist.toy_maps(1.0, 0.9, 0.2, size=4)
    assert x.shape == (1, 4, 4, 4) and (x[0, 2] == 0.2).all()


def test_se_resnet_bottleneck_puts_se_before_the_addition():
    torch.manual_seed(0)
    block = SEResNetBottleneck(64, 16, groups=1, reduction=16).double().eval()
    x = rand(1, 64, 6, 6)
    seen = {}
    block.bn3.register_forward_hook(lambda m, i, o: seen.__setitem__("bn3", o.clone()))
    with torch.no_grad():
        out = block(x.clone())
        s = ist.se_factors(block.se_module, seen["bn3"])
        torch.testing.assert_close(out, torch.relu(seen["bn3"] * s[:, :, None, None] + x))


# ---------------------------------------------------------------------------
# Figure helpers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls, c_in, widths", [
    (InceptionA, 384, [96, 96, 96, 96]), (InceptionB, 1024, [384, 256, 256, 128]),
    (InceptionC, 1536, [256, 512, 512, 256]), (ReductionA, 384, [384, 256, 384]),
    (ReductionB, 1024, [192, 320, 1024]), (Mixed3a, 64, [64, 96]), (Mixed4a, 160, [96, 96]),
    (Mixed5a, 192, [192, 192]), (Block35, 320, [32, 32, 64])])
def test_branches_against_forward(cls, c_in, widths):
    block = at.on_meta(lambda: ist.make_block(cls))
    assert ist.branch_channels(block, c_in) == widths
    x = torch.zeros(1, c_in, 17, 17, device="meta")
    with torch.no_grad():
        out = block.eval()(x)
    if hasattr(block, "conv2d"):
        assert block.conv2d.in_channels == sum(widths)
    else:
        assert out.shape[1] == sum(widths)
    for layers in ist.branches(block):   # every branch's layers chain up, in order
        y = x
        for layer in layers:
            y = torch.cat([m(y) for m in layer], 1) if isinstance(layer, tuple) else layer(y)
        assert y.shape[1] in widths


def test_inception_c_splits():
    bs = ist.branches(at.on_meta(lambda: ist.make_block(InceptionC)))
    assert [len(b) for b in bs] == [1, 2, 4, 2]
    assert isinstance(bs[1][1], tuple) and isinstance(bs[2][3], tuple)
    assert [ist.describe(m)[0].split(",")[0] for m in bs[2][3]] == ["1x3 conv", "3x1 conv"]


def test_describe():
    block = at.on_meta(lambda: ist.make_block(ReductionA))
    assert ist.describe(block.branch0) == ("3x3 conv, 384\nstride 2, V", fg.BLUE, 384)
    assert ist.describe(block.branch2) == ("3x3 max pool\nstride 2", fg.GREY, 0)
    assert ist.describe(block.branch1[0])[1] == fg.PALE_ORANGE
    b35 = at.on_meta(lambda: ist.make_block(Block35))
    assert "linear" in ist.describe(b35.conv2d)[0] and ist.describe(b35.conv2d)[2] == 320
    assert ist.describe(nn.AvgPool2d(3, 1, 1))[0] == "3x3 avg pool"
    with pytest.raises(TypeError):
        ist.describe(nn.ReLU())


def test_figures_the_notebook_does_not_draw():
    draws(ist.plot_blocks(at.on_meta(lambda: [ist.make_block(Block8, no_relu=True)]), ["8"]))
    draws(ist.plot_se_block(SEModule(32, 16), (32, 4, 4)))                  # no factors
