"""AlexNet: Krizhevsky, Sutskever & Hinton, "ImageNet classification with deep
convolutional neural networks", NeurIPS 2012.

torchvision's ``alexnet`` follows the later one-GPU variant ("One weird trick",
Krizhevsky 2014): 64/192/384/256/256 channels, no LRN, no groups, 61,100,840
parameters.  ``AlexNetPaper`` is the 2012 network: 96/256/384/384/256
channels, LRN after the first two convolutions, and convolutions 2, 4 and 5
split over two GPUs (``groups=2``): 60,965,224 parameters.  Its input is
227x227: with 224 the first layer's arithmetic, (224 - 11)/4 + 1 = 54.25, is
not an integer.
"""
from __future__ import annotations

from torch import nn


def lrn():
    # Section 3.3: k=2, n=5, alpha=1e-4, beta=0.75.  PyTorch divides alpha by
    # the window size, so the paper's alpha is alpha * n here.
    return nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)


class AlexNetPaper(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4), nn.ReLU(inplace=True), lrn(),
            nn.MaxPool2d(kernel_size=3, stride=2),                       # overlapping pooling
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2), nn.ReLU(inplace=True), lrn(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),  # crosses GPUs
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def alexnet_small(num_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """AlexNet's recipe (ReLU, overlapping max pooling, LRN, dropout) at 32x32."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, kernel_size=5, padding=2), nn.ReLU(inplace=True), lrn(),
        nn.MaxPool2d(kernel_size=3, stride=2),                                 # 15x15
        nn.Conv2d(32, 64, kernel_size=3, padding=1, groups=2), nn.ReLU(inplace=True), lrn(),
        nn.MaxPool2d(kernel_size=3, stride=2),                                 # 7x7
        nn.Conv2d(64, 96, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(96, 64, kernel_size=3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),                                 # 3x3
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * 3 * 3, 256), nn.ReLU(inplace=True),
        nn.Dropout(0.5), nn.Linear(256, num_classes),
    )
