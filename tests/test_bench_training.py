"""benchmarks/bench_training.py runs on a tiny budget, so the script cannot rot (a few seconds)."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, Subset

from grader.data import load

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_training.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_training", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_thread():
    """The script's --threads is process-wide: give the other tests their setting back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_quick_run_reports_accuracy_throughput_and_ratio(bench, one_thread, capsys):
    # A target of 50% is reached after one epoch: the run stops there.
    out = bench.main(["--quick", "--threads", "1", "--target", "0.5", "--repeat", "1"])
    run, tp = out["time_to_target"], out["throughput"]
    assert run["reached"] and run["epoch"] == 1 and len(run["history"]) == 1
    assert 0.5 <= run["best_accuracy"] <= 1 and run["seconds"] > 0
    assert tp["images"] == 1197
    assert tp["plain_ips"] > 0 and tp["floor_ips"] > 0
    assert math.isfinite(tp["ratio"]) and tp["ratio"] > 0
    printed = capsys.readouterr().out
    assert "epoch   1" in printed and "test accuracy" in printed
    assert "reached 50% at epoch 1" in printed and "summary: digits on cpu" in printed


def test_unreached_target_is_reported_with_the_best_accuracy(bench, one_thread):
    torch.set_num_threads(1)
    small = {split: DataLoader(Subset(load("digits", split), range(64)), batch_size=32)
             for split in ("train", "test")}
    lines = []
    run = bench.time_to_target(small, torch.device("cpu"), target=1.01, max_epochs=2,
                               log=lines.append)
    assert not run["reached"] and run["epoch"] == 2 and len(lines) == 2
    assert 0 <= run["best_accuracy"] <= 1
    assert run["best_accuracy"] == max(h["accuracy"] for h in run["history"])


def test_missing_online_dataset_exits_2_with_the_message(bench, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--dataset", "mnist", "--root", str(tmp_path), "--quick"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "MNIST is not in" in err and "dataset='digits'" in err
    assert "Traceback" not in err
