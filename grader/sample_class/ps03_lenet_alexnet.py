"""Problem set 3's sample class: LeNet-5 and AlexNet."""
from . import mistake, three_students

LRN_ALPHA = mistake("ps03_lenet_alexnet", "lrn_alpha_not_scaled",
                    "LRN with the paper's alpha=1e-4 passed to PyTorch as is",
                    "alexnet2012_answer", ("alpha=5e-4", "alpha=1e-4"))
STUDENTS = three_students("cho_lrn", LRN_ALPHA)
