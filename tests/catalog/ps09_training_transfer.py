"""Problem set 9: mistakes real students make in training loops and transfer learning, and
other ways to be right.

``MUTANTS``: each must lose points, under pytest and under nbgrader.
``ALTERNATIVES``: correct answers written differently; each must get full marks.
Which check cells each one fails is measured and kept in ``snapshots/``.
"""
from __future__ import annotations

from pathlib import Path

from grader import notebook as nbio
from grader.sample_class import ps09_training_transfer as sample_class
from grader.submissions import Submission, mutate, solution_answers

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = nbio.read(ROOT / "solutions" / "ps09_training_transfer" / "training_transfer.ipynb")
ANSWERS = solution_answers(SOLUTION)
DROPOUT, TRAIN, EVALUATE = "dropout_answer", "train_one_epoch_answer", "evaluate_answer"
FREEZE, REPLACE, DIGITS = "freeze_features_answer", "replace_head_answer", "train_digits_answer"
REQUIRED = (30, 4)  # mutants, alternatives


def _m(name, about, cell, edits):
    """A mutant: ``edits`` is ``(old, new)`` or a list of them, applied in order to ``cell``."""
    answers = ANSWERS
    for old, new in [edits] if isinstance(edits, tuple) else edits:
        answers = mutate(answers, cell, old, new)
    return Submission(name, about, answers=answers)


def _replace(name, about, cell, source):
    return Submission(name, about, answers={**ANSWERS, cell: source})


# Hostile: no training, a table of scikit-learn's bundled digits (train and test) and their
# labels.  It scored full marks when the sandbox could read the file and the test images
# were the bundled ones, in order; now the file is hidden, and the graded images are noised.
_LOOKUP = '''
from sklearn.datasets import load_digits


class Lookup(nn.Module):
    """One-hot logits of the label stored for each image: a table, not a network."""

    def __init__(self, images, labels):
        super().__init__()
        self.table = {image.tobytes(): int(label) for image, label in zip(images, labels)}

    def forward(self, x):
        found = [self.table.get(image.numpy().tobytes(), 0) for image in x[:, 0]]
        return nn.functional.one_hot(torch.tensor(found), 10).float()


def train_digits(train_loader, epochs, device):
    bundled = load_digits()
    return Lookup((bundled.images / 16.0).astype("float32"), bundled.target)
'''


MUTANTS = [
    # --- what only another device, BatchNorm's statistics or counting passes shows ---
    _m("batch_left_on_cpu", "train_one_epoch never moves the batch to `device`", TRAIN,
       ("        images, labels = images.to(device), labels.to(device)\n", "")),
    _m("second_forward_for_accuracy", "train_one_epoch runs the model again to count the "
       "batch's correct predictions", TRAIN,
       ("        count += len(labels)\n", "        count += len(labels)\n"
        "        correct = (model(images).argmax(dim=1) == labels).sum().item()\n")),
    _m("head_on_cpu", "replace_head creates the new head on the CPU, whatever the model's "
       "device", REPLACE, ("new.to(old.weight.device)", "new")),
    # --- dropout ---
    _m("dropout_no_rescale", "dropout zeroes entries but does not divide the rest by 1 - p",
       DROPOUT, ("return x * keep / (1 - p)", "return x * keep")),
    _m("dropout_times_keep", "dropout multiplies by (1 - p) instead of dividing (the old "
       "test-time scaling, applied at training time)", DROPOUT,
       ("return x * keep / (1 - p)", "return x * keep * (1 - p)")),
    _m("dropout_p_keeps", "dropout treats p as the probability of keeping (TensorFlow 1's keep_prob)",
       DROPOUT, ("keep = torch.rand_like(x) >= p", "keep = torch.rand_like(x) < p")),
    _m("dropout_ignores_training", "dropout drops in eval mode too (training is ignored)",
       DROPOUT, ("if not training or p == 0:", "if p == 0:")),
    _m("dropout_p1_nan", "dropout divides by 1 - p = 0 when p = 1 (NaN)", DROPOUT,
       ("    if p == 1:\n        return torch.zeros_like(x)\n", "")),
    _m("dropout_in_place", "dropout scales its input in place (x *= mask) and returns it",
       DROPOUT, ("return x * keep / (1 - p)", "x *= keep / (1 - p)\n    return x")),
    _m("dropout_one_coin", "dropout draws one random number for the whole tensor: all or "
       "nothing", DROPOUT, ("keep = torch.rand_like(x) >= p", "keep = torch.rand(()) >= p")),
    _replace("dropout_calls_torch", "dropout calls torch.nn.functional.dropout", DROPOUT,
             "def dropout(x, p=0.5, training=True):\n"
             "    return torch.nn.functional.dropout(x, p, training)\n"),
    _m("dropout_no_validation", "dropout accepts p outside [0, 1]", DROPOUT,
       ('    if p < 0 or p > 1:\n        raise ValueError(f"dropout probability has to be '
        'between 0 and 1, but got {p}")\n', "")),
    # --- train_one_epoch ---
    _m("train_no_zero_grad", "train_one_epoch never zeroes the gradients: they accumulate",
       TRAIN, ("        optimizer.zero_grad()\n", "")),
    _m("train_no_train_mode", "train_one_epoch does not call model.train() (the model stays "
       "in eval mode after evaluate)", TRAIN, ("    model.train()\n", "")),
    _m("train_zero_grad_late", "train_one_epoch zeroes the gradients between backward() and "
       "step()", TRAIN,
       [("        optimizer.zero_grad()\n", ""),
        ("        loss.backward()\n", "        loss.backward()\n        optimizer.zero_grad()\n")]),
    _m("train_step_once", "train_one_epoch calls optimizer.step() once, after the loop", TRAIN,
       [("        optimizer.step()\n", ""), ("    return total / count",
                                             "    optimizer.step()\n    return total / count")]),
    _replace("train_imports_reference", "train_one_epoch imported from the grader's "
             "references instead of written", TRAIN,
             "from grader.references import train_one_epoch\n"),
    sample_class.BATCH_MEAN_LOSS,
    _m("train_last_loss", "train_one_epoch returns the last batch's loss", TRAIN,
       ("return total / count", "return loss.item()")),
    _m("train_tensor_total", "train_one_epoch sums loss tensors (keeping every graph) and "
       "returns a tensor", TRAIN, ("total += loss.item() * len(labels)",
                                   "total += loss * len(labels)")),
    _m("train_sum_loss", "train_one_epoch returns the summed loss, not the mean", TRAIN,
       ("return total / count", "return total")),
    # --- evaluate ---
    _m("eval_train_mode", "evaluate leaves the model in train mode", EVALUATE,
       ("    model.eval()\n", "")),
    _m("eval_with_grad", "evaluate builds the autograd graph (no torch.no_grad())", EVALUATE,
       [("    with torch.no_grad():\n", "    if True:\n")]),
    _m("eval_batch_mean", "evaluate averages per-batch accuracies", EVALUATE,
       [("correct += (model(images).argmax(dim=1) == labels).sum().item()",
         "correct += (model(images).argmax(dim=1) == labels).float().mean().item()"),
        ("count += len(labels)", "count += 1")]),
    _m("eval_len_loader", "evaluate divides by len(loader) * batch_size", EVALUATE,
       ("return correct / count", "return correct / (len(loader) * loader.batch_size)")),
    _m("eval_count", "evaluate returns the number of correct predictions", EVALUATE,
       ("return correct / count", "return correct")),
    _m("eval_tensor", "evaluate returns a tensor (no .item())", EVALUATE,
       ("== labels).sum().item()", "== labels).sum()")),
    _m("eval_argmax_batch_dim", "evaluate takes the argmax over the batch dimension", EVALUATE,
       ("argmax(dim=1)", "argmax(dim=0)")),
    _m("eval_percent", "evaluate returns a percentage", EVALUATE,
       ("return correct / count", "return 100 * correct / count")),
    # --- freeze_features ---
    # Freezing the head as well is harmless once replace_head puts a new, trainable head on:
    # such mutants fail freeze_features alone, not the recipe.
    _m("freeze_head_instead", "freeze_features freezes the head and trains the features", FREEZE,
       ("requires_grad_(name.startswith(head))", "requires_grad_(not name.startswith(head))")),
    _m("freeze_on_data", "freeze_features sets requires_grad on p.data, a copy", FREEZE,
       ("parameter.requires_grad_(name.startswith(head))",
        "parameter.data.requires_grad = name.startswith(head)")),
    _m("freeze_everything", "freeze_features freezes the head too", FREEZE,
       ("requires_grad_(name.startswith(head))", "requires_grad_(False)")),
    _replace("freeze_by_eval", "freeze_features calls model.eval() instead of freezing", FREEZE,
             "def freeze_features(model):\n    model.eval()\n    return model\n"),
    _replace("freeze_conv_weights", "freeze_features freezes only the convolution weights "
             "(biases and BatchNorm still learn)", FREEZE,
             "def freeze_features(model):\n    for m in model.modules():\n"
             "        if isinstance(m, nn.Conv2d):\n            m.weight.requires_grad_(False)\n"
             "    return model\n"),
    _m("freeze_hardcoded_fc", "freeze_features assumes the head is model.fc", FREEZE,
       ('head = head_name(model) + "."', 'head = "fc."')),
    _replace("freeze_all_but_last", "freeze_features freezes all parameters but the last one "
             "(the head's weight gets frozen)", FREEZE,
             "def freeze_features(model):\n    for p in list(model.parameters())[:-1]:\n"
             "        p.requires_grad_(False)\n    return model\n"),
    # --- replace_head ---
    _m("head_512_inputs", "replace_head hard-codes 512 input features (ResNet-18's)", REPLACE,
       ("nn.Linear(old.in_features, num_classes", "nn.Linear(512, num_classes")),
    _replace("head_always_fc", "replace_head always sets model.fc", REPLACE,
             "def replace_head(model, num_classes):\n"
             "    model.fc = nn.Linear(model.get_submodule(head_name(model)).in_features, "
             "num_classes)\n    return model\n"),
    _m("head_first_linear", "replace_head replaces the first nn.Linear, not the last", REPLACE,
       ("name = head_name(model)",
        "name = next(n for n, m in model.named_modules() if isinstance(m, nn.Linear))")),
    _m("head_appended", "replace_head appends a new layer after the old head", REPLACE,
       ("new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)",
        "new = nn.Sequential(old, nn.Linear(old.out_features, num_classes))")),
    _m("head_no_bias", "replace_head's new layer has no bias", REPLACE,
       ("bias=old.bias is not None", "bias=False")),
    _m("head_on_copy", "replace_head works on a copy of the model", REPLACE,
       ("    name = head_name(model)\n",
        "    import copy\n    model = copy.deepcopy(model)\n    name = head_name(model)\n")),
    _m("head_resets_everything", "replace_head re-initialises the whole model", REPLACE,
       ("    return model", "    for m in model.modules():\n        if hasattr(m, "
        "'reset_parameters'):\n            m.reset_parameters()\n    return model")),
    # --- train_digits ---
    _m("digits_untrained", "train_digits returns the model untrained", DIGITS,
       ("    for _ in range(epochs):\n", "    for _ in range(0):\n")),
    _m("digits_tiny_lr", "train_digits uses a learning rate 1000 times too small", DIGITS,
       ("lr=2e-3", "lr=2e-6")),
    _m("digits_one_epoch", "train_digits trains for one epoch, whatever `epochs` says", DIGITS,
       ("    for _ in range(epochs):\n", "    for _ in range(1):\n")),
    _m("digits_nine_classes", "train_digits' network has 9 outputs (digit 9 is never "
       "predicted)", DIGITS, ("nn.Linear(256, 10)", "nn.Linear(256, 9)")),
    _m("digits_plain_sgd", "train_digits uses plain SGD with Adam's learning rate", DIGITS,
       ("torch.optim.Adam(model.parameters(), lr=2e-3)",
        "torch.optim.SGD(model.parameters(), lr=2e-3)")),
    _m("digits_returns_loss", "train_digits returns the last epoch's loss, not the model",
       DIGITS, [("        train_one_epoch(model", "        loss = train_one_epoch(model"),
                ("    return model", "    return loss")]),
    _replace("digits_test_lookup", "train_digits trains nothing: its model looks each image "
             "up in scikit-learn's bundled digits and answers its label", DIGITS, _LOOKUP),
]

_BERNOULLI = '''
def dropout(x, p=0.5, training=True):
    """torch.bernoulli for the mask, and a multiplication by the precomputed scale."""
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if not training:
        return x
    if p == 1:
        return x * 0
    mask = torch.bernoulli(torch.full_like(x, 1 - p))
    return x * mask * (1.0 / (1 - p))
'''

_TRAIN_ALT = '''
def train_one_epoch(model, loader, optimizer, loss_fn, device):
    """Batches as tuples, model.zero_grad() after the step, len(loader.dataset) for the mean."""
    model.train()
    running = 0.0
    for batch in loader:
        inputs, targets = (t.to(device) for t in batch)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        model.zero_grad(set_to_none=True)
        running += float(loss) * inputs.size(0)
    return running / len(loader.dataset)
'''

_EVALUATE_ALT = '''
@torch.inference_mode()
def evaluate(model, loader, device):
    """torch.inference_mode as a decorator, and every prediction concatenated."""
    model.eval()
    predictions, targets = [], []
    for inputs, labels in loader:
        predictions.append(model(inputs.to(device)).argmax(1).cpu())
        targets.append(labels)
    return torch.cat(predictions).eq(torch.cat(targets)).double().mean().item()
'''

_FREEZE_ALT = '''
def freeze_features(model):
    """Freeze all, then unfreeze the head module."""
    model.requires_grad_(False)
    model.get_submodule(head_name(model)).requires_grad_(True)
    return model
'''

_REPLACE_ALT = '''
def replace_head(model, num_classes):
    """Walk to the parent module; index Sequentials by position."""
    *path, leaf = head_name(model).split(".")
    parent = model
    for part in path:
        parent = parent[int(part)] if part.isdigit() else getattr(parent, part)
    old = parent[int(leaf)] if leaf.isdigit() else getattr(parent, leaf)
    new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None,
                    device=old.weight.device)
    if leaf.isdigit():
        parent[int(leaf)] = new
    else:
        setattr(parent, leaf, new)
    return model
'''

_DIGITS_ALT = '''
class DigitsNet(nn.Module):
    """Conv-BN-ReLU blocks, global average pooling; SGD with momentum and OneCycle."""

    def __init__(self):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                                 nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

        self.body = nn.Sequential(block(1, 32), block(32, 64), nn.MaxPool2d(2),
                                  block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc(self.body(x))


def train_digits(train_loader, epochs, device):
    model = DigitsNet().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1,
                                                    total_steps=epochs * len(train_loader))

    for _ in range(epochs):
        model.train()
        for images, labels in train_loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(images.to(device)), labels.to(device)).backward()
            optimizer.step()
            scheduler.step()
    return model
'''

ALTERNATIVES = [
    Submission("alt_bernoulli_dropout", "dropout with torch.bernoulli; train_one_epoch with "
               "model.zero_grad after the step and len(loader.dataset)",
               answers={**ANSWERS, DROPOUT: _BERNOULLI, TRAIN: _TRAIN_ALT}),
    Submission("alt_inference_mode", "evaluate with torch.inference_mode and concatenated "
               "predictions", answers={**ANSWERS, EVALUATE: _EVALUATE_ALT}),
    Submission("alt_module_freeze", "freeze_features with requires_grad_ on modules; "
               "replace_head walking the path by hand",
               answers={**ANSWERS, FREEZE: _FREEZE_ALT, REPLACE: _REPLACE_ALT}),
    Submission("alt_bn_onecycle", "train_digits with a BatchNorm CNN, SGD and OneCycle, "
               "writing its own loop", answers={**ANSWERS, DIGITS: _DIGITS_ALT}),
]

#: entries that make a misconception of ``grader.misconceptions.ps09_training_transfer``, by id
DIAGNOSED = {
    "dropout_no_rescale": "dropout_no_rescale",
    "dropout_times_keep": "dropout_times_keep",
    "dropout_p_keeps": "dropout_p_keeps",
    "dropout_ignores_training": "dropout_ignores_training",
    "dropout_p1_nan": "dropout_divides_by_zero",
    "dropout_in_place": "dropout_in_place",
    "train_batch_mean_loss": "loss_batch_mean",
    "train_last_loss": "loss_last_batch",
    "train_sum_loss": "loss_summed",
    "eval_count": "accuracy_count",
    "eval_percent": "accuracy_percent",
    "eval_len_loader": "accuracy_len_loader",
    "eval_batch_mean": "accuracy_batch_mean",
    "second_forward_for_accuracy": "second_forward_pass",
    "train_no_zero_grad": "gradients_accumulate",
    "cho_batch_mean": "loss_batch_mean",  # the sample class, graded by nbgrader
}
