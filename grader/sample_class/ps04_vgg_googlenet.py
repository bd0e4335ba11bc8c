"""Problem set 4's sample class: VGG and GoogLeNet."""
from . import mistake, three_students

BRANCH_ORDER = mistake("ps04_vgg_googlenet", "branch_order_swapped",
                       "Inception concatenates branch 2 before branch 1", "inception_answer",
                       ("[self.branch1(x), self.branch2(x),", "[self.branch2(x), self.branch1(x),"))
STUDENTS = three_students("cho_branches", BRANCH_ORDER)
