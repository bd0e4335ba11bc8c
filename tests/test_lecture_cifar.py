"""Tests for Lecture 12, "CIFAR-10 and Fashion-MNIST, as the sources teach them": every helper in
``lectures/cifar_tools.py`` against PyTorch, torchvision, scikit-learn or a hand count; the
stand-in files round-tripped through torchvision's own loaders; the stored runs reproduced by
retraining their first epoch. (``tests/test_lectures.py`` executes the notebook and checks its
figures.)

Run from the repository root:  python -m pytest tests/test_lecture_cifar.py -q
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sklearn.metrics  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402
from torchvision import transforms  # noqa: E402

from grader.data import digits, digits_split  # noqa: E402
from lectures import cifar_tools as ct  # noqa: E402
from lectures import lecture_tools as lt  # noqa: E402
from lectures import training_tools as tt  # noqa: E402
from tests.test_lectures import draws  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """Both stand-ins, written once for the module."""
    root = tmp_path_factory.mktemp("standin")
    ct.write_standin(root)
    ct.write_fashion_standin(root)
    return root


# ---------------------------------------------------------------------------
# [S4]'s lab
# ---------------------------------------------------------------------------


def test_s4_facts_are_consistent():
    s4 = ct.S4_LAB
    assert len(ct.CLASSES) == 10 and set(ct.CIFAR10_FIRST_TEST) <= set(ct.CLASSES)
    assert set(s4["predicted"]) <= set(ct.CLASSES)
    assert s4["train_images"] // s4["batch_size"] == 12_500
    # Every printed line falls on a multiple of print_every within an epoch of 12,500 batches.
    assert all(b % s4["print_every"] == 0 and b <= 12_500 for _, b in s4["losses"])
    per_class = list(s4["class_accuracy_pct"].values())
    assert list(s4["class_accuracy_pct"]) == list(ct.CLASSES)
    assert int(np.mean(per_class)) == s4["accuracy_pct"] == 62
    assert min(s4["class_accuracy_pct"], key=s4["class_accuracy_pct"].get) == "cat"
    # Three of the four first test images right: the second ship taken for a truck.
    right = [t == p for t, p in zip(ct.CIFAR10_FIRST_TEST, s4["predicted"])]
    assert right == [True, True, False, True]


def test_net_matches_a_hand_count():
    net = ct.Net()
    by_hand = {"conv1": 6 * (3 * 5 * 5 + 1), "conv2": 16 * (6 * 5 * 5 + 1),
               "fc1": 120 * (16 * 5 * 5 + 1), "fc2": 84 * (120 + 1), "fc3": 10 * (84 + 1)}
    assert {n: lt.count_params(m) for n, m in net.named_children() if n != "pool"} == by_hand
    assert sum(by_hand.values()) == lt.count_params(net) == 62_006
    x = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert net(x).shape == (5, 10)
    # flatten(1) keeps the batch: a wrong image size is an error, not more images.
    with pytest.raises(RuntimeError):
        net(torch.zeros(25, 3, 36, 36))


def test_s4_transform_and_unnormalize():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    x = ct.s4_transform()(Image.fromarray(pixels))
    expected = (torch.from_numpy(pixels).permute(2, 0, 1).float() / 255 - 0.5) / 0.5
    torch.testing.assert_close(x, expected)
    assert -1 <= x.min() and x.max() <= 1
    torch.testing.assert_close(ct.unnormalize(x), x / 2 + 0.5)            # [S4]'s imshow
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    batch = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    normalized = transforms.Normalize(mean, std)(batch)
    torch.testing.assert_close(ct.unnormalize(normalized, mean, std), batch)
    torch.testing.assert_close(ct.unnormalize(normalized[0], mean, std), batch[0])


def test_train_s4_reports_like_s4():
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(20, 3, 32, 32, generator=g), torch.randint(0, 10, (20,), generator=g))
    loader = DataLoader(data, batch_size=4)                  # 5 mini-batches per epoch
    net = ct.Net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    # A learning rate of 0 leaves the weights alone, so the batch losses can be recomputed.
    printed = []
    lines = ct.train_s4(net, loader, 2, torch.optim.SGD(net.parameters(), lr=0.0), print_every=2,
                        log=printed.append)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with torch.no_grad():
        losses = [nn.CrossEntropyLoss()(net(x), y).item() for x, y in loader]
    assert [(line["epoch"], line["batch"]) for line in lines] == [(1, 2), (1, 4), (2, 2), (2, 4)]
    for line, pair in zip(lines, [(0, 1), (2, 3)] * 2):
        assert line["loss"] == pytest.approx(np.mean([losses[i] for i in pair]), rel=1e-6)
    assert printed[0] == "[1,     2] loss: %.3f" % lines[0]["loss"] and len(printed) == 4
    assert net.training


# ---------------------------------------------------------------------------
# The data
# ---------------------------------------------------------------------------


def test_standin_arrays():
    images, labels = ct.standin_arrays("test")
    assert images.shape == (300, 3, 32, 32) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, digits_split("test")[1])
    grey, _ = ct.standin_arrays("test", size=28, colour=False)
    expected = np.round(digits("test", 28).tensors[0][:, 0].clamp(0, 1).numpy() * 255)
    np.testing.assert_array_equal(grey, expected.astype(np.uint8))
    # Coloured: the channels differ; the digit (brightest grey pixel) is lighter than the corner.
    assert (images[:, 0] != images[:, 1]).any()
    flat = grey.reshape(300, -1)
    up = ct.standin_arrays("test", size=28)[0].reshape(300, 3, -1).astype(int)
    brightest = flat.argmax(1)
    assert all(up[i, :, brightest[i]].sum() > up[i, :, 0].sum() for i in range(300))
    np.testing.assert_array_equal(ct.standin_arrays("test")[0], images)        # seeded
    assert not np.array_equal(ct.standin_arrays("train")[0][:300], images)


def test_cifar10_format_files(tmp_path):
    rng = np.random.default_rng(2)
    train = rng.integers(0, 256, (12, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 12)
    test = rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 3)
    folder = ct.write_cifar10_format(tmp_path, train, test, list("abcdefghij"))
    assert folder == tmp_path / "cifar-10-batches-py"
    sizes = []
    for name in [f"data_batch_{i}" for i in range(1, 6)]:
        with open(folder / name, "rb") as fh:
            batch = pickle.load(fh, encoding="latin1")
        assert batch["data"].dtype == np.uint8 and batch["data"].shape[1] == 3072
        sizes.append(len(batch["labels"]))
    assert sizes == [3, 3, 2, 2, 2]
    with open(folder / "data_batch_2", "rb") as fh:
        second = pickle.load(fh, encoding="latin1")
    # Rows are channel-major: 1,024 red values, then green, then blue, each row by row.
    np.testing.assert_array_equal(second["data"][0], train[0][3].reshape(-1))
    np.testing.assert_array_equal(second["data"][0][:1024].reshape(32, 32), train[0][3][0])
    assert second["labels"] == [int(v) for v in train[1][3:6]]
    with open(folder / "batches.meta", "rb") as fh:
        assert pickle.load(fh, encoding="latin1")["label_names"] == list("abcdefghij")
    listed = dict(reversed(line.split()) for line in (folder / ct.MD5_FILE).read_text().splitlines())
    assert listed == {p.name: hashlib.md5(p.read_bytes()).hexdigest()
                      for p in folder.iterdir() if p.name != ct.MD5_FILE}


def test_standin_round_trips_through_torchvision(standin, monkeypatch):
    train = ct.cifar10(standin, train=True, standin=True)
    test = ct.cifar10(standin, train=False, standin=True, transform=ct.s4_transform())
    assert isinstance(train, torchvision.datasets.CIFAR10) and type(train) is ct.StandInCIFAR10
    images, labels = ct.standin_arrays("train")
    np.testing.assert_array_equal(train.data, images.transpose(0, 2, 3, 1))
    assert train.targets == labels.tolist() and train.classes == list(ct.DIGIT_NAMES)
    assert len(test) == 300 and test[0][0].shape == (3, 32, 32)
    # torchvision's class itself: refused as not CIFAR-10 (MD5 sums) ...
    with pytest.raises(RuntimeError, match="not found or corrupted"):
        ct.cifar10(standin, train=True)
    # ... and, with its integrity check off, it reads the same images: the format is CIFAR-10's.
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity",
                        lambda path, md5=None: os.path.isfile(path))
    real = torchvision.datasets.CIFAR10(standin, train=True, download=False)
    np.testing.assert_array_equal(real.data, train.data)
    assert real.targets == train.targets and real.classes == train.classes


def test_standin_checks_its_own_sums(tmp_path):
    with pytest.raises(RuntimeError, match="write_standin"):
        ct.StandInCIFAR10(tmp_path)
    with pytest.raises(ValueError, match="not downloaded"):
        ct.StandInCIFAR10(tmp_path, download=True)
    rng = np.random.default_rng(3)
    train = rng.integers(0, 256, (5, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 5)
    folder = ct.write_cifar10_format(tmp_path, train, train, ct.DIGIT_NAMES)
    assert len(ct.StandInCIFAR10(tmp_path)) == 5
    with open(folder / "data_batch_3", "ab") as fh:          # changed after it was written
        fh.write(b"\0")
    with pytest.raises(RuntimeError, match="not found or corrupted"):
        ct.StandInCIFAR10(tmp_path)


def test_a_stand_in_never_overwrites_other_files(tmp_path):
    real = tmp_path / "cifar-10-batches-py"
    real.mkdir()
    (real / "data_batch_1").write_bytes(b"the real CIFAR-10")
    with pytest.raises(FileExistsError, match="not a stand-in"):
        ct.write_standin(tmp_path)
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(b"the real Fashion-MNIST")
    with pytest.raises(FileExistsError, match="not a stand-in"):
        ct.write_fashion_standin(tmp_path)
    assert (real / "data_batch_1").read_bytes() == b"the real CIFAR-10"
    assert (raw / "train-images-idx3-ubyte").read_bytes() == b"the real Fashion-MNIST"


def test_fashion_standin_round_trips_through_torchvision(standin):
    ct.write_fashion_standin(standin)                        # a stand-in may be rewritten
    raw = standin / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte"
    assert raw.read_bytes()[:16] == bytes([0, 0, 8, 3, 0, 0, 1, 44, 0, 0, 0, 28, 0, 0, 0, 28])
    for train, split in ((True, "train"), (False, "test")):
        data = torchvision.datasets.FashionMNIST(standin, train=train, download=False)
        images, labels = ct.standin_arrays(split, size=28, colour=False)
        np.testing.assert_array_equal(data.data.numpy(), images)
        np.testing.assert_array_equal(data.targets.numpy(), labels)


def test_channel_stats(standin):
    train = ct.cifar10(standin, train=True, standin=True, transform=transforms.ToTensor())
    x = torch.stack([train[i][0] for i in range(len(train))]).double()
    mean, std = ct.channel_stats(train)
    np.testing.assert_allclose(mean, x.mean((0, 2, 3)).numpy(), atol=1e-4)
    np.testing.assert_allclose(std, x.std((0, 2, 3), unbiased=False).numpy(), atol=1e-4)


def test_course_transform():
    pixels = np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    test_tf = ct.course_transform(mean, std, train=False)
    torch.testing.assert_close(test_tf(image), transforms.Normalize(mean, std)(transforms.ToTensor()(image)))
    kinds = [type(t) for t in ct.course_transform(mean, std, train=True).transforms]
    assert kinds[:2] == [transforms.RandomCrop, transforms.RandomHorizontalFlip]
    assert transforms.RandomHorizontalFlip not in [
        type(t) for t in ct.course_transform(mean, std, train=True, flip=False).transforms]
    # A random crop of the image padded by 4 (zeros): some 32x32 window of the padded image.
    crop_tf = ct.course_transform((0, 0, 0), (1, 1, 1), train=True, flip=False)
    padded = np.pad(pixels, ((4, 4), (4, 4), (0, 0))).transpose(2, 0, 1) / 255
    torch.manual_seed(0)
    for _ in range(5):
        out = crop_tf(image).numpy()
        assert out.shape == (3, 32, 32)
        assert any(np.allclose(out, padded[:, r:r + 32, c:c + 32], atol=1e-6)
                   for r in range(9) for c in range(9))


def test_percent_slice():
    part = ct.percent_slice(range(1197), 10, 25)
    assert (part.indices.start, part.indices.stop) == (120, 299)
    assert [len(ct.percent_slice(range(1197), a, b)) for a, b in ((0, 10), (10, 25), (25, 100))] == [120, 179, 898]
    assert list(ct.percent_slice(range(10), 0, 30).indices) == [0, 1, 2]
    assert len(ct.percent_slice(range(10))) == 10


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


def test_course_net():
    model = ct.course_net(16)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [16, 16, 32, 32, 64]
    assert all(m.bias is None and m.padding == (1, 1) for m in convs)
    weights = 9 * (3 * 16 + 16 * 16 + 16 * 32 + 32 * 32 + 32 * 64)
    batchnorm = 2 * (16 + 16 + 32 + 32 + 64)
    assert lt.count_params(model) == weights + batchnorm + 64 * 10 + 10 == 35_962
    assert lt.count_params(ct.course_net(32)) > lt.count_params(model)


def test_course_optimizer_schedule():
    model = nn.Linear(2, 2)
    opt, sched = ct.course_optimizer(model, lr=0.1, epochs=2, steps_per_epoch=50)
    group = opt.param_groups[0]
    assert group["nesterov"] and group["weight_decay"] == 5e-4
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        assert opt.param_groups[0]["momentum"] == 0.9          # not cycled
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.1 / 25)
    assert max(lrs) == pytest.approx(0.1, rel=1e-3) and 25 <= int(np.argmax(lrs)) <= 31
    assert lrs[-1] < 1e-3 and min(lrs) >= 0.1 / 250_000 * 0.999


def test_default_conv2d_keeps_the_size():
    layer = ct.default_conv2d(3, 5, kernel_size=7)
    x = torch.randn(1, 3, 11, 13)
    out = layer(x)
    assert out.shape == (1, 5, 11, 13) and out.min() >= 0                  # ReLU
    assert lt.count_params(layer) == 7 * 7 * 3 * 5 + 5


def test_fashion_cnn_against_keras_summary():
    model = ct.fashion_cnn()
    rows = ct.keras_summary()
    assert [r["layer"] for r in rows] == [spec[0] for spec in ct.FASHION_CNN_KERAS]
    assert len(model) == len(rows)
    x = torch.zeros(2, 1, 28, 28)
    for row, layer in zip(rows, model):
        x = layer(x)
        keras_shape = row["output shape"]
        torch_shape = tuple(x.shape[1:])
        # Keras is channels last: (H, W, C) against PyTorch's (C, H, W).
        assert torch_shape == (keras_shape if len(keras_shape) == 1 else keras_shape[2:] + keras_shape[:2])
        assert row["params"] == lt.count_params(layer)
    by_hand = (7 * 7 * 1 * 64 + 64) + (9 * 64 * 128 + 128) + (9 * 128 * 128 + 128) + \
        (9 * 128 * 256 + 256) + (9 * 256 * 256 + 256) + (2304 * 128 + 128) + (128 * 64 + 64) + (64 * 10 + 10)
    assert sum(r["params"] for r in rows) == lt.count_params(model) == by_hand == 1_413_834
    # Logits, not probabilities: no softmax at the end.
    model.eval()
    out = model(torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    assert not torch.allclose(out.sum(1), torch.ones(3))


def test_keras_summary_rules_on_another_network():
    spec = [("Conv2D", 4, 5), ("MaxPooling2D", 3), ("Conv2D", 6, 3), ("Flatten",), ("Dense", 7)]
    rows = ct.keras_summary(spec, input_shape=(17, 17, 2))
    model = nn.Sequential(nn.Conv2d(2, 4, 5, padding="same"), nn.MaxPool2d(3),
                          nn.Conv2d(4, 6, 3, padding="same"), nn.Flatten(), nn.Linear(6 * 5 * 5, 7))
    x = torch.zeros(1, 2, 17, 17)
    for row, layer in zip(rows, model):
        x = layer(x)
        assert int(np.prod(row["output shape"])) == x[0].numel()
        assert row["params"] == lt.count_params(layer)
    assert rows[1]["output shape"] == (5, 5, 4)       # 17 // 3: pooling rounds down


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------


def test_confusion_matrix_and_per_class_accuracy_against_sklearn():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 10, 500)
    predicted = np.where(rng.random(500) < 0.7, labels, rng.integers(0, 10, 500))
    matrix = ct.confusion_matrix(torch.from_numpy(labels), torch.from_numpy(predicted))
    np.testing.assert_array_equal(matrix, sklearn.metrics.confusion_matrix(labels, predicted,
                                                                           labels=range(10)))
    np.testing.assert_allclose(ct.per_class_accuracy(matrix),
                               sklearn.metrics.recall_score(labels, predicted, average=None))
    assert np.trace(matrix) / matrix.sum() == pytest.approx(sklearn.metrics.accuracy_score(labels, predicted))
    # A class that is never predicted still gets its row and column.
    assert ct.confusion_matrix([0, 1], [1, 1], num_classes=3).tolist() == [[0, 1, 0], [0, 1, 0], [0, 0, 0]]


def test_class_table():
    matrix = np.array([[8, 2, 0], [0, 10, 0], [1, 3, 6]])
    rows = ct.class_table(matrix, ["a", "b", "c"])
    assert [r["right"] for r in rows] == [8, 10, 6] and [r["images"] for r in rows] == [10, 10, 10]
    assert [r["accuracy %"] for r in rows] == ["80.0", "100.0", "60.0"]
    assert [r["most confused with"] for r in rows] == ["b", "-", "b"]


def test_predict_is_argmax_in_eval_mode_and_restores_the_mode():
    g = torch.Generator().manual_seed(6)
    data = TensorDataset(torch.randn(10, 4, generator=g), torch.randint(0, 3, (10,), generator=g))
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.9)).train()
    labels, predicted = ct.predict(model, DataLoader(data, batch_size=3))
    assert model.training
    torch.testing.assert_close(labels, data.tensors[1])
    with torch.no_grad():
        assert torch.equal(predicted, model.eval()(data.tensors[0]).argmax(1))


# ---------------------------------------------------------------------------
# The stored runs
# ---------------------------------------------------------------------------


def test_stored_results_match_the_configuration_and_themselves():
    stored = tt.load_table(ct.RESULTS)
    assert stored is not None and ct.same_config(stored["config"], ct.experiment_config())
    models = {"s4_net": ct.Net(), "course_recipe": ct.course_net(16), "fashion_cnn": ct.fashion_cnn()}
    for name, r in stored["runs"].items():
        matrix = np.array(r["confusion"])
        assert matrix.sum() == 300 and np.trace(matrix) / 300 == pytest.approx(r["test_acc_per_epoch"][-1])
        assert len(r["test_acc_per_epoch"]) == ct.RUNS[name]["epochs"]
        assert r["params"] == lt.count_params(models[name])
    printed = stored["runs"]["s4_net"]["printed"]
    assert len(printed) == 30 and [p["batch"] for p in printed[:3]] == [100, 200, 300]


@pytest.mark.parametrize("name", sorted(ct.RUNS))
def test_first_epoch_of_each_stored_run_is_reproduced(name, tmp_path):
    table = tt.load_table(ct.RESULTS)
    stored, made = table["runs"][name], table["config"]["provenance"]
    again = ct.run(name, tmp_path, epochs=1)
    # Two of the 300 test predictions may differ (counted: 2 / 300 itself can come out a
    # rounding above the bound).  Another processor's kernels round differently, and the
    # Fashion-MNIST CNN's first epoch, near chance, amplifies it (1% of the loss, seen on an
    # Intel Xeon against the AMD EPYC that made the file): 2% of the loss there.
    changed = abs(again["test_acc_per_epoch"][0] - stored["test_acc_per_epoch"][0]) * 300
    assert round(changed) <= 2, f"{changed:.0f} of 300 test predictions differ"
    same_kernels = made["torch"] == torch.__version__ and made["cpu"] == tt.cpu_name()
    assert again["train_loss_per_epoch"][0] == pytest.approx(
        stored["train_loss_per_epoch"][0], rel=1e-3 if same_kernels else 2e-2)
    if name == "s4_net":
        for line, old in zip(again["printed"], stored["printed"]):
            assert (line["epoch"], line["batch"]) == (old["epoch"], old["batch"])
            assert line["loss"] == pytest.approx(old["loss"], rel=1e-3)


def test_experiments_loads_or_trains_and_stores(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    path.write_text(ct.RESULTS.read_text())
    assert ct.experiments(tmp_path, path=path)["source"] == "cache"
    calls = []

    def fake_run(name, root, epochs=None):
        calls.append(name)
        return {"test_acc_per_epoch": [0.5], "seconds": 0.0}

    monkeypatch.setattr(ct, "run", fake_run)
    stale = json.loads(path.read_text())
    stale["config"]["runs"]["s4_net"]["epochs"] = 3
    path.write_text(json.dumps(stale))
    fresh = ct.experiments(tmp_path, path=path, log=lambda _: None)
    assert fresh["source"] == "trained" and calls == list(ct.RUNS)
    assert tt.load_table(path)["config"]["runs"] == ct.RUNS
    assert ct.experiments(tmp_path, path=path)["source"] == "cache"
    assert ct.experiments(tmp_path, path=None, log=lambda _: None)["source"] == "trained"
    assert tt.load_table(tmp_path / "missing.json") is None


# ---------------------------------------------------------------------------
# Figures: the notebook draws each once; these draw the other branches
# ---------------------------------------------------------------------------


def test_figures_draw():
    images = torch.rand(5, 3, 32, 32, generator=torch.Generator().manual_seed(7)) * 2 - 1
    labels, predicted = torch.tensor([0, 1, 2, 3, 4]), torch.tensor([0, 1, 2, 3, 5])
    fig = ct.plot_samples(images, labels, ct.CLASSES, predicted, ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[-1] == "true: deer\npred: dog" and len(titles) == 5
    draws(fig)
    matrix = ct.confusion_matrix(torch.arange(10), torch.tensor([0, 1, 2, 5, 4, 5, 6, 7, 8, 9]))
    fig = ct.plot_confusion(matrix, ct.CLASSES)
    assert fig.axes[0].get_title() == "10 test images, 90.0% right"
    draws(fig)
    pil = Image.fromarray(np.random.default_rng(8).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    draws(ct.plot_augmentations(pil, {"crop": transforms.RandomCrop(32, padding=4)}, n=2))
    draws(ct.plot_runs({"a": [0.1, 0.5], "b": [0.2, 0.9]}))
