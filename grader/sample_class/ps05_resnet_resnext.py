"""Problem set 5's sample class: ResNet and ResNeXt."""
from . import mistake, three_students

RELU_BEFORE_ADD = mistake("ps05_resnet_resnext", "relu_before_add",
                          "BasicBlock: ReLU on the residual branch, before the addition",
                          "basic_block_answer",
                          ("return self.relu(out + identity)", "return self.relu(out) + identity"))
STUDENTS = three_students("cho_relu", RELU_BEFORE_ADD)
