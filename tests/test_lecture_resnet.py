"""Tests for Lecture 7, "ResNet and ResNeXt": every helper in ``lectures/resnet_tools.py``
against PyTorch and torchvision, and every number the notebook prints or quotes (the section
of the lecture is named in each test's docstring or heading). ``tests/test_lectures.py``
executes the notebook and checks its figures.

Run from the repository root:  python -m pytest tests/test_lecture_resnet.py -q
"""

from __future__ import annotations

import inspect

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


@pytest.fixture(scope="module")
def nets():
    """The lecture's NETS and SUMMARY: the four networks on the meta device, and their counts."""
    models = {name: rt.build(builder) for name, builder in rt.MODELS.items()}
    return models, {name: at.summary(m, INPUT) for name, m in models.items()}


@pytest.fixture(scope="module")
def stages(nets):
    """Section 1.2's and 2.2's stage tables."""
    return {name: rt.stage_table(model) for name, model in nets[0].items()}


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
    # Section 1.2: projections exactly where [S3] strides by 2; 3-4-6-3 units; 1 + 2 x 16 + 1.
    assert [u["shortcut"] == "projection" for u in layout] == [
        s == 2 for s in rt.seed_strides(rt.SEED_RESNET34_LAYOUT)]
    assert [sum(u["unit"].startswith(f"layer{i}.") for u in layout) for i in range(1, 5)] == \
        [3, 4, 6, 3]
    assert 1 + 2 * len(layout) + 1 == 34 == at.summary(model, INPUT)["weight_layers"]


def test_unit_layout_bottlenecks():
    r50, rx = rt.build("resnet50"), rt.build("resnext50_32x4d")
    l50, lx = rt.unit_layout(r50), rt.unit_layout(rx)
    assert [u["planes"] for u in l50] == [u["planes"] for u in lx] == \
        [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3
    assert [u["out"] for u in l50] == [4 * u["planes"] for u in l50]
    assert [u["width"] for u in l50] == [u["planes"] for u in l50]
    assert [u["width"] for u in lx] == [2 * u["planes"] for u in lx]
    assert {u["groups"] for u in lx} == {32} and {u["groups"] for u in l50} == {1}
    assert [u["unit"] for u in l50 if u["shortcut"] == "projection"] == [
        "layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    # Section 2.2: the same outputs and strides; 32 groups of width 4, 8, 16, 32.
    assert [u["out"] for u in lx] == [u["out"] for u in l50]
    assert [u["stride"] for u in lx] == [u["stride"] for u in l50]
    assert sorted({u["width"] // 32 for u in lx}) == [4, 8, 16, 32]


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
    """Section 2.3: each split of the paper's Table 2 is Bottleneck(256, 64, groups=C,
    base_width=d), within 3% of ResNet-50's 69,632 weights."""
    block = Bottleneck(256, 64, groups=C, base_width=d)
    assert block.conv2.groups == C and block.conv2.in_channels == C * d
    assert rt.resnext_template_weights(C, d) == at.conv_weights(block)
    expected = {1: 69_632, 32: 70_144}           # ResNet-50's bottleneck, ResNeXt-50's
    if C in expected:
        assert rt.resnext_template_weights(C, d) == expected[C]
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
        rt.bottleneck_weights(c_in, C * d, c_out, groups=C) == C * rt.bottleneck_weights(c_in, d, c_out)


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
# The notebook's numbers, Part 1: ResNet
# ---------------------------------------------------------------------------


def test_ilsvrc_top5_errors_fall():
    """Section 1.1: 16.43% (2012), 7.32% (2014), 3.57% (2015): a factor 2.05 from VGG."""
    errors = [16.43, 7.32, 3.57]
    assert errors == sorted(errors, reverse=True)
    assert round(7.32 / 3.57, 2) == 2.05


def test_resnet152_has_152_weight_layers():
    """Section 1.1: 1 + 3 x 50 + 1 = 152 convolutions and linear layers, projections aside."""
    r152 = rt.build("resnet152")
    layers = [n for n, m in r152.named_modules()
              if isinstance(m, (nn.Conv2d, nn.Linear)) and "downsample" not in n]
    assert len(layers) == 152 == 1 + 3 * len(rt.residual_units(r152)) + 1


def test_degradation_in_table_2():
    """Section 1.1: from 18 to 34 layers plain loses 0.60 points, residual gains 2.85."""
    top1 = {"plain-18": 27.94, "plain-34": 28.54, "ResNet-18": 27.88, "ResNet-34": 25.03}
    assert top1["plain-34"] > top1["plain-18"] and top1["ResNet-34"] < top1["ResNet-18"]
    assert round(top1["plain-18"] - top1["plain-34"], 2) == -0.60
    assert round(top1["ResNet-18"] - top1["ResNet-34"], 2) == 2.85


def test_small_weights_plain_unit_outputs_little_residual_unit_its_input():
    """Section 1.1 ([S3]): at initialisation a plain unit outputs about 0, a residual unit
    about its input."""
    g = torch.Generator().manual_seed(3)
    x = F.relu(torch.randn(4, 8, 8, 8, generator=g, dtype=D))
    plain, res = rt.conv_stack(1, shortcut=False)[0], rt.conv_stack(1, shortcut=True)[0]
    with torch.no_grad():
        assert (plain(x).norm() / x.norm()).item() < 0.2
        assert ((res(x) - x).norm() / x.norm()).item() < 0.2


def test_zero_init_residual_makes_identity_units_exact_identities(nets):
    """Section 1.1: ResNet-18's 5 identity units change their input by 45-85% by default and
    not at all with zero_init_residual."""
    def unit_changes(zero_init):
        torch.manual_seed(0)
        model = torchvision.models.resnet18(weights=None, zero_init_residual=zero_init)
        seen = {}
        hooks = [unit.register_forward_hook(
            lambda mod, inp, out, name=name: seen.__setitem__(name, (inp[0].clone(), out)))
            for name, unit in rt.residual_units(model)]
        with torch.no_grad():
            model(torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
        for h in hooks:
            h.remove()
        return {n: ((o - i).norm() / i.norm()).item()
                for n, (i, o) in seen.items() if i.shape == o.shape}

    assert len(rt.residual_units(nets[0]["ResNet-18"])) == 8
    default, zeroed = unit_changes(False), unit_changes(True)
    assert len(default) == 5 and all(0.45 < v < 0.85 for v in default.values())
    assert all(v == 0.0 for v in zeroed.values())


def test_gradient_profiles_of_32_units():
    """Section 1.1: no BN, the plain stack's gradient vanishes (about 7x per unit), the
    residual one arrives intact; with BN and He init, plain explodes, residual stays tame."""
    profiles = rt.gradient_profiles(units=32)
    no_bn, bn = profiles["no BN, PyTorch default init"], profiles["BN, He init"]
    assert no_bn["plain"][0] < 1e-20 and 0.5 < no_bn["shortcuts"][0] < 2
    assert bn["plain"][0] > 1e3 and bn["shortcuts"].max() < 30
    assert round(no_bn["plain"][0] ** (-1 / 32)) == 7
    a, b = rt.conv_stack(32, shortcut=False), rt.conv_stack(32, shortcut=True)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_keras_resnet34_differences():
    """Section 1.2: TensorFlow's "same" padding (2, 3) and (0, 1) give torchvision's 112 and 56;
    with 10 outputs 21,289,802 parameters, and Keras would count 17,024 running statistics."""
    assert lt.tf_same_padding(224, 7, 2) == (2, 3) and lt.conv_out(224, 7, 2, 3) == 112
    assert lt.tf_same_padding(112, 3, 2) == (0, 1) and lt.pool_out(112, 3, 2, 1) == 56
    r34_10 = rt.build("resnet34", num_classes=10)
    assert lt.count_params(r34_10) == 21_797_672 - 512 * 1000 - 1000 + 512 * 10 + 10 == 21_289_802
    assert 2 * sum(m.num_features for m in r34_10.modules() if isinstance(m, nn.BatchNorm2d)) == 17_024


def test_stage_tables_of_resnet_18_34_50(nets, stages):
    """Section 1.2: 2-2-2-2 and 3-4-6-3 units; 64-512 and 256-2048 channels; 11.7, 21.8 and
    25.6 M parameters; 1.8, 3.7 and 4.1 G MACs."""
    _, summary = nets
    assert [r["units"] for r in stages["ResNet-18"]][1:5] == [2, 2, 2, 2]
    assert [r["units"] for r in stages["ResNet-50"]][1:5] == [3, 4, 6, 3]
    assert [r["out_shape"][0] for r in stages["ResNet-34"]][1:5] == [64, 128, 256, 512]
    assert [r["out_shape"][0] for r in stages["ResNet-50"]][1:5] == [256, 512, 1024, 2048]
    assert [summary[n]["params"] for n in ("ResNet-18", "ResNet-34", "ResNet-50")] == [
        11_689_512, 21_797_672, 25_557_032]
    assert summary["ResNet-18"]["macs"] == 1_814_073_344
    assert summary["ResNet-34"]["macs"] == 3_663_761_408
    assert summary["ResNet-50"]["macs"] == 4_089_184_256


def test_resnet50_costs_by_stage(nets, stages):
    """Section 1.2: layer4 holds 59% of ResNet-50's parameters and does 20% of its MACs; a 3x3
    convolution costs the same in every stage of ResNet-34."""
    r50, total = stages["ResNet-50"], nets[1]["ResNet-50"]
    assert round(r50[4]["params"] / total["params"], 2) == 0.59
    assert round(r50[4]["macs"] / total["macs"], 2) == 0.20
    assert len({lt.conv_macs(c, c, 3, n, n) for c, n in [(64, 56), (128, 28), (256, 14), (512, 7)]}) == 1


def test_resnet18_layer_table(nets):
    """Section 1.2: the per-layer table adds up; 20 convolutions (17 + 3 projections)."""
    rows = at.layer_table(nets[0]["ResNet-18"], INPUT)
    assert sum(r["params"] for r in rows) == 11_689_512
    assert sum(r["macs"] for r in rows) == 1_814_073_344
    assert sum(r["type"] == "Conv2d" for r in rows) == 20


def test_resnet50_unit_table(nets):
    """Section 1.2: the unit table adds up; 16 units and 1 + 3 x 16 + 1 = 50 weight layers."""
    units = rt.unit_table(nets[0]["ResNet-50"])
    assert sum(r["params"] for r in units) == nets[1]["ResNet-50"]["params"]
    assert [r["unit"] for r in units if r["shortcut"] == "projection"] == [
        "layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    assert len(units) == 2 + 16 and 1 + 3 * 16 + 1 == 50 == nets[1]["ResNet-50"]["weight_layers"]


def test_unit_costs_at_56():
    """Section 1.3: a bottleneck on 256 channels (69,632 weights) costs about as much as a
    basic unit on 64 (73,728); a basic unit on 256 costs 16.9 times as much."""
    units = [(BasicBlock(64, 64), rt.basic_weights(64)),
             (Bottleneck(256, 64), rt.bottleneck_weights(256, 64)),
             (BasicBlock(256, 256), rt.basic_weights(256))]
    weights, with_bn = [], []
    for unit, formula in units:
        unit = unit.to("meta")
        cost = at.layer_table(unit, (unit.conv1.in_channels, 56, 56), types=(nn.Conv2d,))
        assert at.conv_weights(unit) == formula
        assert sum(r["macs"] for r in cost) == 56 * 56 * formula
        weights.append(formula)
        with_bn.append(lt.count_params(unit))
    assert weights == [73_728, 69_632, 1_179_648]
    assert with_bn == [73_984, 70_400, 1_180_672]
    assert round(weights[1] / weights[0], 3) == 0.944 and round(weights[2] / weights[1], 1) == 16.9


def test_resnet50_against_resnet34(nets):
    """Section 1.3: 16 more layers for 17% more parameters and 12% more MACs."""
    s = nets[1]
    assert round(s["ResNet-50"]["params"] / s["ResNet-34"]["params"], 2) == 1.17
    assert round(s["ResNet-50"]["macs"] / s["ResNet-34"]["macs"], 2) == 1.12
    assert s["ResNet-34"]["weight_layers"] + 16 == s["ResNet-50"]["weight_layers"]


def test_projection_shortcut_of_resnet34_layer2(nets):
    """Section 1.3: a 1x1 stride-2 convolution without bias (8,192 weights) and a BatchNorm;
    main path and shortcut both give 128 x 28 x 28."""
    unit = nets[0]["ResNet-34"].layer2[0]
    proj = unit.downsample
    assert isinstance(proj[0], nn.Conv2d) and isinstance(proj[1], nn.BatchNorm2d)
    assert proj[0].kernel_size == (1, 1) and proj[0].stride == (2, 2) and proj[0].bias is None
    assert (proj[0].in_channels, proj[0].out_channels) == (64, 128)
    assert proj[0].weight.numel() == 8_192
    x = torch.zeros(1, 64, 56, 56, device="meta")
    main = unit.bn2(unit.conv2(unit.relu(unit.bn1(unit.conv1(x)))))
    assert main.shape == proj(x).shape == (1, 128, 28, 28)


def test_zero_last_batchnorm_gives_relu():
    """Section 1.3: with gamma = 0 in bn2, a BasicBlock computes ReLU(x) in both modes, so a
    post-ReLU input passes unchanged; a Gaussian x loses about half its values."""
    torch.manual_seed(0)
    block = BasicBlock(8, 8).double()
    with torch.no_grad():
        block.bn2.weight.zero_()
    x = rand(2, 8, 16, 16, seed=1)
    for mode in ("train", "eval"):
        getattr(block, mode)()
        with torch.no_grad():
            torch.testing.assert_close(block(x), F.relu(x))
            torch.testing.assert_close(block(F.relu(x)), F.relu(x))
    with torch.no_grad():
        assert 0.4 < (block(x) != x).float().mean().item() < 0.6


def test_relu_after_the_addition():
    """Section 1.3: torchvision's unit is ReLU(branch + x); a ReLU on the branch instead could
    only ever increase the input."""
    torch.manual_seed(0)
    unit = BasicBlock(8, 8).double().eval()
    x = rand(2, 8, 16, 16, seed=2)
    with torch.no_grad():
        branch = unit.bn2(unit.conv2(unit.relu(unit.bn1(unit.conv1(x)))))
        torch.testing.assert_close(F.relu(branch + x), unit(x))
        assert torch.all(x + F.relu(branch) >= x)


# ---------------------------------------------------------------------------
# The notebook's numbers, Part 2: ResNeXt
# ---------------------------------------------------------------------------


def test_resnext_table_3():
    """Section 2.1: more, thinner paths lower the top-1 error each time; 1.7 points in all."""
    errs = [23.9, 23.0, 22.6, 22.3, 22.2]
    assert errs == sorted(errs, reverse=True)
    assert round(errs[0] - errs[-1], 1) == 1.7


def test_resnext50_stage_table(nets, stages):
    """Section 2.2: 25,028,904 parameters; the stage outputs of ResNet-50; the paper's Table 1
    to its rounding (25.5 M / 4.1 G and 25.0 M / 4.2 G)."""
    rows, summary = stages["ResNeXt-50 32x4d"], nets[1]["ResNeXt-50 32x4d"]
    assert sum(r["params"] for r in rows) == summary["params"] == 25_028_904
    assert sum(r["macs"] for r in rows) == summary["macs"]
    assert [r["out_shape"] for r in rows] == [r["out_shape"] for r in stages["ResNet-50"]]
    for name, params, flops in (("ResNet-50", 25.5e6, 4.1e9), ("ResNeXt-50 32x4d", 25.0e6, 4.2e9)):
        s = nets[1][name]
        assert abs(s["params"] - params) < 0.1e6 and abs(s["macs"] - flops) < 0.05e9


def test_resnext_first_stage_block_at_full_size():
    """Section 2.3: 32 paths of width 4 on 256 channels are one grouped convolution, with the
    convolutions of torchvision's Bottleneck(256, 64, groups=32, base_width=4): 70,144 weights."""
    torch.manual_seed(0)
    paths = rt.SplitTransformMerge(256, cardinality=32, d=4, c_out=256).double()
    grouped = rt.copy_paths(paths, rt.grouped_form(256, 32, 4, 256).double())
    x = rand(1, 256, 4, 4, seed=2)
    with torch.no_grad():
        torch.testing.assert_close(grouped(x), paths(x))
    block = at.on_meta(lambda: Bottleneck(256, 64, groups=32, base_width=4))
    shapes_c = [tuple(m.weight.shape) for m in grouped if isinstance(m, nn.Conv2d)]
    shapes_tv = [tuple(c.weight.shape) for c in (block.conv1, block.conv2, block.conv3)]
    assert shapes_c == shapes_tv == [(128, 256, 1, 1), (128, 4, 3, 3), (256, 128, 1, 1)]
    assert lt.count_params(paths) == lt.count_params(grouped) == at.conv_weights(block) == 70_144


def test_where_resnext_puts_the_weights():
    """Section 2.3: ResNeXt moves the weights into the 1x1 layers; its grouped 3x3 is 32
    times cheaper than a dense one of width 128."""
    per_layer = {name: [c.weight.numel() for c in (b.conv1, b.conv2, b.conv3)]
                 for name, b in (("r50", Bottleneck(256, 64)),
                                 ("rx50", Bottleneck(256, 64, groups=32, base_width=4)))}
    assert per_layer["r50"] == [16_384, 36_864, 16_384]
    assert per_layer["rx50"] == [32_768, 4_608, 32_768]
    assert lt.conv_params(128, 128, 3, bias=False) == 32 * 4_608


# ---------------------------------------------------------------------------
# The notebook's numbers, Parts 3 to 5 and the self-check
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def comparison(nets):
    """Part 3's table: the four networks and Wide ResNet-50-2."""
    models = dict(nets[0], **{"Wide ResNet-50-2": rt.build("wide_resnet50_2")})
    builders = dict(rt.MODELS, **{"Wide ResNet-50-2": "wide_resnet50_2"})
    rows = {}
    for name, model in models.items():
        s = nets[1].get(name) or at.summary(model, INPUT)
        rows[name] = {"params": s["params"], "macs": s["macs"], "depth": s["weight_layers"],
                      "RF": lt.receptive_field(rt.main_path(model))[-1][0],
                      "top5_tv": at.top5_error(builders[name]), "builder": builders[name]}
    return rows


def test_comparison_table(comparison):
    """Part 3: receptive fields 435, 899, 427, 427, 427 (all above 224); depths; torchvision's
    top-5 errors; torchvision's metadata agrees with the parameters and the MACs."""
    by = comparison
    assert [by[n]["RF"] for n in by] == [435, 899, 427, 427, 427]
    assert min(r["RF"] for r in by.values()) > 224
    assert [by[n]["depth"] for n in by] == [18, 34, 50, 50, 50]
    assert [by[n]["top5_tv"] for n in by] == [10.922, 8.58, 7.138, 6.302, 5.914]
    assert by["Wide ResNet-50-2"]["params"] == 68_883_240
    for row in by.values():
        meta = torchvision.models.get_model_weights(row["builder"])["IMAGENET1K_V1"].meta
        assert meta["num_params"] == row["params"] and round(row["macs"] / 1e9, 3) == meta["_ops"]


def test_stage_receptive_fields(nets):
    """Part 3: ResNet-50's fields stage by stage; the image is covered from layer3 on in
    ResNet-34 and 50, from layer4 on in ResNet-18."""
    models = nets[0]
    assert list(rt.stage_receptive_fields(models["ResNet-50"]).values()) == [
        (11, 4), (35, 4), (91, 8), (267, 16), (427, 32)]
    assert [rt.stage_receptive_fields(models[n])["layer3"][0] > 224
            for n in ("ResNet-18", "ResNet-34", "ResNet-50")] == [False, True, True]


def test_resnext50_against_resnet50_and_wide(stages, comparison):
    """Part 3: every stage of ResNeXt-50 within 7% of ResNet-50 (fewer parameters); 0.84 points
    of top-5 error; Wide ResNet-50-2 gets 0.39 more for 2.8x the parameters, 2.7x the MACs."""
    for a, b in zip(stages["ResNet-50"], stages["ResNeXt-50 32x4d"]):
        if a["params"]:
            assert b["params"] <= a["params"] and abs(b["params"] / a["params"] - 1) < 0.07
            assert abs(b["macs"] / a["macs"] - 1) < 0.07
    r50, rx, wide = (comparison[n] for n in ("ResNet-50", "ResNeXt-50 32x4d", "Wide ResNet-50-2"))
    assert round(r50["top5_tv"] - rx["top5_tv"], 2) == 0.84
    assert round(rx["top5_tv"] - wide["top5_tv"], 2) == 0.39
    assert round(wide["params"] / rx["params"], 1) == 2.8
    assert round(wide["macs"] / rx["macs"], 1) == 2.7


def test_v1_and_v15_downsampling_unit():
    """Section 4.1: the same output, 77,070,336 more MACs for v1.5, whose strided 3x3 reads
    every input position where v1's strided 1x1 skips 3/4 of them."""
    def unit():
        return Bottleneck(256, 128, 2, rt.projection_shortcut(256, 512, 2))

    rows = {}
    for name, u in (("v1.5", at.on_meta(unit)), ("v1", rt.to_v1(at.on_meta(unit)))):
        rows[name] = [r for r in at.layer_table(u, (256, 56, 56), types=(nn.Conv2d,))
                      if "downsample" not in r["layer"]]
    assert rows["v1.5"][0]["out_shape"] == (128, 56, 56) and rows["v1"][0]["out_shape"] == (128, 28, 28)
    assert rows["v1.5"][2]["out_shape"] == rows["v1"][2]["out_shape"] == (512, 28, 28)
    diff = sum(r["macs"] for r in rows["v1.5"]) - sum(r["macs"] for r in rows["v1"])
    assert diff == (56 * 56 - 28 * 28) * 256 * 128 == 77_070_336
    assert 1 - ((56 - len(lt.ignored_pixels(56, 1, 2))) / 56) ** 2 == 0.75
    assert lt.ignored_pixels(56, 3, 2, 1) == []


def test_v1_macs_match_he_et_al(nets, comparison):
    """Section 4.1: v1 matches the paper's 1.8, 3.6 and 3.8 G; v1.5 is 3 x 77 M MACs more and
    does not; the receptive field grows from 427 to 483."""
    r50_v1 = rt.to_v1(rt.build("resnet50"))
    macs_v1 = at.summary(r50_v1, INPUT)["macs"]
    s = nets[1]
    assert s["ResNet-50"]["macs"] - macs_v1 == 3 * 77_070_336
    ours = {"ResNet-18": s["ResNet-18"]["macs"], "ResNet-34": s["ResNet-34"]["macs"],
            "ResNet-50": macs_v1}
    for name, paper in {"ResNet-18": 1.8e9, "ResNet-34": 3.6e9, "ResNet-50": 3.8e9}.items():
        assert abs(ours[name] - paper) < 0.07e9
    assert abs(s["ResNet-50"]["macs"] - 3.8e9) > 0.25e9
    assert abs(macs_v1 - 4.1e9) > 0.2e9
    assert (lt.receptive_field(rt.main_path(r50_v1))[-1][0], comparison["ResNet-50"]["RF"]) == (483, 427)


def test_option_a_and_b_shortcuts(nets):
    """Section 4.2: option A subsamples and pads with zero channels, no parameters; option B
    has 8,448; ResNet-34's projections hold 173,824; the paper's Table 3 ranks C < B < A."""
    x = torch.randn(2, 64, 56, 56, generator=torch.Generator().manual_seed(0))
    opt_a, opt_b = rt.ZeroPadShortcut(128, stride=2), rt.projection_shortcut(64, 128, 2)
    ya, yb = opt_a(x), opt_b(x)
    assert ya.shape == yb.shape == (2, 128, 28, 28)
    assert torch.equal(ya[:, :64], x[:, :, ::2, ::2]) and not ya[:, 64:].any()
    assert lt.count_params(opt_a) == 0 and lt.count_params(opt_b) == 64 * 128 + 2 * 128 == 8_448
    r34 = nets[0]["ResNet-34"]
    assert sum(p.numel() for n, p in r34.named_parameters() if "downsample" in n) == 173_824
    table3 = {"A": (25.03, 7.76), "B": (24.52, 7.46), "C": (24.19, 7.40)}
    assert table3["A"] > table3["B"] > table3["C"]


def test_resnet20_runs():
    """Section 4.2: ResNet-20 (n = 3) gives 10 logits and has 269,722 parameters."""
    model = rt.cifar_resnet(3)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert lt.count_params(model) == 269_722


@pytest.mark.parametrize("name", ["ResNet-18", "ResNet-50"])
def test_batchnorm_after_every_convolution(nets, name):
    """Section 4.3: one BatchNorm of the right width per convolution, no conv biases;
    zero_init_residual is off by default."""
    model = nets[0][name]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == len(bns) and all(c.bias is None for c in convs)
    assert [c.out_channels for c in convs] == [b.num_features for b in bns]
    assert inspect.signature(torchvision.models.resnet.ResNet).parameters[
        "zero_init_residual"].default is False


def test_small_variants_layout():
    """Section 4.4: on 32x32 the ImageNet stem leaves 8x8 maps, the small variants 32x32;
    4,903,242 and 3,948,874 parameters; 8 groups of width 4 to 32; a 3x3 stem."""
    cifar = (3, 32, 32)
    maps = lambda m: [r["out_shape"][1] for r in rt.stage_table(m, cifar)[:5]]  # noqa: E731
    assert maps(rt.build("resnet18", num_classes=10)) == [8, 8, 4, 2, 1]
    small, small_x = at.on_meta(gm.resnet_small), at.on_meta(gm.resnext_small)
    assert maps(small) == [32, 32, 16, 8, 4]
    assert lt.count_params(small) == 4_903_242 and lt.count_params(small_x) == 3_948_874
    assert [u["planes"] for u in rt.unit_layout(small)] == [64, 128, 256, 512]
    assert [(u["groups"], u["width"] // u["groups"]) for u in rt.unit_layout(small_x)] == [
        (8, 4), (8, 8), (8, 16), (8, 32)]
    assert small.conv1.weight.shape == (64, 3, 3, 3)


def test_small_variants_train_on_eight_digits():
    """Part 5: 3 Adam steps on 8 digits; every step lowers the loss, by 4x in all."""
    x, y = at.digits_batch(n=8, size=32, channels=3)
    assert x.shape == (8, 3, 32, 32) and y.tolist() == list(range(8))
    for name in ("resnet_small", "resnext_small"):
        losses = at.train_steps(getattr(gm, name), x, y, steps=3, lr=1e-3, final=True)
        assert losses[-1] < losses[0] / 4
        assert all(b < a for a, b in zip(losses, losses[1:]))


def test_self_check_answers(stages, comparison):
    """The self-check's answers: 69,632 (70,400) and 1,179,648 weights; 1024 x 14 x 14 and
    256 x 14 x 14; 16 units; 4,608 against 147,456; a receptive field of 435."""
    assert rt.bottleneck_weights(256, 64) == 69_632
    assert lt.count_params(Bottleneck(256, 64)) == 70_400
    assert rt.basic_weights(256) == 1_179_648
    assert stages["ResNet-50"][3]["out_shape"] == (1024, 14, 14)
    assert stages["ResNet-34"][3]["out_shape"] == (256, 14, 14)
    assert len(rt.residual_units(rt.build("resnet34"))) == 16 and 2 * 16 + 1 + 1 == 34
    rx50 = rt.build("resnext50_32x4d")
    assert rx50.layer1[0].conv2.weight.numel() == 4_608
    assert lt.conv_params(128, 128, 3, bias=False) == 147_456
    assert comparison["ResNet-18"]["RF"] == 435


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
