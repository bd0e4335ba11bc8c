"""Problem set 9: training loops and transfer learning, offline on the real digits.

Students write ``dropout(x, p=0.5, training=True)`` from scratch (inverted
dropout, as ``torch.nn.functional.dropout``), ``train_one_epoch``,
``evaluate``, ``freeze_features``, ``replace_head`` and ``train_digits``.
These take models, loaders and optimizers, which cannot cross into the
grading process, so probes (``grader.probes``) hand the student's code
instrumented PyTorch objects in the sandbox and report what happened: the
mode of every forward pass, the gradients every ``optimizer.step()`` applied,
the loss of every batch.  The judges below compare those reports with the same
probe run on the reference idioms (``grader.references``).  Dropout is random,
so it is judged statistically, with bounds of six standard deviations: a
correct answer fails one with odds below one in a hundred million.

``train_digits`` is graded on what it learns, never on what it can read: the
grading process hands it the training digits and test images shuffled and
noised from the profile's seed (``grader.cases.OutcomeCase``), keeps their
labels, and the sandbox does not show scikit-learn's data files.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from . import lazy_problem_set

#: the graded outcome: test accuracy on the digits' 300 held-out images
TARGET_ACCURACY = 0.97
OUTCOME_EPOCHS = 15
#: seconds the grader gives train_digits (the solution takes about 10 on one CPU thread)
OUTCOME_TIMEOUT = 150.0
#: torchvision's resnet18, for the quiz (asserted in tests/test_models.py)
RESNET18_PARAMS = 11_689_512


# --- dropout ---------------------------------------------------------------------------


def six_sigma(p: float, n: int) -> float:
    """How far the kept fraction of n Bernoulli(1 - p) draws may stray: six standard
    deviations, plus one draw."""
    return 6 * math.sqrt(p * (1 - p) / n) + 1 / n


def _same_array(out, x) -> str | None:
    if out.shape != x.shape or out.dtype != x.dtype:
        return (f"it returned a tensor of shape {out.shape} and dtype {out.dtype}; the input "
                f"has shape {x.shape} and dtype {x.dtype}, and so must the output.")
    return None


def _dropout_training(case, got) -> str | None:
    x, p = case.x(), case.p
    if got["input_changed"]:
        return ("it changed its input x in place. Return a new tensor (x * mask / (1 - p)) "
                "and leave x as it was: the caller may still need it.")
    for out in got["outs"]:
        problem = _same_array(out, x)
        if problem:
            return problem
    out = got["outs"][0]
    dropped = out == 0
    kept = ~dropped
    rtol = 1e-12 if x.dtype == np.float64 else 1e-5
    scaled = x / (1 - p)
    if not np.allclose(out[kept], scaled[kept], rtol=rtol, atol=0):
        factor = float(np.median(out[kept] / x[kept])) if kept.any() else float("nan")
        return (f"the values it keeps are x times {factor:.6g}. Inverted dropout keeps x / (1 - p)"
                f" = x times {1 / (1 - p):.6g}, so that the expected value stays x and nothing "
                "needs rescaling in eval mode.")
    n = out.size
    fraction = float(dropped.mean())
    tol = six_sigma(p, n)
    if abs(fraction - p) > tol:
        return (f"it zeroed {fraction:.2%} of the {n:,} entries; with p = {p} that must be "
                f"{p:.2%} (within {tol:.2%}).")
    ratio = float(out.mean() / x.mean())
    sigma = math.sqrt(float((x.astype(np.float64) ** 2).mean()) * p / (1 - p) / n) / float(
        x.mean())
    if abs(ratio - 1) > 6 * sigma + 1e-6:
        return (f"the mean of the output is {ratio:.4f} times the mean of x; dropout must keep "
                f"the expected value (a ratio of 1 within {6 * sigma:.4f}).")
    flat = dropped.reshape(-1)
    for name, parts in (("positions", np.array_split(flat, 8)),
                        ("values", [flat[x.reshape(-1) < np.median(x)],
                                    flat[x.reshape(-1) >= np.median(x)]])):
        for part in parts:
            if abs(float(part.mean()) - p) > six_sigma(p, part.size):
                return (f"the entries it zeroes depend on their {name}: in one part of the "
                        f"input it zeroed {float(part.mean()):.2%}, where about {p:.0%} is "
                        "expected everywhere. Each entry must be dropped independently, with "
                        "probability p (draw one random number per entry).")
    if 0 < p < 1 and np.array_equal(got["outs"][0] == 0, got["outs"][1] == 0):
        return ("two calls dropped exactly the same entries. Draw a fresh random mask on every "
                "call (torch.rand_like(x) or torch.bernoulli), not a fixed one.")
    return None


def _dropout_modes(case, got) -> str | None:
    x = case.x()
    if got["input_changed"]:
        return "it changed its input x in place; return a new tensor and leave x as it was."
    for out in got["outs"]:
        problem = _same_array(out, x)
        if problem:
            return problem
        if case.p == 1 and case.training:
            if not np.isfinite(out).all():
                return ("the output has NaN or infinite values. With p = 1 every entry is "
                        "dropped: return zeros, without dividing by 1 - p = 0.")
            if (out != 0).any():
                return "with p = 1 every entry must be dropped (all zeros)."
        elif not np.array_equal(out, x):
            why = ("in eval mode (training=False) dropout is the identity: return x unchanged."
                   if not case.training else
                   "with p = 0 nothing is dropped and 1 / (1 - p) = 1: return x unchanged.")
            return why + " (Inverted dropout did all its scaling during training.)"
    return None


# --- train_one_epoch and evaluate --------------------------------------------------------


@functools.lru_cache(maxsize=256)
def reference_report(case):
    """The probe's report for the reference idioms on ``case`` (cached per grading process)."""
    from .. import probes
    from .. import references as R
    from ..cases import LoaderCase

    spec = case.spec()
    if isinstance(case, LoaderCase):
        fn = spec.pop("fn")
        run = probes.train_epoch if case.kind == "train" else probes.evaluate_call
        return run(R.TRAINING, fn, **spec)
    return probes.transfer(R.TRAINING, **spec)


def _not_a_float(r: dict, what: str) -> str | None:
    if "tensor" in r:
        graph = (" that still holds the autograd graph (every batch's graph stays in memory)"
                 if r["grad"] else "")
        return (f"it returned a tensor of shape {tuple(r['tensor'])}{graph}. Return {what} as a "
                "Python float: accumulate loss.item() or (...).sum().item().")
    value = r["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return f"it must return {what} as a float, but returned {value!r:.100}."
    return None


def _modes(log: list, want_training: bool, what: str) -> str | None:
    if not log:
        return "it never called the model."
    wrong = sum(1 for training, _, _ in log if training != want_training)
    if wrong:
        if want_training:
            return (f"{wrong} of {len(log)} forward passes ran in eval mode. Call model.train() "
                    f"at the start of {what}: the grader hands the model over in eval mode, as "
                    "evaluate() leaves it, and BatchNorm and dropout must behave as in training.")
        return (f"{wrong} of {len(log)} forward passes ran in train mode. Call model.eval() in "
                f"{what}: in train mode BatchNorm uses the batch's own statistics (and updates "
                "its running ones) and dropout drops, so the accuracy is wrong and random.")
    return None


def _first_difference(mine: list, theirs: list) -> str:
    for i, (a, b) in enumerate(zip(mine, theirs)):
        if not np.allclose(a, b, rtol=1e-9, atol=1e-12):
            j = np.unravel_index(np.argmax(np.abs(a - b)), a.shape) if a.ndim else ()
            return (f"parameter #{i} (shape {a.shape}) at index {tuple(int(v) for v in j)}: "
                    f"expected {b[j]:.10g}, yours {a[j]:.10g}")
    return "none"


def _moved(got, case, labels: bool = True) -> str | None:
    """Each batch's inputs, and its labels where the loss needs them, go to ``device`` (the
    probes' spy device).  Evaluation may as well bring the predictions back instead."""
    n = len(case.batches())
    kinds = [("inputs", lambda shape, dtype: len(shape) == 2 and "float" in dtype)]
    if labels:
        kinds.append(("labels", lambda shape, dtype: len(shape) == 1 and dtype == "int64"))
    for what, kind in kinds:
        moved = sum(1 for shape, dtype in got["moved"] if kind(shape, dtype))
        if moved < n:
            return (f"the {what} of {n - moved} of the {n} batches never moved to `device`: "
                    f"write `images, labels = images.to(device), labels.to(device)` in the loop. "
                    "On a GPU the model would get tensors from the wrong device.")
    return None


def _train_updates(case, got) -> str | None:
    problem = _modes(got["log"], True, "train_one_epoch") or _moved(got, case)
    if problem:
        return problem
    want = reference_report(case)
    steps, expected = got["applied"], want["applied"]
    sizes = case.batches()
    if len(got["log"]) != len(want["log"]):
        return (f"it ran the model {len(got['log'])} times for {len(sizes)} batches: one forward "
                "pass per batch. Reuse the output for anything else you compute; in train mode "
                "every pass also updates BatchNorm's running statistics.")
    if not steps:
        return "it never called optimizer.step(), so the model does not learn."
    if len(steps) != len(expected):
        return (f"it called optimizer.step() {len(steps)} times for {len(expected)} batches: "
                "take one step per batch.")
    for i, (mine, theirs) in enumerate(zip(steps, expected)):
        step = f"at optimizer.step() number {i + 1} (a batch of {sizes[i]})"
        if any(g is None for g in mine) or all(not g.any() for g in mine):
            return (f"{step} the parameters have no gradients. Call loss.backward() before "
                    "optimizer.step(), and optimizer.zero_grad() before loss.backward(), not "
                    "between backward() and step().")
        if all(np.allclose(a, b, rtol=1e-9, atol=1e-12) for a, b in zip(mine, theirs)):
            continue
        return (f"{step} the gradients are not those of this batch's loss; first difference: "
                f"{_first_difference(mine, theirs)}.")
    if not all(np.allclose(a, b, rtol=1e-9, atol=1e-12)
               for a, b in zip(got["params"], want["params"])):
        return ("after the epoch the parameters are not what one SGD step per batch gives; "
                f"first difference: {_first_difference(got['params'], want['params'])}.")
    if not all(np.allclose(a, b, rtol=1e-9, atol=1e-12)
               for a, b in zip(got["buffers"], want["buffers"])):
        return ("after the epoch BatchNorm's running statistics are not the reference loop's; "
                f"first difference: {_first_difference(got['buffers'], want['buffers'])}.")
    return None


def _train_loss(case, got) -> str | None:
    problem = _not_a_float(got["returned"], "the mean loss")
    if problem:
        return problem
    value = float(got["returned"]["value"])
    losses = got["losses"]
    if not losses:
        return "it never called loss_fn."
    n = sum(size for _, size in losses)
    mean = sum(loss * size for loss, size in losses) / n
    if math.isclose(value, mean, rel_tol=1e-9, abs_tol=1e-12):
        return None
    return (f"it returned {value:.10g}; the mean loss per sample over the epoch (from the "
            f"losses your loop computed) is {mean:.10g}.")


def _evaluate_modes(case, got) -> str | None:
    problem = _modes(got["log"], False, "evaluate") or _moved(got, case, labels=False)
    if problem:
        return problem
    graphs = sum(1 for _, grad, _ in got["log"] if grad)
    if graphs:
        return (f"{graphs} of {len(got['log'])} forward passes built an autograd graph. Wrap "
                "the loop in `with torch.no_grad():` (or torch.inference_mode()): evaluation "
                "needs no gradients, and the graphs cost memory and time.")
    return None


def _evaluate_accuracy(case, got) -> str | None:
    problem = _not_a_float(got["returned"], "the accuracy")
    if problem:
        return problem
    value = float(got["returned"]["value"])
    want = reference_report(case)["returned"]["value"]
    if math.isclose(value, want, rel_tol=1e-12, abs_tol=1e-12):
        return None
    correct = round(want * case.n)
    return f"it returned {value:.10g}; the accuracy is {correct}/{case.n} = {want:.10g}."


# --- freeze_features and replace_head ----------------------------------------------------


def _names(names) -> str:
    names = sorted(names)
    return ", ".join(f"`{n}`" for n in names[:6]) + (f" and {len(names) - 6} more"
                                                    if len(names) > 6 else "")


def _transfer(case, got) -> str | None:
    want = reference_report(case)
    head = [n for n, trainable in want["requires_grad"].items() if trainable]
    for fn, same in got["returned_same"].items():
        if not same:
            return (f"{fn} must change the model it is given in place and return that same "
                    "model (as model.requires_grad_() and model.to() do), not a copy or None.")
    if case.replace:
        mine, theirs = got["keys_after"], want["keys_after"]
        if mine != theirs:
            extra = set(mine) - set(theirs)
            missing = set(theirs) - set(mine)
            shapes = [f"`{n}` {tuple(mine[n])} (expected {tuple(theirs[n])})"
                      for n in set(mine) & set(theirs) if mine[n] != theirs[n]]
            parts = ([f"new entries {_names(extra)}"] if extra else []) + \
                ([f"missing {_names(missing)}"] if missing else []) + \
                ([f"wrong shapes: {', '.join(sorted(shapes)[:4])}"] if shapes else [])
            return ("after replace_head the state_dict should have the same names as before, "
                    f"with only the head resized to {case.num_classes} classes; instead: "
                    f"{'; '.join(parts)}. Replace the last nn.Linear where it sits, with the "
                    "same in_features (and a bias if it had one).")
        if got["devices"] != want["devices"]:
            return ("with the model on another device (here the meta device), your new head "
                    f"ends up on {' and '.join(got['devices'])}: create it where the old head is, "
                    "`nn.Linear(...).to(old.weight.device)`, or the next forward pass fails.")
        if got["out_shape"] != want["out_shape"]:
            return (f"the model's output has shape {got['out_shape']}, not "
                    f"{want['out_shape']}: forward() must use the new head.")
        touched = set(want["unchanged"]) - set(got["unchanged"])
        if touched:
            return (f"replace_head changed layers other than the head: {_names(touched)}. Keep "
                    "the (pretrained) features exactly as they are.")
    mine = got["requires_grad"]
    trainable = {n for n, v in mine.items() if v and not want["requires_grad"].get(n, True)}
    frozen = {n for n, v in mine.items() if not v and want["requires_grad"].get(n, False)}
    if frozen:
        return (f"these parameters of the head are frozen (requires_grad=False): "
                f"{_names(frozen)}. The head is the part that must learn.")
    if trainable:
        return (f"these parameters still require gradients: {_names(trainable)}. Only the head "
                f"({_names(head)}) may; set requires_grad = False on the parameters themselves "
                "(p.requires_grad_(False)), not on a copy such as p.data or p.detach().")
    changed, expected = set(got["changed_by_step"]), set(want["changed_by_step"])
    if changed != expected:
        return (f"one SGD step over model.parameters() changed {_names(changed) or 'nothing'}; "
                f"only the head ({_names(expected)}) may change.")
    return None


# --- the outcome -------------------------------------------------------------------------


def _outcome(case, got) -> str | None:
    _, labels = case.test_set()
    predicted = np.asarray(got["predicted"])
    if predicted.shape != labels.shape:
        return (f"the model gave {predicted.shape[0] if predicted.ndim else 0} predictions for "
                f"{labels.size} test images: it must map (N, 1, 8, 8) images to (N, 10) logits.")
    right = int((predicted == labels).sum())
    accuracy = right / labels.size
    if accuracy >= TARGET_ACCURACY:
        return None
    pairs = {}
    for t, q in zip(labels, predicted):
        if t != q:
            pairs[(int(t), int(q))] = pairs.get((int(t), int(q)), 0) + 1
    worst = ", ".join(f"{t} taken for {q} ({k}x)" for (t, q), k in
                      sorted(pairs.items(), key=lambda kv: -kv[1])[:3])
    return (f"the trained model classifies {right} of {labels.size} test digits correctly "
            f"({accuracy:.1%}); at least {TARGET_ACCURACY:.0%} is needed. Most frequent "
            f"mistakes: {worst}. Training took {got['seconds']:.1f} s.")


def build():
    """The problem set.  Built on first use: torch and Hypothesis load only then."""
    from .. import strategies as S
    from ..cases import DropoutCase, HeadCase, LoaderCase, OutcomeCase
    from ..checks import ProbeCheck, ProblemSet, ValueCheck
    from ..shortcuts import Rules

    rules = Rules(
        modules=("grader",), allowed=("grader.data",),
        functions=("torch.nn.functional.dropout", "torch.dropout", "torch.nn.functional.dropout1d",
                   "torch.nn.functional.dropout2d", "torch.nn.functional.dropout3d",
                   "torch.nn.functional.alpha_dropout",
                   "torch.nn.functional.feature_alpha_dropout"),
        why="this problem set asks you to write these yourself: dropout from tensor operations, "
            "the loops and the transfer steps from PyTorch's own pieces",
        scoped=True)
    D, L, H = DropoutCase, LoaderCase, HeadCase
    few = {"quick": 8, "thorough": 20}
    some = {"quick": 15, "thorough": 40}

    def heads(freeze, replace, real=False):
        """Every head layout once; ``real`` adds torchvision's resnet18 and mobilenet_v2."""
        small = [H(layout, width=6, classes=7, seed=i, freeze=freeze, replace=replace,
                   num_classes=3) for i, layout in enumerate(("fc", "classifier",
                                                               "classifier_seq", "head_fc"))]
        return small + [H(layout, classes=10, freeze=freeze, replace=replace, num_classes=5)
                        for layout in (("resnet18", "mobilenet_v2") if real else ())]

    checks = [
        ProbeCheck("dropout_training", "dropout in training mode zeroes about p of the entries "
                   "and scales the rest by 1/(1-p)", functions=("dropout",),
                   probe="dropout_call", strategy=S.dropout_cases(),
                   examples=[D((64, 512), 0.2, seed=1), D((10, 3, 32, 32), 0.5, dtype="float32")],
                   max_examples=few, judge=_dropout_training, with_rules=True),
        ProbeCheck("dropout_modes", "dropout is the identity in eval mode and for p=0, gives "
                   "zeros for p=1 and refuses p outside [0, 1]", functions=("dropout",),
                   probe="dropout_call", judge=_dropout_modes, with_rules=True,
                   examples=[D((64, 512), 0.5, training=False), D((64, 512), 0.0),
                             D((64, 512), 1.0), D((16, 8), 1.5, raises="ValueError"),
                             D((16, 8), -0.1, raises="ValueError")]),
        ProbeCheck("train_one_epoch_updates", "train_one_epoch: train mode, batches on the "
                   "device, one pass and one step per batch with that batch's gradients",
                   functions=("train_one_epoch",),
                   probe="train_epoch", strategy=S.loader_cases("train"),
                   examples=[L("train", 10, 4)], max_examples=some, judge=_train_updates),
        ProbeCheck("train_one_epoch_loss", "train_one_epoch returns the mean loss per sample",
                   functions=("train_one_epoch",), probe="train_epoch",
                   strategy=S.loader_cases("train"), examples=[L("train", 10, 4)],
                   max_examples=few, judge=_train_loss),
        ProbeCheck("evaluate_modes", "evaluate: eval mode, batches on the device, no "
                   "autograd graph", functions=("evaluate",), probe="evaluate_call",
                   strategy=S.loader_cases("evaluate"), examples=[L("evaluate", 10, 4)],
                   max_examples=few, judge=_evaluate_modes),
        ProbeCheck("evaluate_accuracy", "evaluate returns the exact accuracy over all samples",
                   functions=("evaluate",), probe="evaluate_call",
                   strategy=S.loader_cases("evaluate"), examples=[L("evaluate", 10, 4)],
                   max_examples=some, judge=_evaluate_accuracy),
        ProbeCheck("freeze_features", "after freeze_features only the head requires gradients "
                   "and a step changes only the head", functions=("freeze_features",),
                   probe="transfer", strategy=S.head_cases(freeze=True, replace=False),
                   examples=heads(True, False), max_examples=few, judge=_transfer),
        ProbeCheck("replace_head", "replace_head swaps the last nn.Linear for a new one with "
                   "num_classes outputs", functions=("replace_head",), probe="transfer",
                   strategy=S.head_cases(freeze=False, replace=True),
                   examples=heads(False, True), max_examples=few, judge=_transfer),
        ProbeCheck("transfer_recipe", "freeze_features then replace_head: only the new head "
                   "learns", functions=("freeze_features", "replace_head"), probe="transfer",
                   strategy=S.head_cases(freeze=True, replace=True),
                   examples=heads(True, True, real=True), max_examples=few, judge=_transfer),
        ProbeCheck("digits_accuracy", f"train_digits reaches {TARGET_ACCURACY:.0%} test accuracy "
                   "on the digits", functions=("train_digits",), probe="train_outcome",
                   examples=[OutcomeCase(OUTCOME_EPOCHS)], judge=_outcome,
                   timeout=OUTCOME_TIMEOUT, seeded=True),
        ValueCheck("quiz_training", "quiz: steps, flattened features, trainable parameters",
                   answers={"quiz_steps_per_epoch": lambda: math.ceil(1197 / 32),
                            "quiz_flatten_features": lambda: 20 * 5 * 5,
                            "quiz_trainable_after_freeze": lambda: 512 * 10 + 10},
                   hints={"quiz_steps_per_epoch": "one step per batch; the last batch is "
                          "smaller, not dropped.",
                          "quiz_flatten_features": "28 -> conv 3x3 -> pool 2 -> conv 3x3 -> "
                          "pool 2, times the channels.",
                          "quiz_trainable_after_freeze": "only the new nn.Linear(512, 10) "
                          "learns: weights and biases."}),
    ]
    # The test digits' labels are graded: the sandbox must not read them from scikit-learn.
    return ProblemSet("ps09_training_transfer", "training_transfer.ipynb", checks, rules,
                      call_timeout=30.0,
                      sandbox_hides=("sklearn/datasets/data", "sklearn/datasets/images"))


check, progress, __getattr__ = lazy_problem_set(__name__, build)
