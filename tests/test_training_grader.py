"""The machinery behind problem set 9: the training probes, their references, the
statistical dropout judge and the scoped shortcut rules."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from hypothesis import given, settings
from torch import nn

from grader import data, isolation, probes, shortcuts
from grader import references as R
from grader import strategies as S
from grader.cases import TEST_NOISE, DropoutCase, HeadCase, LoaderCase
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


def _named(check_id: str, case, report) -> list[str]:
    """The misconceptions of problem set 9 that explain ``report`` for a ``check_id`` case."""
    from grader.misconceptions import ps09_training_transfer as M
    return [m.id for m in M.MISCONCEPTIONS if check_id in m.checks and m.fits(case, report)]


def test_the_judge_says_what_is_wrong_and_the_misconception_names_it():
    case = DropoutCase((64, 512), 0.2)

    def keeps_with_p(x, p, training):
        return x * (torch.rand_like(x) < p) / (1 - p)

    got = probes.dropout_call({"d": keeps_with_p}, "d", case.x(), case.p, True, 0,
                              shortcuts.NONE.to_json())
    assert "it zeroed 80." in P._dropout_training(case, got)
    assert _named("dropout_training", case, got) == ["dropout_p_keeps"]

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
            loss_fn(model(x.to(device)), y.to(device)).backward()
            optimizer.step()
        return 0.0

    case = LoaderCase("train", 10, 4)
    report = _train_report(no_zero_grad, case)
    assert "the gradients are not those of this batch's loss" in P._train_updates(case, report)
    assert _named("train_one_epoch_updates", case, report) == ["gradients_accumulate"]
    assert P._train_updates(case, _train_report(R.train_one_epoch, case)) is None


def test_a_batch_left_behind_and_a_second_pass_are_named():
    def stays(model, loader, optimizer, loss_fn, device):
        return R.train_one_epoch(model, loader, optimizer, loss_fn, "cpu")

    def twice(model, loader, optimizer, loss_fn, device):
        value = R.train_one_epoch(model, loader, optimizer, loss_fn, device)
        model(next(iter(loader))[0])  # "just to look at the predictions", in train mode
        return value

    case = LoaderCase("train", 10, 4)
    assert "never moved to `device`" in P._train_updates(case, _train_report(stays, case))
    assert "one forward pass per batch" in P._train_updates(case, _train_report(twice, case))


def test_per_batch_mean_loss_is_named():
    def batch_mean(model, loader, optimizer, loss_fn, device):
        R.train_one_epoch(model, loader, optimizer, loss_fn, device)
        losses = loss_fn.log
        return sum(v for v, _ in losses) / len(losses)

    case = LoaderCase("train", 10, 4)
    report = _train_report(batch_mean, case)
    assert "the mean loss per sample over the epoch" in P._train_loss(case, report)
    assert _named("train_one_epoch_loss", case, report) == ["loss_batch_mean"]


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
    # [S1]'s MNIST Net: "the 500 shows up as an error if you run it, or you can compute it"
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


# --- train_digits: graded on images whose labels never enter the sandbox -------------------


def _outcome(train_digits):
    """The judge's verdict on ``train_digits``, probed in process on the quick profile's data."""
    check = P.PROBLEM_SET["digits_accuracy"]
    case = check.examples[0].with_seed(PROFILES["quick"].seed(check.id))
    spec = case.spec()
    got = probes.train_outcome({spec.pop("fn"): train_digits}, "train_digits", **spec)
    return P._outcome(case, got)


def test_train_digits_gets_the_loader_data_loaders_gives():
    """The grader builds the loader from arrays now; the student sees no difference."""
    seen = []

    def record(train_loader, epochs, device):
        seen.append(train_loader)
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))

    _outcome(record)
    mine, theirs = seen[0], data.loaders(batch_size=32, seed=0)["train"]
    assert type(mine) is type(theirs) and mine.batch_size == theirs.batch_size
    for _ in range(2):  # the second epoch's order comes from the same generator
        for (x, y), (x0, y0) in zip(mine, theirs, strict=True):
            assert x.dtype == x0.dtype and torch.equal(x, x0) and torch.equal(y, y0)


class _Table(nn.Module):
    """Logits looked up, not computed: the bundled digits' labels by image, or in order."""

    def __init__(self, by_image: bool):
        super().__init__()
        images, labels = data.digits_split("test")
        self.by_image, self.labels = by_image, labels
        self.table = {image.tobytes(): int(label) for image, label in zip(images, labels)}

    def forward(self, x):
        found = ([self.table.get(image.numpy().tobytes(), 0) for image in x[:, 0]]
                 if self.by_image else self.labels)
        return F.one_hot(torch.as_tensor(found), 10).float()


@pytest.mark.parametrize("by_image", [True, False], ids=["by_image", "in_order"])
def test_tables_of_the_bundled_test_labels_score_nothing(by_image):
    """Even where the sandbox shows scikit-learn's file: the graded images are noised (no
    exact match) and shuffled (the split's order is worthless)."""
    message = _outcome(lambda loader, epochs, device: _Table(by_image))
    assert "test digits correctly" in message
    assert int(message.split("classifies ")[1].split(" of")[0]) < 60


def test_graded_test_images_are_the_test_digits_shuffled_and_noised():
    images, labels = data.digits_split("test")
    check = P.PROBLEM_SET["digits_accuracy"]
    quick, thorough = PROFILES["quick"], PROFILES["thorough"]
    assert check.profile_key(quick) != check.profile_key(thorough)  # graded apart
    seeds = {quick.seed(check.id)} | {dataclasses.replace(thorough, secret=s).seed(check.id)
                                      for s in ("a secret", "another secret")}
    assert len(seeds) == 3
    sets = [check.examples[0].with_seed(seed).test_set() for seed in seeds]
    for noisy, shuffled in sets:
        assert np.array_equal(np.sort(shuffled), np.sort(labels))
        assert noisy.dtype == np.float32 and noisy.min() >= 0 and noisy.max() <= 1
        assert not np.array_equal(shuffled, labels)
        nearest = np.abs(noisy[:, None] - images[None]).sum(axis=(2, 3)).argmin(axis=1)
        assert np.array_equal(labels[nearest], shuffled)  # the same digits, a little noisy
        assert abs(float((noisy - images[nearest]).std()) - TEST_NOISE) < TEST_NOISE / 2
    assert not np.array_equal(sets[0][0], sets[1][0])


@pytest.mark.skipif(isolation._bwrap_problem() is not None,
                    reason=f"no OS sandbox here: {isolation._bwrap_problem()}")
def test_the_sandbox_cannot_read_the_bundled_digits():
    """The notebook's setup imports still work; the data files are not there."""
    source = ("import os, sklearn.datasets\nfrom grader.data import digits, loaders\n"
              "folder = os.path.dirname(sklearn.datasets.__file__)\n"
              "def fails(f, *args):\n    try:\n        f(*args)\n    except Exception as err:\n"
              "        return f'{type(err).__name__}: {err}'\n"
              "opened = fails(open, os.path.join(folder, 'data', 'digits.csv.gz'))\n"
              "load_digits = fails(sklearn.datasets.load_digits)\n"
              "sample_images = fails(sklearn.datasets.load_sample_images)\n"
              "grader_loaders = fails(loaders)\n")
    ps = P.PROBLEM_SET
    target = RemoteTarget([("answer", source)], ps.rules, hide=ps.sandbox_hides)
    try:
        assert target.describe_cell_errors() == ""
        for name in ("opened", "load_digits", "sample_images"):
            assert target.lookup(name).value.startswith("FileNotFoundError"), name
        assert target.lookup("grader_loaders").value.startswith(
            "DatasetNotFound: scikit-learn's digits are not available here")
    finally:
        target.close()
