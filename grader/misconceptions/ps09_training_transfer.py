"""Problem set 9: the mistakes of dropout and of training and evaluation loops.

The evidence is what the probes recorded (``grader.probes``): dropout's outputs,
the losses the loop computed, the gradients at each optimizer step, the forward
passes.  Each ``fits`` says whether a report is exactly what the mistake gives.
"""
from __future__ import annotations

import math

import numpy as np

from ..problems.ps09_training_transfer import reference_report, six_sigma
from . import WrongFacts


# --- dropout --------------------------------------------------------------------------


def _dropout(*, scale=lambda p: 1 / (1 - p), kept=lambda p: 1 - p, in_eval=False,
             p1=lambda out: not out.any(), in_place=False):
    """``fits`` for a dropout that keeps a ``kept(p)`` fraction of the entries, times
    ``scale(p)``; that also drops in eval mode (``in_eval``); whose output for p = 1
    passes ``p1``; that changes its input (``in_place``) whenever it scales."""
    def fits(case, got) -> bool:
        x, p = case.x(), case.p
        drops = p > 0 and (case.training or in_eval)
        if got["input_changed"] != (in_place and drops and p < 1):
            return False
        rtol = 1e-12 if x.dtype == np.float64 else 1e-5
        # the probe calls dropout twice on one tensor: in place, the second call sees the first's
        for out in got["outs"][:1] if in_place else got["outs"]:
            if out.shape != x.shape:
                return False
            if not drops:
                ok = np.array_equal(out, x)
            elif p == 1:
                ok = p1(out)
            else:
                keep = out != 0
                n = out.size
                ok = (np.allclose(out[keep], x[keep] * scale(p), rtol=rtol, atol=0) and
                      abs(float(keep.mean()) - kept(p)) <= six_sigma(p, n))
            if not ok:
                return False
        return True
    return fits


DROPOUT = ("dropout_training", "dropout_modes")

# --- train_one_epoch and evaluate --------------------------------------------------------


def _returned(got) -> float | None:
    value = got["returned"].get("value")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def _loss(of) -> callable:
    """``fits`` for a loop that returns ``of(losses, sizes)`` of its batch losses."""
    def fits(case, got) -> bool:
        value, losses = _returned(got), got["losses"]
        if value is None or not losses:
            return False
        return math.isclose(value, of([loss for loss, _ in losses], [n for _, n in losses]),
                            rel_tol=1e-9, abs_tol=1e-12)
    return fits


def _batch_accuracies(case) -> list[float]:
    """Each batch's accuracy, for the evaluation probe's network (in eval mode)."""
    import torch

    from .. import probes
    spec = case.spec()
    probes.seed_all(0)
    model = probes.spy_net(spec["net"]).eval()
    with torch.no_grad():
        return [float((model(x).argmax(dim=1) == y).double().mean())
                for x, y in probes.loader(spec["x"], spec["y"], spec["batch_size"])]


def _accuracy(of) -> callable:
    """``fits`` for an evaluation that returns ``of(accuracy, correct, case)``."""
    def fits(case, got) -> bool:
        value = _returned(got)
        want = reference_report(case)["returned"]["value"]
        return value is not None and math.isclose(value, of(want, round(want * case.n), case),
                                                  rel_tol=1e-12, abs_tol=1e-12)
    return fits


def _batch_mean_accuracy(want, correct, case) -> float:
    accuracies = _batch_accuracies(case)
    sizes = case.batches()
    if round(sum(a * n for a, n in zip(accuracies, sizes))) != correct:
        return math.nan  # not the probe's network after all: say nothing
    return sum(accuracies) / len(accuracies)


def _passes_twice(case, got) -> bool:
    return len(got["log"]) == 2 * len(reference_report(case)["log"])


def _gradients_accumulate(case, got) -> bool:
    """At the first step that differs from the reference loop's, the gradients are the sum
    of this batch's and every earlier batch's (later steps start from other parameters)."""
    steps, expected = got["applied"], reference_report(case)["applied"]

    def same(mine, theirs) -> bool:
        return all(a is not None and np.allclose(a, b, rtol=1e-9, atol=1e-12)
                   for a, b in zip(mine, theirs))
    for i, mine in enumerate(steps[:len(expected)]):
        if not same(mine, expected[i]):
            return i > 0 and same(mine, [sum(e[k] for e in expected[:i + 1])
                                         for k in range(len(mine))])
    return len(steps) == len(expected) and len(steps) < 2  # one batch: nothing accumulates


MISCONCEPTIONS = [
    WrongFacts(
        "dropout_no_rescale", "dropout without the 1/(1-p) rescaling", DROPOUT,
        "Inverted dropout divides what it keeps by 1 - p during training, so that the "
        "expected value stays x and evaluation needs no scaling. Reread lecture 11, §2.1.",
        fits=_dropout(scale=lambda p: 1.0)),
    WrongFacts(
        "dropout_times_keep", "dropout multiplies by (1 - p) instead of dividing", DROPOUT,
        "Multiplying by 1 - p is the original paper's test-time scaling; inverted dropout "
        "divides by 1 - p at training time instead. Reread lecture 11, §2.1.",
        fits=_dropout(scale=lambda p: 1 - p)),
    WrongFacts(
        "dropout_p_keeps", "p taken as the probability of keeping", DROPOUT,
        "In PyTorch p is the probability of an element being zeroed (TensorFlow 1's "
        "keep_prob was the opposite). Reread lecture 11, §2.1.",
        fits=_dropout(kept=lambda p: p)),
    WrongFacts(
        "dropout_ignores_training", "dropout also drops in eval mode", DROPOUT,
        "With training=False dropout is the identity: return x unchanged. Reread "
        "lecture 11, §2.1.", fits=_dropout(in_eval=True)),
    WrongFacts(
        "dropout_divides_by_zero", "p = 1 divided by 1 - p = 0", DROPOUT,
        "With p = 1 every entry is dropped: return zeros, without dividing by 1 - p = 0 "
        "(0/0 is NaN). Reread lecture 11, §2.1.",
        fits=_dropout(p1=lambda out: bool(np.isnan(out).all()))),
    WrongFacts(
        "dropout_in_place", "dropout scales its input in place", DROPOUT,
        "`x *= mask` changes the caller's tensor (and breaks autograd); return a new tensor. "
        "Reread lecture 11, §2.1.", fits=_dropout(in_place=True)),
    WrongFacts(
        "loss_batch_mean", "the mean of the batch losses, over unequal batches",
        ("train_one_epoch_loss",),
        "The last batch is smaller, so the batch losses weigh unequally: sum "
        "loss.item() * len(labels) and divide by the number of samples. Reread lecture 11, "
        "§1.4.", fits=_loss(lambda losses, sizes: sum(losses) / len(losses))),
    WrongFacts(
        "loss_last_batch", "the loss of the last batch only", ("train_one_epoch_loss",),
        "Accumulate every batch's loss over the epoch, not just the last one. Reread "
        "lecture 11, §1.4.", fits=_loss(lambda losses, sizes: losses[-1])),
    WrongFacts(
        "loss_summed", "the summed loss, not the mean", ("train_one_epoch_loss",),
        "Divide the summed loss by the number of samples. Reread lecture 11, §1.4.",
        fits=_loss(lambda losses, sizes: sum(a * n for a, n in zip(losses, sizes)))),
    WrongFacts(
        "accuracy_count", "the number of correct predictions, not the accuracy",
        ("evaluate_accuracy",),
        "Divide the correct predictions by the number of samples. Reread lecture 11, §1.4.",
        fits=_accuracy(lambda want, correct, case: correct)),
    WrongFacts(
        "accuracy_percent", "a percentage, not a fraction", ("evaluate_accuracy",),
        "Return a fraction in [0, 1]. Reread lecture 11, §1.4.",
        fits=_accuracy(lambda want, correct, case: 100 * want)),
    WrongFacts(
        "accuracy_len_loader", "divided by len(loader) * batch_size", ("evaluate_accuracy",),
        "The last batch is smaller: count the samples (or use len(loader.dataset)). Reread "
        "lecture 11, §1.4.", fits=_accuracy(
            lambda want, correct, case: correct / (len(case.batches()) * case.batch_size))),
    WrongFacts(
        "accuracy_batch_mean", "the mean of per-batch accuracies", ("evaluate_accuracy",),
        "The last batch is smaller, so per-batch accuracies weigh unequally: count correct "
        "predictions and samples over the whole loader. Reread lecture 11, §1.4.",
        fits=_accuracy(_batch_mean_accuracy)),
    WrongFacts(
        "second_forward_pass", "a second forward pass per batch", ("train_one_epoch_updates",),
        "Reuse the output of the one forward pass for anything else you compute (the "
        "accuracy, say): in train mode every pass also updates BatchNorm's running "
        "statistics. Reread lecture 11, §2.2.", fits=_passes_twice),
    WrongFacts(
        "gradients_accumulate", "the gradients are never zeroed, so they accumulate",
        ("train_one_epoch_updates",),
        "loss.backward() adds to .grad: call optimizer.zero_grad() once per batch, before "
        "loss.backward(). Reread lecture 11, §1.4.", fits=_gradients_accumulate),
]
