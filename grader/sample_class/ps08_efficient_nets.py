"""Problem set 8's sample class: Xception, MobileNet and ShuffleNet."""
from . import mistake, three_students

RELU6_AFTER_PROJECTION = mistake(
    "ps08_efficient_nets", "relu6_after_projection",
    "InvertedResidual: ReLU6 after the projection (no linear bottleneck)",
    "inverted_residual_answer",
    ("layers.append(nn.BatchNorm2d(oup))  # linear bottleneck: no activation",
     "layers.append(nn.BatchNorm2d(oup))\n        layers.append(nn.ReLU6(inplace=True))"))
STUDENTS = three_students("cho_relu6", RELU6_AFTER_PROJECTION)
