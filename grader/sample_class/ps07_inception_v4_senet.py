"""Problem set 7's sample class: Inception-v4 and SENet."""
from . import mistake, three_students

SE_AFTER_ADDITION = mistake(
    "ps07_inception_v4_senet", "se_after_addition",
    "SEBottleneck: the SE block rescales the sum, shortcut included", "se_bottleneck_answer",
    ("return self.relu(self.se_module(out) + shortcut)",
     "return self.relu(self.se_module(out + shortcut))"))
STUDENTS = three_students("cho_se_sum", SE_AFTER_ADDITION)
