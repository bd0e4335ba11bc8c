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
import torch.nn.functional as F  # noqa: E402
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


# ---------------------------------------------------------------------------
# The numbers the lecture quotes, checked here so that the notebook can read as a lecture
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lecture(nets):
    """What the notebook's first cells compute: rows, blocks and totals per network, and the
    graph walks of Section 1.2."""
    models = OrderedDict(nets)
    models["ResNet-50 v1"] = rt.to_v1(ist.build("ResNet-50"))
    inputs = {name: shape for name, (_, _, shape) in ist.MODELS.items()}
    inputs["ResNet-50 v1"] = ist.INPUT_224
    rows, blocks = {}, {}
    for name in ("Inception-v4", "SE-ResNet-50", "ResNet-50 v1"):
        rows[name], blocks[name] = ist.tables(models[name], inputs[name])
    summary = {name: {"params": lt.count_params(m),
                      "macs": (sum(r["macs"] for r in rows[name]) if name in rows
                               else ist.macs(m, inputs[name]))}
               for name, m in models.items()}
    walks = {name: at.graph_walk(models[name], per_axis=True, leaves=ist.CONV_BLOCKS)
             for name in ("Inception-v4", "Inception-ResNet-v2", "ResNet-50 v1", "SE-ResNet-50")}
    return {"nets": models, "rows": rows, "blocks": blocks, "summary": summary, "walks": walks}


def test_lecture_totals(lecture):
    summary, rows = lecture["summary"], lecture["rows"]
    assert summary["Inception-v4"]["params"] == 42_679_816         # timm inception_v4
    assert summary["SE-ResNet-50"]["params"] == 28_088_024         # timm legacy_seresnet50
    assert summary["ResNet-50"]["params"] == 25_557_032            # torchvision resnet50
    assert all(sum(r["params"] for r in rows[n]) == summary[n]["params"] for n in rows)


def test_paper_errors():
    t2 = ist.SZEGEDY_TABLE2
    assert round(t2["Inception-v4"][1] - t2["Inception-ResNet-v2"][1], 1) == 0.1   # the same, nearly
    assert t2["Inception-v4"][1] < t2["Inception-v3"][1]
    errors = [e for _, _, e, _ in ist.ILSVRC]
    assert errors == sorted(errors, reverse=True)
    assert round((2.991 - 2.251) / 2.991, 2) == 0.25 and ist.ILSVRC[-2][2] == 2.991
    assert ist.ILSVRC[-1][2] == 2.251
    assert ist.TOP5["Inception-v4"] == t2["Inception-v4"][1]
    assert ist.TOP5["Inception-ResNet-v2"] == t2["Inception-ResNet-v2"][1]
    assert ist.TOP5["SE-ResNet-50"] < ist.TOP5["ResNet-50 v1"]          # 0.86 points better


def test_inception_v4_per_layer_rows(lecture):
    v4, rows = lecture["nets"]["Inception-v4"], lecture["rows"]["Inception-v4"]
    fused = [r for r in rows if r["type"] == "BatchNormAct2d"]
    plain = [r for r in rows if r["type"] != "BatchNormAct2d"]
    assert sum(r["params"] for r in plain) + sum(r["params"] for r in fused) == 42_679_816
    assert sum(r["params"] for r in fused) == 63_168           # 2 per channel: scale and shift
    assert len(fused) == sum(isinstance(m, nn.BatchNorm2d) for m in v4.modules()) == 149
    assert sum(r["macs"] for r in rows) == 12_253_974_624


def test_inception_v4_stem_shapes_by_formula(lecture):
    blocks = lecture["blocks"]["Inception-v4"]
    assert [r["out_shape"] for r in blocks[:6]] == [(32, 149, 149), (32, 147, 147), (64, 147, 147),
                                                    (160, 73, 73), (192, 71, 71), (384, 35, 35)]
    # 299 -> 149 -> 147: a 3x3 stride-2 and a 3x3 stride-1 convolution, both without padding.
    assert lt.conv_out(299, 3, 2) == 149 and lt.conv_out(149, 3) == 147 and lt.pool_out(147, 3, 2) == 73
    assert sum(r["params"] for r in blocks) == 42_679_816


def test_inception_v4_stage_shares(lecture):
    stages = ist.stage_table(lecture["blocks"]["Inception-v4"], ist.v4_stage_of)
    total = lecture["summary"]["Inception-v4"]
    assert [(s["stage"], s["blocks"]) for s in stages] == ist.V4_STAGES
    assert [s["out_shape"] for s in stages] == [(384, 35, 35), (384, 35, 35), (1024, 17, 17),
                                                (1024, 17, 17), (1536, 8, 8), (1536, 8, 8), (1000,)]
    assert sum(s["params"] for s in stages) == total["params"]
    assert sum(s["macs"] for s in stages) == total["macs"]
    stem, inc_b = stages[0], stages[3]
    assert round(100 * stem["params"] / total["params"], 1) == 1.4
    assert round(100 * stem["macs"] / total["macs"]) == 19
    assert round(100 * inc_b["params"] / total["params"]) == 48
    assert round(100 * inc_b["macs"] / total["macs"]) == 48


def test_inception_v4_depth_and_field(lecture):
    v4, walk = lecture["nets"]["Inception-v4"], lecture["walks"]["Inception-v4"]
    rf = ist.receptive_field(v4, walk=walk)
    assert at.depth(v4, walk) == 3 + 6 + 4 * 3 + 3 + 7 * 5 + 4 + 3 * 4 + 1 == 76
    assert rf["r"] == (2071, 2071) and rf["j"] == (32, 32)


@pytest.mark.parametrize("cls, c_in, index", [(InceptionA, 384, 6), (InceptionB, 1024, 11),
                                              (InceptionC, 1536, 19)])
def test_inception_blocks_keep_their_width_and_are_the_networks(nets, cls, c_in, index):
    block = at.on_meta(lambda: ist.make_block(cls))
    assert sum(ist.branch_channels(block, c_in)) == c_in           # the block can be repeated
    assert repr(block) == repr(nets["Inception-v4"].features[index])


def test_factorised_pair_counts_and_field():
    C = 192
    full = lt.conv_params(C, C, 7, bias=False)
    pair = lt.conv_params(C, C, (1, 7), bias=False) + lt.conv_params(C, C, (7, 1), bias=False)
    assert full == 49 * C * C and pair == 14 * C * C and full / pair == 3.5
    # The pair sees a 7x7 window: the graph walk and the gradient of one output pixel agree.
    seq = nn.Sequential(nn.Conv2d(1, 1, (1, 7), bias=False), nn.Conv2d(1, 1, (7, 1), bias=False)).double()
    assert at.graph_walk(seq, per_axis=True)["1"]["r"] == (7, 7)
    x = torch.zeros(1, 1, 15, 15, dtype=D, requires_grad=True)
    with torch.no_grad():
        for conv in seq:
            conv.weight.fill_(1.0)
    seq(x)[0, 0, 4, 4].backward()
    assert lt.nonzero_extent(x.grad[0, 0].numpy()) == (7, 7)


def test_inception_b_factorised_branch_weights():
    b = at.on_meta(lambda: ist.make_block(InceptionB)).branch1
    branch_w = b[1].conv.weight.numel() + b[2].conv.weight.numel()
    assert branch_w == 192 * 224 * 7 + 224 * 256 * 7 == 702_464
    assert round(lt.conv_params(192, 256, 7, bias=False) / branch_w, 2) == 3.43


def test_pair_kernel_is_rank_one_and_a_random_one_is_not():
    g = torch.Generator().manual_seed(0)
    col, row = torch.randn(7, generator=g, dtype=D), torch.randn(7, generator=g, dtype=D)
    img = torch.randn(1, 1, 12, 12, generator=g, dtype=D)
    two_step = F.conv2d(F.conv2d(img, row.view(1, 1, 1, 7)), col.view(1, 1, 7, 1))
    torch.testing.assert_close(two_step, F.conv2d(img, torch.outer(col, row).view(1, 1, 7, 7)))
    assert torch.linalg.matrix_rank(torch.outer(col, row)) == 1
    assert torch.linalg.matrix_rank(torch.randn(7, 7, generator=g, dtype=D)) == 7


def test_reduction_widths_are_table_1s(nets):
    ra = at.on_meta(lambda: ist.make_block(ReductionA))
    irv2_ra = nets["Inception-ResNet-v2"].mixed_6a
    klmn = [(r.branch1[0].conv.out_channels, r.branch1[1].conv.out_channels,
             r.branch1[2].conv.out_channels, r.branch0.conv.out_channels) for r in (ra, irv2_ra)]
    assert klmn == [(192, 224, 256, 384), (256, 256, 384, 384)]                  # Table 1
    assert ist.branch_channels(at.on_meta(lambda: ist.make_block(ReductionB)), 1024) == [192, 320, 1024]
    # Stride 2 without padding: 35 -> 17 and 17 -> 8, the same for the convolutions and the pool.
    assert lt.conv_out(35, 3, 2) == lt.pool_out(35, 3, 2) == 17 and lt.conv_out(17, 3, 2) == 8


def test_inception_resnet_v2_block_count_and_depth(lecture):
    irv2 = lecture["nets"]["Inception-ResNet-v2"]
    block = at.on_meta(lambda: ist.make_block(Block35, scale=0.17))
    assert repr(block) == repr(irv2.repeat[0])
    assert lecture["summary"]["Inception-ResNet-v2"]["params"] == 55_843_464
    assert at.depth(irv2, lecture["walks"]["Inception-ResNet-v2"]) == 176


def test_inception_resnet_v2_scales(nets):
    irv2 = nets["Inception-ResNet-v2"]
    scales = [b.scale for stage in (irv2.repeat, irv2.repeat_1, irv2.repeat_2) for b in stage]
    assert scales == [0.17] * 10 + [0.10] * 20 + [0.20] * 9 and all(0.1 <= s <= 0.3 for s in scales)
    assert irv2.block8.scale == 1.0 and irv2.block8.relu is None


def test_scaling_is_a_reparametrisation():
    """Section 1.4: scale s equals weights and bias times s; the gradient on W is s times smaller."""
    torch.manual_seed(0)
    s = 0.17
    block = ist.make_block(Block35, scale=s).double().eval()
    x = torch.relu(torch.randn(2, 320, 8, 8, generator=torch.Generator().manual_seed(1), dtype=D))
    parts = ist.residual_parts(block, x)
    branch_size = (parts["branch"].norm() / x.norm()).item()
    assert 0.05 < branch_size < 0.5
    unscaled = ist.make_block(Block35, scale=1.0).double().eval()
    unscaled.load_state_dict(block.state_dict())
    with torch.no_grad():
        unscaled.conv2d.weight.mul_(s)
        unscaled.conv2d.bias.mul_(s)
        torch.testing.assert_close(unscaled(x.clone()), block(x.clone()))   # the same function
    target = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=D)
    grads = []
    for net in (block, unscaled):
        net.zero_grad()
        (net(x.clone()) * target).sum().backward()
        grads.append(net.conv2d.weight.grad.clone())
    torch.testing.assert_close(grads[0], s * grads[1])


def test_scaled_stacks_of_ten_blocks():
    stack = ist.scaled_stack(10, 1.0)
    profiles = OrderedDict((s, ist.activation_growth(ist.rescale(stack, s))) for s in (1.0, 0.17))
    assert profiles[1.0]["norm"][-1] > 1.8 and profiles[1.0]["change"].max() > 0.4
    assert profiles[1.0]["change"].min() > 0.25
    assert profiles[0.17]["norm"][-1] < 1.06
    assert 0.08 < profiles[0.17]["change"].min() <= profiles[0.17]["change"].max() < 0.1


def test_se_module_of_section_2_2():
    torch.manual_seed(0)
    se = SEModule(256, reduction=16).double()
    u = rand(2, 256, 8, 8, seed=3)
    with torch.no_grad():
        out = se(u.clone())
    s = ist.se_factors(se, u)
    assert se.fc1.out_channels == 256 // 16 and s.shape == (2, 256)
    assert (s > 0).all() and (s < 1).all()
    torch.testing.assert_close(out / u, s[:, :, None, None].expand_as(u))
    torch.testing.assert_close(ist.se_by_hand(se, u), out)
    assert not torch.allclose(s[0], s[1])          # the factors depend on the image


def test_se_toy_gates_of_the_lecture():
    toy = ist.se_toy()
    gates = {name: ist.se_factors(toy, ist.toy_maps(*maps))[0] for name, maps in
             {"face": (1.0, 0.9, 0.2), "empty": (0.1, 0.1, 0.2), "mouth": (1.0, 0.1, 0.2)}.items()}
    assert gates["face"][2] > 0.9 and gates["empty"][2] < 0.05 and gates["mouth"][2] < 0.1
    assert all((g < 1).all() for g in gates.values())


def test_se_resnet50_extra_parameters_per_stage(lecture):
    summary = lecture["summary"]
    extra = summary["SE-ResNet-50"]["params"] - summary["ResNet-50"]["params"]
    weights = ist.se_network_weights(ist.RESNET50_STAGES, reduction=16)
    biases = sum(n * (c + c // 16) for n, c in ist.RESNET50_STAGES)
    assert extra == weights + biases == 2_530_992 and weights == 2_514_944
    assert round(extra / 1e6, 1) == 2.5 and round(extra / summary["ResNet-50"]["params"], 2) == 0.10
    per_stage = [n * ist.se_params(c, 16) for n, c in ist.RESNET50_STAGES]
    assert sum(per_stage) == extra and round(per_stage[-1] / extra, 2) == 0.62
    assert round(100 * (extra - per_stage[-1]) / summary["ResNet-50"]["params"]) == 4


def test_se_resnet50_extra_macs(lecture):
    summary = lecture["summary"]
    extra_macs = summary["SE-ResNet-50"]["macs"] - summary["ResNet-50 v1"]["macs"]
    assert extra_macs == ist.se_network_weights() == 2_514_944
    assert round(100 * extra_macs / summary["ResNet-50 v1"]["macs"], 3) == 0.065
    elementwise = ist.se_elementwise_ops([(n, c, side) for (n, c), side in
                                          zip(ist.RESNET50_STAGES, (56, 28, 14, 7))])
    all_ops = extra_macs + elementwise
    assert elementwise == 11_038_720 and round(100 * all_ops / summary["ResNet-50 v1"]["macs"], 2) == 0.35
    # The paper's 0.26% is 3.87 / 3.86 - 1: two numbers rounded to 0.01 G.
    assert round(100 * (3.87 / 3.86 - 1), 2) == 0.26
    assert 0 <= all_ops / 1e9 <= 0.02 and 0 <= extra_macs / 1e9 <= 0.02


def test_se_resnet50_stage_table_against_resnet50_v1(lecture):
    se = ist.stage_table(lecture["blocks"]["SE-ResNet-50"], ist.resnet_stage_of)
    r50 = ist.stage_table(lecture["blocks"]["ResNet-50 v1"], ist.resnet_stage_of)
    assert [a["out_shape"] for a in se] == [b["out_shape"] for b in r50]
    assert [a["params"] - b["params"] for a, b in zip(se, r50)][1:5] == [
        n * ist.se_params(c, 16) for n, c in ist.RESNET50_STAGES]
    assert [a["macs"] - b["macs"] for a, b in zip(se, r50)][1:5] == [
        n * ist.se_params(c, 16, bias=False) for n, c in ist.RESNET50_STAGES]


def test_se_resnet50_has_16_se_modules_with_r_16(nets):
    unit = SEResNetBottleneck(64, 16, groups=1, reduction=16)
    assert isinstance(unit.se_module, SEModule) and unit.se_module.fc1.out_channels == 64 // 16
    ses = [m for m in nets["SE-ResNet-50"].modules() if isinstance(m, SEModule)]
    assert len(ses) == 16 and all(m.fc1.in_channels == 16 * m.fc1.out_channels for m in ses)


def test_se_inception_module():
    torch.manual_seed(0)
    block = nn.Sequential(OrderedDict(inception=ist.make_block(InceptionA),
                                      se=SEModule(384, 16))).double().eval()
    x = rand(1, 384, 8, 8, seed=5)
    with torch.no_grad():
        inner = block.inception(x)
        torch.testing.assert_close(block(x), inner * ist.se_factors(block.se, inner)[:, :, None, None])
    p_inc, p_se = lt.count_params(block.inception), lt.count_params(block.se)
    assert p_se == ist.se_params(384, 16) == 2 * 384 * 24 + 24 + 384 == 18_840
    assert round(100 * p_se / p_inc) == 6


def test_se_resnet50_block_totals(lecture):
    blocks = lecture["blocks"]["SE-ResNet-50"]
    assert sum(r["params"] for r in blocks) == 28_088_024
    assert sum(r["macs"] for r in blocks) == lecture["summary"]["SE-ResNet-50"]["macs"] == 3_860_488_192


def test_se_resnet50_depth_field_and_global_dependence(lecture):
    se, walk = lecture["nets"]["SE-ResNet-50"], lecture["walks"]["SE-ResNet-50"]
    rf = ist.receptive_field(se, walk=walk)
    assert at.depth(se, walk) == 50 + 2 * 16 == 82 and rf["r"] == (483, 483) and rf["global"]
    v1 = lecture["nets"]["ResNet-50 v1"]
    assert ist.receptive_field(v1, walk=lecture["walks"]["ResNet-50 v1"])["r"] == (483, 483)

    def input_gradient(module, size=9):
        x = torch.rand(1, 64, size, size, generator=torch.Generator().manual_seed(6), dtype=D) + 0.1
        x.requires_grad_(True)
        module(x)[0, :, size // 2, size // 2].sum().backward()
        return x.grad[0].abs().sum(0).numpy()

    torch.manual_seed(0)
    with_se = SEResNetBottleneck(64, 16, groups=1, reduction=16).double().eval()
    without_se = SEResNetBottleneck(64, 16, groups=1, reduction=16).double().eval()
    without_se.se_module = nn.Identity()
    g_se, g_plain = input_gradient(with_se), input_gradient(without_se)
    assert (g_se > 0).all() and (g_se > 0).sum() == 81
    assert lt.nonzero_extent(g_plain) == (3, 3)


def test_side_by_side(lecture):
    rows = {}
    for name in ("Inception-v4", "Inception-ResNet-v2", "ResNet-50 v1", "SE-ResNet-50"):
        model, walk = lecture["nets"][name], lecture["walks"][name]
        rf = ist.receptive_field(model, walk=walk)
        rows[name] = {"depth": at.depth(model, walk), "macs": lecture["summary"][name]["macs"],
                      "RF": f"{rf['r'][0]}" + (" + global" if rf["global"] else "")}
    assert [r["depth"] for r in rows.values()] == [76, 176, 50, 82]
    assert rows["Inception-ResNet-v2"]["RF"] == "3039" and rows["SE-ResNet-50"]["RF"] == "483 + global"
    assert round(rows["Inception-v4"]["macs"] / rows["SE-ResNet-50"]["macs"], 1) == 3.2


def test_timm_inception_v4_batchnorm_and_standalone_blocks(nets):
    v4 = nets["Inception-v4"]
    bns = [m for m in v4.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 149 and {m.eps for m in bns} == {1e-3}
    assert nn.BatchNorm2d(8).eps == 1e-5
    alone = ReductionA().eval()
    with pytest.raises(RuntimeError), torch.no_grad():
        alone(torch.zeros(1, 384, 35, 35))
    with torch.no_grad():
        assert ist.make_block(ReductionA).eval()(torch.zeros(1, 384, 35, 35)).shape == (1, 1024, 17, 17)
    assert list(v4.features[0].state_dict()) == ["conv.weight", "bn.weight", "bn.bias", "bn.running_mean",
                                                 "bn.running_var", "bn.num_batches_tracked"]


def test_timm_inception_v4_valid_padding_and_dropout(nets):
    v4 = nets["Inception-v4"]
    assert [v4.features[i].conv.padding for i in range(3)] == [(0, 0), (0, 0), (1, 1)]   # V, V, same
    assert v4.head_drop.p == 0.0
    assert ist.build("Inception-v4", drop_rate=0.2).head_drop.p == 0.2


def test_legacy_seresnet50_stride_and_macs(lecture):
    se, r50 = lecture["nets"]["SE-ResNet-50"], lecture["nets"]["ResNet-50"]
    summary = lecture["summary"]
    assert se.layer2[0].conv1.stride == (2, 2) and se.layer2[0].conv2.stride == (1, 1)
    assert r50.layer2[0].conv1.stride == (1, 1) and r50.layer2[0].conv2.stride == (2, 2)   # v1.5
    new_se = ist.build("seresnet50")
    new_macs = ist.macs(new_se, ist.INPUT_224)
    assert lt.count_params(new_se) == 28_088_024
    assert summary["SE-ResNet-50"]["macs"] < summary["ResNet-50"]["macs"] < new_macs
    assert (new_macs - summary["ResNet-50"]["macs"]
            == summary["SE-ResNet-50"]["macs"] - summary["ResNet-50 v1"]["macs"])


def test_legacy_seresnet50_ceil_mode_pool(nets):
    caffe_pool, tv_pool = nets["SE-ResNet-50"].pool0, nets["ResNet-50"].maxpool
    assert caffe_pool.ceil_mode and caffe_pool.padding == 0 and tv_pool.padding == 1 and not tv_pool.ceil_mode
    for side in (224, 225):
        after_conv = lt.conv_out(side, 7, 2, 3)
        x = torch.zeros(1, 64, after_conv, after_conv)
        assert caffe_pool(x).shape[-1] == lt.pool_out(after_conv, 3, 2, ceil_mode=True)
        assert tv_pool(x).shape[-1] == lt.pool_out(after_conv, 3, 2, 1)
    assert lt.pool_out(112, 3, 2, ceil_mode=True) == lt.pool_out(112, 3, 2, 1) == 56
    assert lt.pool_out(113, 3, 2, ceil_mode=True) == 56 != lt.pool_out(113, 3, 2, 1) == 57


def test_se_fc_layers_are_1x1_convolutions(nets):
    fc1 = nets["SE-ResNet-50"].layer4[0].se_module.fc1
    assert tuple(fc1.weight.shape) == (128, 2048, 1, 1) and fc1.bias is not None


def test_timm_inception_resnet_v2_stem_and_block35(lecture):
    irv2 = lecture["nets"]["Inception-ResNet-v2"]
    x = torch.zeros(1, *ist.INPUT_299, device="meta")
    with torch.no_grad():
        for name in ("conv2d_1a", "conv2d_2a", "conv2d_2b", "maxpool_3a", "conv2d_3b", "conv2d_4a",
                     "maxpool_5a", "mixed_5b"):
            x = getattr(irv2.eval(), name)(x)
        assert tuple(x.shape[1:]) == (320, 35, 35) == tuple(irv2.repeat[0](x).shape[1:])
    assert lecture["blocks"]["Inception-v4"][5]["out_shape"] == (384, 35, 35)
    b35 = irv2.repeat[0]
    assert isinstance(b35.conv2d, nn.Conv2d) and b35.conv2d.bias is not None      # linear, with a bias
    assert [n for n, _ in b35.named_children()] == ["branch0", "branch1", "branch2", "conv2d", "act"]


def test_self_check_answers(lecture):
    assert lt.conv_params(192, 192, (1, 7), bias=False) * 2 == 516_096
    assert lt.conv_params(192, 192, 7, bias=False) == 1_806_336
    ra = at.on_meta(lambda: ist.make_block(ReductionA))
    assert lecture["blocks"]["Inception-v4"][10]["out_shape"] == (1024, 17, 17)
    assert ist.branch_channels(ra, 384)[-1] == 384
    assert ist.se_params(512, 16) == lt.count_params(SEModule(512, 16)) == 33_312
    assert ist.residual_additions(lecture["nets"]["Inception-v4"]) == 0
    assert ist.residual_additions(lecture["nets"]["Inception-ResNet-v2"]) == 40
    assert SEModule(256, 16).fc1.kernel_size == (1, 1)
