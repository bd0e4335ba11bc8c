"""Models the course needs that torchvision does not ship, one file per family.

* faithful versions of the papers where torchvision's common implementation
  differs (LeNet-5 with its sparse C3 table, AlexNet with LRN and two "GPU"
  groups);
* small variants of every architecture of lectures 5-7 for 28x28 or 32x32
  inputs, which train on a CPU in minutes (the training lab uses them).

The grader's references for ImageNet-size models are torchvision's own,
built with ``weights=None`` (see ``grader.references``).
"""
from .alexnet import AlexNetPaper, alexnet_small
from .googlenet import googlenet_small
from .lenet import C3_TABLE, LeNet5, LeNet5Paper, SparseConv2d, Subsampling
from .resnet import resnet_small, resnext_small
from .vgg import vgg_small

SMALL = {
    "lenet5": LeNet5,
    "alexnet_small": alexnet_small,
    "vgg_small": vgg_small,
    "googlenet_small": googlenet_small,
    "resnet_small": resnet_small,
    "resnext_small": resnext_small,
}

__all__ = ["AlexNetPaper", "C3_TABLE", "LeNet5", "LeNet5Paper", "SMALL", "SparseConv2d",
           "Subsampling", "alexnet_small", "googlenet_small", "resnet_small", "resnext_small",
           "vgg_small"]
