"""Tests for Lecture 7, "ResNet and ResNeXt": every helper in ``lectures/resnet_tools.py``
against PyTorch and torchvision (``tests/test_lectures.py`` executes the notebook and checks
its figures).

Run from the repository root:  python -m pytest tests/test_lecture_resnet.py -q
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from torchvision.models.resnet import BasicBlock, Bottleneck  # noqa: E402

from grader import models as gm  # noqa: E402
from lectures import arch_tools as at  # noqa: E402
from lectures import lecture_tools as lt  # noqa: E402
from lectures import resnet_tools as rt  # noqa: E402

D = torch.float64
INPUT = (3, 224, 224)


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=D)


def macs(module, input_shape) -> int:
    device = next(module.parameters()).device
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.zeros(1, *input_shape, device=device, dtype=next(module.parameters()).dtype))
    return counter.get_total_flops() // 2


# ---------------------------------------------------------------------------
# The architectures as data
# ---------------------------------------------------------------------------



def test_build_is_on_meta_and_matches_torchvision_counts():
    expected = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
                "resnext50_32x4d": 25_028_904}
    for name, params in expected.items():
        model = rt.build(name)
        assert next(model.parameters()).device.type == "meta"
        assert lt.count_params(model) == params
    assert list(rt.MODELS.values()) == list(expected)
    assert lt.count_params(rt.build("resnet34", num_classes=10)) == 21_289_802


def test_seed_strides():
    assert rt.seed_strides([64, 64, 128, 128, 256]) == [1, 1, 2, 1, 2]
    assert rt.seed_strides(rt.SEED_RESNET34_LAYOUT) == [1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1]
    assert rt.SEED_RESNET34_LAYOUT == [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3


def test_unit_layout_resnet34_is_the_seed_layout():
    model = torchvision.models.resnet34(weights=None)
    layout = rt.unit_layout(model)
    assert [u["planes"] for u in layout] == rt.SEED_RESNET34_LAYOUT
    assert [u["stride"] for u in layout] == rt.seed_strides(rt.SEED_RESNET34_LAYOUT)
    # Cross-check every field against the modules themselves.
    for u, (name, block) in zip(layout, rt.residual_units(model)):
        assert u["unit"] == name and isinstance(block, BasicBlock)
        assert u["out"] == block.conv2.out_channels == u["planes"] == u["width"]
        assert u["stride"] == block.conv1.stride[0]
        assert (u["shortcut"] == "projection") == (block.downsample is not None)


def test_unit_layout_bottlenecks():
    r50, rx = rt.build("resnet50"), rt.build("resnext50_32x4d")
    l50, lx = rt.unit_layout(r50), rt.unit_layout(rx)
    assert [u["planes"] for u in l50] == [u["planes"] for u in lx] == \
        [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3
    assert [u["out"] for u in l50] == [4 * u["planes"] for u in l50]
    assert [u["width"] for u in l50] == [u["planes"] for u in l50]
    assert [u["width"] for u in lx] == [2 * u["planes"] for u in lx]
    assert {u["groups"] for u in lx} == {32}
    assert [u["unit"] for u in l50 if u["shortcut"] == "projection"] == [
        "layer1.0", "layer2.0", "layer3.0", "layer4.0"]


@pytest.mark.parametrize("name", list(rt.MODELS.values()))
def test_stage_and_unit_tables_add_up(name):
    model = rt.build(name)
    summary = at.summary(model, INPUT)
    stages = rt.stage_table(model)
    assert [r["stage"] for r in stages] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert sum(r["params"] for r in stages) == summary["params"]
    assert sum(r["macs"] for r in stages) == summary["macs"]
    assert [r["out_shape"][1:] for r in stages[:5]] == [(56, 56), (56, 56), (28, 28), (14, 14), (7, 7)]
    assert stages[-1]["out_shape"] == (1000,)
    assert sum(r["units"] for r in stages) == len(rt.residual_units(model))
    units = rt.unit_table(model)
    assert len(units) == len(rt.residual_units(model)) + 2
    assert sum(r["params"] for r in units) == summary["params"]
    assert sum(r["macs"] for r in units) == summary["macs"]
    # Each unit's parameters are those of the torchvision module of that name.
    for row in units[1:-1]:
        assert row["params"] == lt.count_params(model.get_submodule(row["unit"]))


def test_stage_table_shapes_match_a_real_forward_pass():
    model = gm.resnet_small().eval()
    shapes = {}
    hooks = [getattr(model, n).register_forward_hook(
        lambda m, i, o, n=n: shapes.__setitem__(n, tuple(o.shape[1:])))
        for n in ("maxpool", "layer1", "layer2", "layer3", "layer4", "fc")]
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    rows = {r["stage"]: r for r in rt.stage_table(at.on_meta(gm.resnet_small), (3, 32, 32))}
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        assert rows[stage]["out_shape"] == shapes[stage]
    assert rows["head"]["out_shape"] == shapes["fc"] == (10,)
    # No max pool in the small variant: the stem ends with its BatchNorm.
    assert rows["stem"]["out_shape"] == (64, 32, 32)


def test_stage_pipeline():
    stages = rt.stage_pipeline(rt.build("resnet50"))
    assert stages[0] == ("input", INPUT)
    assert [s for _, s in stages[1:]] == [(64, 56, 56), (256, 56, 56), (512, 28, 28),
                                          (1024, 14, 14), (2048, 7, 7), (1000,)]


def test_main_path_of_resnet50():
    model = rt.build("resnet50")
    path = rt.main_path(model)
    assert path[:2] == [(7, 2, 1), ("pool", 3, 2)]
    assert len(path) == 1 + 1 + 3 * 16                      # stem conv, pool, 48 unit convs
    assert sum(1 for layer in path if layer[0] != "pool" and layer[1] == 2) == 4
    assert lt.receptive_field(path)[-1] == (427, 32)
    rfs = rt.stage_receptive_fields(model)
    assert list(rfs) == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert rfs["layer4"] == lt.receptive_field(path)[-1] and rfs["stem"] == (11, 4)


@pytest.mark.parametrize("name, rf", [("resnet18", 435), ("resnet34", 899),
                                      ("resnext50_32x4d", 427), ("wide_resnet50_2", 427)])
def test_receptive_fields(name, rf):
    assert lt.receptive_field(rt.main_path(rt.build(name)))[-1] == (rf, 32)


def test_main_path_receptive_field_against_gradient():
    """With positive weights and inputs every ReLU passes, so the input gradient of one
    output pixel is nonzero exactly on its receptive field."""
    torch.manual_seed(0)
    model = gm.resnet_small().double().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.abs_()
    r = lt.receptive_field(rt.main_path(model))[-1][0]
    assert r == 49
    body = nn.Sequential(model.conv1, model.bn1, model.relu, model.layer1, model.layer2,
                         model.layer3, model.layer4)
    x = torch.rand(1, 3, 96, 96, dtype=D, generator=torch.Generator().manual_seed(0)) + 0.1
    x.requires_grad_(True)
    y = body(x)
    assert y.shape[-1] == 12
    y[0, 0, 6, 6].backward()
    assert lt.nonzero_extent(x.grad[0].abs().sum(0).numpy()) == (r, r)


def test_to_v1_moves_strides_and_keeps_shapes():
    torch.manual_seed(0)
    v15 = Bottleneck(256, 128, 2, rt.projection_shortcut(256, 512, 2)).double().eval()
    v1 = rt.to_v1(Bottleneck(256, 128, 2, rt.projection_shortcut(256, 512, 2)).double().eval())
    assert (v15.conv1.stride, v15.conv2.stride) == ((1, 1), (2, 2))
    assert (v1.conv1.stride, v1.conv2.stride) == ((2, 2), (1, 1))
    x = rand(1, 256, 8, 8)
    assert v1(x).shape == v15(x).shape == (1, 512, 4, 4)
    assert macs(v15, (256, 56, 56)) - macs(v1, (256, 56, 56)) == (56 * 56 - 28 * 28) * 256 * 128
    # v1 with the stride on the 1x1 = a 1x1 on the subsampled input.
    with torch.no_grad():
        v1.conv1.stride = (1, 1)
        full = v1.conv1(x)
        v1.conv1.stride = (2, 2)
        torch.testing.assert_close(v1.conv1(x), full[:, :, ::2, ::2])
    # Whole networks: basic-unit ResNets are unchanged, ResNet-50 loses 3 x 77 M MACs.
    r18 = rt.to_v1(rt.build("resnet18"))
    assert at.summary(r18, INPUT)["macs"] == 1_814_073_344
    r50 = rt.to_v1(rt.build("resnet50"))
    assert at.summary(r50, INPUT)["macs"] == 4_089_184_256 - 3 * 77_070_336 == 3_857_973_248
    assert rt.to_v1(r50) is r50 and at.summary(r50, INPUT)["macs"] == 3_857_973_248   # idempotent


# ---------------------------------------------------------------------------
# Weight formulas
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("c_in, c_out", [(64, 64), (64, 128), (256, 256), (3, 5)])
def test_basic_weights(c_in, c_out):
    down = rt.projection_shortcut(c_in, c_out, 1) if c_in != c_out else None
    block = BasicBlock(c_in, c_out, 1, down)
    main = block.conv1.weight.numel() + block.conv2.weight.numel()
    assert rt.basic_weights(c_in, c_out) == main
    assert rt.basic_weights(64) == 73_728 and rt.basic_weights(256) == 1_179_648


@pytest.mark.parametrize("inplanes, planes, groups, base_width", [
    (256, 64, 1, 64), (64, 64, 1, 64), (256, 64, 32, 4), (512, 128, 32, 4), (256, 64, 8, 14),
    (64, 16, 4, 8)])
def test_bottleneck_weights_against_torchvision(inplanes, planes, groups, base_width):
    block = Bottleneck(inplanes, planes, groups=groups, base_width=base_width,
                       downsample=rt.projection_shortcut(inplanes, 4 * planes, 1))
    width = block.conv2.in_channels
    assert width == int(planes * base_width / 64) * groups
    main = sum(c.weight.numel() for c in (block.conv1, block.conv2, block.conv3))
    assert rt.bottleneck_weights(inplanes, width, 4 * planes, groups) == main
    assert at.conv_weights(block) == main + block.downsample[0].weight.numel()


@pytest.mark.parametrize("C, d", [(1, 64), (2, 40), (4, 24), (8, 14), (32, 4)])
def test_resnext_template_weights(C, d):
    block = Bottleneck(256, 64, groups=C, base_width=d)
    assert rt.resnext_template_weights(C, d) == at.conv_weights(block)
    assert rt.resnext_template_weights(C, d) == rt.bottleneck_weights(256, C * d, groups=C)
    assert abs(rt.resnext_template_weights(C, d) / 69_632 - 1) < 0.03


def test_conv_weights_leaves_batchnorm_out():
    block = BasicBlock(8, 8)
    assert at.conv_weights(block) == 2 * 8 * 8 * 9
    assert lt.count_params(block) == at.conv_weights(block) + 2 * 2 * 8


# ---------------------------------------------------------------------------
# Gradient flow
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shortcut", [False, True])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_two_conv_unit_forward(shortcut, batchnorm):
    torch.manual_seed(0)
    unit = rt.TwoConvUnit(4, shortcut, batchnorm).double().eval()
    x = rand(2, 4, 6, 6)
    out = F.conv2d(F.relu(unit.bn1(F.conv2d(x, unit.conv1.weight, padding=1))),
                   unit.conv2.weight, padding=1)
    out = unit.bn2(out)
    expected = F.relu(out + x) if shortcut else F.relu(out)
    torch.testing.assert_close(unit(x), expected)
    assert isinstance(unit.bn1, nn.BatchNorm2d) == batchnorm


def test_two_conv_unit_he_init():
    torch.manual_seed(0)
    unit = rt.TwoConvUnit(64, True, he_init=True)
    # kaiming_normal_ with fan_out: std = sqrt(2 / (64 * 9))
    assert unit.conv1.weight.std().item() == pytest.approx((2 / (64 * 9)) ** 0.5, rel=0.05)


def test_conv_stack_same_weights_with_and_without_shortcuts():
    a, b = rt.conv_stack(5, shortcut=False), rt.conv_stack(5, shortcut=True)
    assert len(a) == 5 and all(p.dtype == D for p in a.parameters())
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not a[0].shortcut and b[0].shortcut


def test_gradient_profile_against_autograd():
    stack = rt.conv_stack(3, shortcut=True, batchnorm=True)
    prof = rt.gradient_profile(stack, batch=2, size=5, seed=7)
    assert prof.shape == (4,) and prof[-1] == 1.0
    # Recompute the input gradient by hand with the same random numbers.
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 8, 5, 5, generator=g, dtype=D, requires_grad=True)
    out = stack(x)
    r = torch.randn(out.shape, generator=g, dtype=D)
    (gx,) = torch.autograd.grad((out * r).sum(), x)
    assert prof[0] == pytest.approx(gx.norm().item() / r.norm().item())


def test_gradient_profiles_vanish_without_shortcuts():
    profiles = rt.gradient_profiles(units=8)
    assert list(profiles) == ["no BN, PyTorch default init", "BN, He init"]
    no_bn = profiles["no BN, PyTorch default init"]
    assert no_bn["plain"][0] < 1e-5 < 0.5 < no_bn["shortcuts"][0] < 2
    assert all(len(v) == 9 for c in profiles.values() for v in c.values())


# ---------------------------------------------------------------------------
# ResNeXt's three forms
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("c_in, C, d, c_out", [(16, 4, 2, 16), (8, 2, 3, 5), (32, 8, 4, 32),
                                               (6, 1, 4, 6), (12, 3, 1, 7)])
def test_three_forms_compute_the_same_function(c_in, C, d, c_out):
    torch.manual_seed(c_in + C + d)
    a = rt.SplitTransformMerge(c_in, C, d, c_out).double()
    b = rt.copy_paths(a, rt.EarlyConcatenation(c_in, C, d, c_out).double())
    c = rt.copy_paths(a, rt.grouped_form(c_in, C, d, c_out).double())
    x = rand(2, c_in, 5, 6, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(b(x), a(x))
        torch.testing.assert_close(c(x), a(x))
        # Summing the paths by hand, one at a time.
        torch.testing.assert_close(a(x), sum(path(x) for path in a.paths))
    assert lt.count_params(a) == lt.count_params(b) == lt.count_params(c) == \
        rt.bottleneck_weights(c_in, C * d, c_out, groups=C)


def test_grouped_form_is_torchvision_bottleneck():
    """Copy form (c) into a torchvision ResNeXt block whose BatchNorms are identities:
    the block computes ReLU(form_c(x) + x)."""
    torch.manual_seed(0)
    form_c = rt.grouped_form(64, 8, 4, 64).double()
    block = Bottleneck(64, 16, groups=8, base_width=16).double().eval()
    assert block.conv2.groups == 8 and block.conv2.in_channels == 32
    with torch.no_grad():
        for conv, src in zip((block.conv1, block.conv2, block.conv3), (form_c[0], form_c[2], form_c[4])):
            assert conv.weight.shape == src.weight.shape
            conv.weight.copy_(src.weight)
        for bn in (block.bn1, block.bn2, block.bn3):
            bn.eps = 0.0        # running mean 0, variance 1: exactly the identity
        x = rand(2, 64, 6, 6)
        torch.testing.assert_close(block(x), F.relu(form_c(x) + x))


# ---------------------------------------------------------------------------
# Shortcuts and the CIFAR ResNets
# ---------------------------------------------------------------------------


def test_zero_pad_shortcut():
    x = rand(2, 16, 9, 9)
    y = rt.ZeroPadShortcut(32, stride=2)(x)
    assert y.shape == (2, 32, 5, 5) and lt.count_params(rt.ZeroPadShortcut(32)) == 0
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2])
    assert not y[:, 16:].any()
    # Same shape as torchvision's projection (option B) on every size.
    for size in (8, 9, 32, 56):
        x = torch.zeros(1, 16, size, size)
        assert rt.ZeroPadShortcut(32)(x).shape == rt.projection_shortcut(16, 32, 2)(x).shape


def test_projection_shortcut_is_torchvisions_downsample():
    r34 = torchvision.models.resnet34(weights=None)
    ours = rt.projection_shortcut(64, 128, 2)
    theirs = r34.layer2[0].downsample
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
        [(n, p.shape) for n, p in theirs.named_parameters()]
    assert ours[0].stride == theirs[0].stride == (2, 2) and ours[0].bias is None
    ours.load_state_dict(theirs.state_dict())


@pytest.mark.parametrize("n, params", [(3, 269_722), (5, 464_154), (7, 658_586), (9, 853_018),
                                       (18, 1_727_962)])
def test_cifar_resnet_counts(n, params):
    model = at.on_meta(lambda: rt.cifar_resnet(n))
    assert lt.count_params(model) == params
    assert sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules()) == 6 * n + 2
    b = at.on_meta(lambda: rt.cifar_resnet(n, option="B"))
    # Option B adds two projections: 16->32 and 32->64, each a 1x1 conv and a BN.
    assert lt.count_params(b) - params == (16 * 32 + 64) + (32 * 64 + 128)


def test_cifar_resnet_forward_and_shapes():
    torch.manual_seed(0)
    model = rt.cifar_resnet(1).eval()
    shapes = []
    hooks = [m.register_forward_hook(lambda mod, i, o: shapes.append(tuple(o.shape[1:])))
             for m in model if isinstance(m, BasicBlock)]
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    for h in hooks:
        h.remove()
    assert shapes == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]
    assert isinstance(model[4].downsample, rt.ZeroPadShortcut)


# ---------------------------------------------------------------------------
# What the unit figure reads off the modules (the notebook draws it)
# ---------------------------------------------------------------------------


def test_unit_spec_reads_the_modules():
    units = rt.default_units()
    assert list(units) == ["basic, identity shortcut", "basic, projection shortcut",
                           "bottleneck, identity shortcut", "bottleneck, projection (v1.5)"]
    specs = [rt.unit_spec(u) for u in units.values()]
    assert [len(s["main"]) for s in specs] == [2, 2, 3, 3]
    assert [s["shortcut"] is None for s in specs] == [True, False, True, False]
    assert [s["weights"] for s in specs] == [73_728, 73_728 + 147_456 + 8_192, 69_632,
                                             32_768 + 147_456 + 65_536 + 131_072]
    assert [c["stride"] for c in specs[3]["main"]] == [1, 2, 1]      # v1.5
    assert specs[2]["params"] == 70_400
