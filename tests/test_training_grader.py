"""The machinery behind problem set 9: the training probes, their references, the
statistical dropout judge and the scoped shortcut rules."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from hypothesis import given, settings
from torch import nn

from grader import probes, shortcuts
from grader import references as R
from grader import strategies as S
from grader.cases import DropoutCase, HeadCase, LoaderCase
from grader.checks import PROFILES
from grader.problems import ps09_training_transfer as P
from grader.target import RemoteTarget


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(S.dropout_cases())
def test_torchs_own_dropout_passes_the_statistical_judge(case):
    """Fairness: PyTorch's dropout itself, on every kind of case the grader draws."""
    got = probes.dropout_call({"dropout": F.dropout}, **case.spec(), rules=shortcuts.NONE.to_json())
    assert P._dropout_training(case, got) is None


@pytest.mark.parametrize("case", [DropoutCase((64, 512), 0.5, training=False),
                                  DropoutCase((64, 512), 0.0), DropoutCase((64, 512), 1.0)],
                         ids=str)
def test_torchs_own_dropout_passes_the_modes_judge(case):
    got = probes.dropout_call({"dropout": F.dropout}, **case.spec(), rules=shortcuts.NONE.to_json())
    assert P._dropout_modes(case, got) is None


def test_the_judge_names_the_mistake():
    case = DropoutCase((64, 512), 0.2)

    def keeps_with_p(x, p, training):
        return x * (torch.rand_like(x) < p) / (1 - p)

    got = probes.dropout_call({"d": keeps_with_p}, "d", case.x(), case.p, True, 0,
                              shortcuts.NONE.to_json())
    assert "probability of an element being zeroed" in P._dropout_training(case, got)

    def by_position(x, p, training):  # exactly p of the entries, the first ones
        keep = torch.arange(x.numel()).reshape(x.shape) >= p * x.numel()
        return x * keep / (1 - p)

    got = probes.dropout_call({"d": by_position}, "d", case.x(), case.p, True, 0,
                              shortcuts.NONE.to_json())
    assert "depend on their positions" in P._dropout_training(case, got)


def _train_report(fn, case):
    spec = case.spec()
    spec.pop("fn")
    return probes.train_epoch({"f": fn}, "f", **spec)


def test_accumulated_gradients_are_named():
    def no_zero_grad(model, loader, optimizer, loss_fn, device):
        model.train()
        for x, y in loader:
            loss_fn(model(x), y).backward()
            optimizer.step()
        return 0.0

    case = LoaderCase("train", 10, 4)
    assert "they accumulate" in P._train_updates(case, _train_report(no_zero_grad, case))
    assert P._train_updates(case, _train_report(R.train_one_epoch, case)) is None


def test_per_batch_mean_loss_is_named():
    def batch_mean(model, loader, optimizer, loss_fn, device):
        R.train_one_epoch(model, loader, optimizer, loss_fn, device)
        losses = loss_fn.log
        return sum(v for v, _ in losses) / len(losses)

    case = LoaderCase("train", 10, 4)
    assert "weight each batch's loss by its size" in P._train_loss(
        case, _train_report(batch_mean, case))


@pytest.mark.parametrize("layout", sorted(HeadCase.LAYOUTS))
def test_reference_transfer_idioms_on_every_layout(layout):
    model = probes.head_net({"layout": layout, "width": 4, "classes": 7, "seed": 0})
    head = R.head_name(model)
    R.freeze_features(model)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {
        f"{head}.weight", f"{head}.bias"}
    old_keys = list(model.state_dict())
    R.replace_head(model, 3)
    assert list(model.state_dict()) == old_keys
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 3)


def test_quiz_numbers_against_torchvision():
    model = torchvision.models.resnet18(weights=None)
    assert sum(p.numel() for p in model.parameters()) == P.RESNET18_PARAMS == 11_689_512
    R.replace_head(R.freeze_features(model), 10)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 512 * 10 + 10
    # the seed's MNIST Net: "the 500 shows up as an error if you run it, or you can compute it"
    x = torch.zeros(1, 1, 28, 28)
    x = F.max_pool2d(nn.Conv2d(1, 10, 3)(x), 2)
    assert F.max_pool2d(nn.Conv2d(10, 20, 3)(x), 2).flatten(1).shape[1] == 500


def test_scoped_rules_trip_only_inside_the_checked_function():
    """nn.Dropout calls F.dropout: a process-wide tripwire would break every student model."""
    rules = P.PROBLEM_SET.rules
    source = ("import torch\nimport torch.nn.functional as F\n"
              "def dropout(x, p=0.5, training=True):\n    return F.dropout(x, p, training)\n"
              "layer = torch.nn.Dropout(0.5)\nlayer(torch.ones(3))\n"
              "from grader.data import digits_split\n")
    target = RemoteTarget([("answer", source)], rules)
    try:
        assert target.describe_cell_errors() == ""  # nn.Dropout and grader.data work
        assert [v.what for v in target.shortcut_violations("dropout")] == [
            'uses .dropout (answer cell "answer")']
        result = P.PROBLEM_SET["dropout_training"].run(target, PROFILES["quick"])
        assert not result.passed and "shortcut" in result.message
    finally:
        target.close()
    blocked = RemoteTarget([("answer", "from grader.references import train_one_epoch\n")], rules)
    try:
        assert "is not allowed here" in blocked.describe_cell_errors()
    finally:
        blocked.close()
