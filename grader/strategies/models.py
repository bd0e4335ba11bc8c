"""Cases for the ``nn.Module`` checks of problem sets 3 to 8.

A model strategy draws a ``grader.cases.ModuleCase``: a constructor call of the
student's class, an input shape, and the reference to compare with.
"""
from __future__ import annotations

from ..cases import ModuleCase
from .primitives import _min_size, _options, st


def _case(cls, args, kwargs, input_shape, reference, reference_name):
    return ModuleCase(cls, tuple(args), tuple(sorted(kwargs.items())), tuple(input_shape),
                      reference, reference_name)


@st.composite
def residual_block_cases(draw, cls: str, reference, *, bottleneck: bool = False,
                         grouped: bool = False, identity: bool | None = None,
                         training: bool = False):
    """A ``BasicBlock``/``Bottleneck`` call as torchvision's ``_make_layer`` makes them.

    A projection shortcut (strided 1x1 convolution + BatchNorm) comes exactly
    when the stride or the channel count changes, as in the paper's option B.
    ``identity=True`` draws only blocks whose shortcut is the identity.
    ``training=True`` draws inputs that BatchNorm accepts in training mode.
    """
    from ..probes import downsample
    expansion = 4 if bottleneck else 1
    kwargs = {}
    if grouped:
        # torchvision's width is int(planes * base_width / 64) * groups: keep it whole.
        planes = draw(st.sampled_from([2, 4, 8]))
        per_group = draw(st.integers(1, 3))
        kwargs = {"groups": draw(st.sampled_from([2, 4])), "base_width": 64 * per_group // planes}
    else:
        planes = draw(st.integers(1, 6))
    if identity:
        stride, inplanes = 1, planes * expansion
    else:
        stride = draw(st.sampled_from([1, 2]))
        inplanes = draw(st.sampled_from([planes * expansion, draw(st.integers(1, 12))]))
        if identity is False and stride == 1 and inplanes == planes * expansion:
            stride = 2
    args = [inplanes, planes]
    if stride != 1:
        kwargs["stride"] = stride
    if stride != 1 or inplanes != planes * expansion:
        kwargs["downsample"] = downsample(inplanes, planes * expansion, stride)
    n = draw(st.integers(2, 3) if training else st.integers(1, 2))
    h, w = draw(st.integers(4 if training else 2, 7)), draw(st.integers(4 if training else 2, 7))
    return _case(cls, args, kwargs, (n, inplanes, h, w), bound(reference, args, kwargs),
                 f"torchvision.models.resnet.{reference.__name__}")


_BOUND: dict = {}


def bound(reference, args=(), kwargs=None):
    """``reference(*args, **kwargs)`` as a zero-argument builder, one object per call.

    The same object for the same call, so the references' caches hit.
    Arguments are plain data (``grader.probes`` specs are resolved).
    """
    kwargs = kwargs or {}
    key = repr((reference, args, sorted(kwargs.items())))
    if key not in _BOUND:
        def build():
            from ..probes import resolve
            return reference(*[resolve({}, a) for a in args],
                             **{k: resolve({}, v) for k, v in kwargs.items()})
        _BOUND[key] = build
    return _BOUND[key]


@st.composite
def network_input_cases(draw, cls: str, args, kwargs, reference, reference_name, *,
                        sizes=(16, 256), channels: int = 3, classes: bool = True):
    """A whole network on a generated batch size and resolution (for shape checks)."""
    kwargs = dict(kwargs)
    if classes and draw(st.booleans()):
        kwargs["num_classes"] = draw(st.integers(1, 20))
    n = draw(st.integers(1, 4))
    h = draw(st.integers(*sizes))
    w = draw(st.one_of(st.just(h), st.integers(*sizes)))
    ref_kwargs = {"num_classes": kwargs["num_classes"]} if "num_classes" in kwargs else {}
    return _case(cls, args, kwargs, (n, channels, h, w), bound(reference, (), ref_kwargs),
                 reference_name)


@st.composite
def sparse_tables(draw, max_in: int = 6, max_out: int = 6) -> tuple:
    """A connection table: for each output map, the sorted input maps it reads (LeNet's C3)."""
    c_in = draw(st.integers(1, max_in))
    rows = draw(st.lists(st.sets(st.integers(0, c_in - 1), min_size=1), min_size=1,
                         max_size=max_out))
    return c_in, [sorted(r) for r in rows]


@st.composite
def sparse_conv_cases(draw, reference):
    c_in, table = draw(sparse_tables())
    k = draw(st.integers(1, 3))
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(k, k + 4)), draw(st.integers(k, k + 4))
    return _case("SparseConv2d", [table, k], {}, (n, c_in, h, w),
                 bound(reference, ([tuple(r) for r in table], k)), "grader.models.SparseConv2d")


@st.composite
def vgg_feature_cases(draw, reference, batch_norm: bool | None = None):
    """``make_layers(cfg, batch_norm)`` for a short random VGG configuration."""
    cfg = draw(st.lists(st.one_of(st.integers(1, 8), st.just("M")), min_size=1, max_size=6))
    bn = draw(st.booleans()) if batch_norm is None else batch_norm
    pools = cfg.count("M")
    size = 2 ** pools
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(size, size + 3)), \
        draw(st.integers(size, size + 3))
    kwargs = {"batch_norm": True} if bn else {}
    return _case("make_layers", [cfg], kwargs, (n, 3, h, w), bound(reference, (cfg,), kwargs),
                 "torchvision.models.vgg.make_layers")


@st.composite
def basic_conv_cases(draw, reference):
    """GoogLeNet's ``BasicConv2d(in, out, kernel_size=..., stride=..., padding=...)``."""
    c_in, c_out = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    k = draw(st.integers(1, 5))
    kwargs = {"kernel_size": k}
    if draw(st.booleans()):
        kwargs["stride"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        kwargs["padding"] = draw(st.integers(0, k // 2))
    n = draw(st.integers(1, 2))
    h, w = draw(st.integers(k, k + 5)), draw(st.integers(k, k + 5))
    return _case("BasicConv2d", [c_in, c_out], kwargs, (n, c_in, h, w),
                 bound(reference, (c_in, c_out), kwargs),
                 "torchvision.models.googlenet.BasicConv2d")


@st.composite
def inception_cases(draw, reference):
    """``Inception(in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)``, small widths."""
    chans = [draw(st.integers(1, 6)) for _ in range(7)]
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    return _case("Inception", chans, {}, (n, chans[0], h, w), bound(reference, tuple(chans)),
                 "torchvision.models.googlenet.Inception")


# --- problem set 6: DenseNet and DPN --------------------------------------------------------


def _small_input(draw, channels: int, lo: int = 1, hi: int = 7) -> tuple:
    return (draw(st.integers(1, 2)), channels, draw(st.integers(lo, hi)),
            draw(st.integers(lo, hi)))


@st.composite
def dense_layer_cases(draw, reference):
    """``DenseLayer(num_input_features, growth_rate, bn_size)`` (torchvision's ``_DenseLayer``)."""
    c, k, bn_size = draw(st.integers(1, 8)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    return _case("DenseLayer", [c, k, bn_size], {}, _small_input(draw, c),
                 bound(reference, (c, k, bn_size, 0.0)),
                 "torchvision.models.densenet._DenseLayer")


@st.composite
def dense_block_cases(draw, reference):
    """``DenseBlock(num_layers, num_input_features, bn_size, growth_rate)``."""
    layers, c = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    bn_size, k = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    return _case("DenseBlock", [layers, c, bn_size, k], {}, _small_input(draw, c),
                 bound(reference, (layers, c, bn_size, k, 0.0)),
                 "torchvision.models.densenet._DenseBlock")


@st.composite
def transition_cases(draw, reference):
    """``Transition(num_input_features, num_output_features)``: even and odd sizes."""
    c_in, c_out = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    return _case("Transition", [c_in, c_out], {}, _small_input(draw, c_in, 2, 7),
                 bound(reference, (c_in, c_out)), "torchvision.models.densenet._Transition")


@st.composite
def dual_path_cases(draw, reference, block_type: str | None = None):
    """``DualPathBlock(in_chs, num_1x1_a, num_3x3_b, num_1x1_c, inc, groups, block_type)``.

    A ``normal`` block reads the residual part (the first ``num_1x1_c``
    channels) and the dense part (the rest) of its input; ``proj`` and
    ``down`` blocks first project their input to both.
    """
    kind = block_type or draw(st.sampled_from(["normal", "proj", "down"]))
    groups = draw(st.sampled_from([1, 2, 4]))
    a, b = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    c, inc = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    in_chs = c + draw(st.integers(0, 6)) if kind == "normal" else draw(st.integers(1, 10))
    args = [in_chs, a, b, c, inc, groups]
    kwargs = {} if kind == "normal" and draw(st.booleans()) else {"block_type": kind}
    return _case("DualPathBlock", args, kwargs, _small_input(draw, in_chs, 2, 7),
                 bound(reference, tuple(args), {"block_type": kind}),
                 "timm.models.dpn.DualPathBlock")


# --- problem set 7: Inception-v4 and SENet ---------------------------------------------------


@st.composite
def se_block_cases(draw, reference):
    """``SEBlock(channels, reduction)``, with at least one channel in the bottleneck."""
    reduction = draw(st.sampled_from([1, 2, 4, 16]))
    channels = reduction * draw(st.integers(1, 3)) + draw(st.integers(0, reduction - 1))
    return _case("SEBlock", [channels], {"reduction": reduction}, _small_input(draw, channels),
                 bound(reference, (channels, reduction)), "timm.models.senet.SEModule")


@st.composite
def se_bottleneck_cases(draw, reference, *, identity: bool | None = None):
    """``SEBottleneck(inplanes, planes, stride, downsample, reduction)`` as SENet stacks them.

    ``reference(inplanes, planes, stride, downsample, reduction)`` builds timm's block.
    """
    case = draw(residual_block_cases("SEBottleneck", reference, bottleneck=True,
                                     identity=identity))
    reduction = draw(st.sampled_from([1, 2, 4]))  # planes * 4 >= 4 channels: one survives
    kwargs = {**dict(case.kwargs), "reduction": reduction}
    return _case("SEBottleneck", case.args, kwargs, case.input_shape,
                 bound(reference, case.args, kwargs), "timm.models.senet.SEResNetBottleneck")


@st.composite
def fixed_block_cases(draw, cls: str, reference, reference_name: str, channels: int,
                      min_size: int = 1):
    """A block whose widths are fixed by the paper (Inception-v4's), on a generated input."""
    sizes = st.integers(min_size, min_size + 4)
    shape = draw(st.tuples(st.integers(1, 2), st.just(channels), sizes, sizes))
    return _case(cls, [], {}, shape, reference, reference_name)


# --- problem set 8: Xception, MobileNet, ShuffleNet ---


@st.composite
def separable_conv_cases(draw, reference):
    """``SeparableConv2d(in_channels, out_channels, kernel_size, stride, padding, dilation)``,
    timm's Xception layer; a keyword left out takes timm's default (1, 1, 0, 1)."""
    c_in, c_out = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    k, s = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    p, d = draw(st.integers(0, 2)), draw(st.integers(1, 2))
    kwargs = _options(draw, {}, (("kernel_size", k, 1), ("stride", s, 1), ("padding", p, 0),
                                 ("dilation", d, 1)))
    lo = _min_size(d * (k - 1) + 1, p)
    return _case("SeparableConv2d", [c_in, c_out], kwargs, _small_input(draw, c_in, lo, lo + 5),
                 bound(reference, (c_in, c_out), kwargs), "timm.models.xception.SeparableConv2d")


@st.composite
def xception_block_cases(draw, reference):
    """``XceptionBlock(in_channels, out_channels, reps, strides, start_with_relu, grow_first)``
    (timm's ``Block``); half the draws keep the width, so that strides=1 gives an identity
    shortcut."""
    c_in = draw(st.integers(1, 6))
    c_out = draw(st.sampled_from([c_in, draw(st.integers(1, 6))]))
    reps = draw(st.integers(1, 3))
    kwargs = _options(draw, {}, (("strides", draw(st.sampled_from([1, 2])), 1),
                                 ("start_with_relu", draw(st.booleans()), True),
                                 ("grow_first", draw(st.booleans()), True)))
    return _case("XceptionBlock", [c_in, c_out, reps], kwargs, _small_input(draw, c_in),
                 bound(reference, (c_in, c_out, reps), kwargs), "timm.models.xception.Block")


@st.composite
def inverted_residual_cases(draw, reference, *, wide: bool = False):
    """``InvertedResidual(inp, oup, stride, expand_ratio)`` (torchvision's MobileNetV2 block).

    Half the draws have a residual connection (stride 1, ``inp == oup``).  ``wide=True``
    draws at least 4 input and output channels and 3x3 maps: enough output values for a
    property to see their signs.
    """
    lo = 4 if wide else 1
    inp = draw(st.integers(lo, 8))
    t = draw(st.sampled_from([2, 3, 6] if wide else [1, 2, 3, 6]))
    if draw(st.booleans()):
        stride, oup = 1, inp
    else:
        stride, oup = draw(st.sampled_from([1, 2])), draw(st.integers(lo, 8))
    args = [inp, oup, stride, t]
    return _case("InvertedResidual", args, {}, _small_input(draw, inp, 3 if wide else 1, 7),
                 bound(reference, tuple(args)), "torchvision.models.mobilenetv2.InvertedResidual")


@st.composite
def shuffle_block_cases(draw, reference, *, stride: int | None = None):
    """``ShuffleV2Block(inp, oup, stride)`` (torchvision's ShuffleNet v2 unit).

    ``oup`` is even (two branches of ``oup // 2``); with stride 1 the input has ``oup``
    channels, split in two halves.
    """
    s = stride or draw(st.sampled_from([1, 2]))
    oup = 2 * draw(st.integers(1, 6))
    inp = oup if s == 1 else draw(st.integers(1, 8))
    return _case("ShuffleV2Block", [inp, oup, s], {}, _small_input(draw, inp),
                 bound(reference, (inp, oup, s)),
                 "torchvision.models.shufflenetv2.InvertedResidual")
