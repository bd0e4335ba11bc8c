"""Problem set 6's sample class: DenseNet and DPN."""
from . import mistake, three_students

ADDS_LIKE_RESNET = mistake(
    "ps06_densenet_dpn", "adds_like_resnet",
    "DenseBlock: each layer's maps are added to its input, as in ResNet", "dense_block_answer",
    ("features.append(layer(torch.cat(features, 1)))\n        return torch.cat(features, 1)",
     "x = x + layer(x)\n        return x"))
STUDENTS = three_students("cho_adds", ADDS_LIKE_RESNET)
