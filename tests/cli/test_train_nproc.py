"""``biakit train --nproc N``: data-parallel training started from the command line."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from biakit.io import ImageMeta, write_image

TINY = """\
task: semantic
data: {images: img, masks: masks}
output: trained
patch_shape: [16, 16]
samples_per_epoch: 8
val_fraction: 0.5
model: {depth: 1, base_filters: 4}
train: {epochs: 2, batch_size: 2, device: DEVICE}
"""


def _workspace(root, device="cpu"):
    for name in "ab":
        image = np.full((24, 24), 10, np.uint8)
        image[6:18, 6:18] = 200
        write_image(root / "img" / f"{name}.tif", image, ImageMeta("YX"))
        write_image(root / "masks" / f"{name}.tif", (image > 100).astype(np.uint8), ImageMeta("YX"))
    (root / "t.yaml").write_text(TINY.replace("DEVICE", device))
    return root


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    return {**env, "OMP_NUM_THREADS": "1", "BIAKIT_DEBUG": ""}


def test_nproc_zero_is_a_usage_error(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(_workspace(tmp_path))
    result = cli("train", "t.yaml", "--nproc", "0")
    assert result.code == 2
    assert result.err_lines == ["biakit: error: --nproc 0: expected a number of processes >= 1"]
    assert not (tmp_path / "trained").exists()


def test_more_processes_than_gpus_is_a_usage_error(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(_workspace(tmp_path, device="cuda"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = cli("train", "t.yaml", "--nproc", "2")
    assert result.code == 2
    assert "--nproc 2: training on device='cuda' runs one process per GPU, but 0 GPU(s)" in (
        result.err
    )
    assert "train.device: cpu" in result.err


def test_nproc_under_torchrun_is_refused(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(_workspace(tmp_path))
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = cli("train", "t.yaml", "--nproc", "2")
    assert result.code == 2
    assert "started by torchrun already (WORLD_SIZE=2); leave --nproc out" in result.err


@pytest.mark.slow
def test_train_with_two_processes_writes_one_model_that_predicts(tmp_path):
    """MUST-SHOW: ``biakit train CONFIG --nproc 2`` end to end (gloo, 2 CPU processes)."""
    from biakit.nn.train import load_checkpoint
    from biakit.workflows import load_model

    root = _workspace(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "biakit", "train", "t.yaml", "--nproc", "2"],
        cwd=root, env=_env(), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "starting 2 training processes" in run.stdout
    assert run.stdout.count("model saved to trained") == 1  # rank 0 alone reports
    assert sorted(p.name for p in root.iterdir()) == ["img", "masks", "t.yaml", "trained"]
    state = load_checkpoint(root / "trained" / "training" / "last.pt")
    assert state["world_size"] == 2 and state["epoch"] == 2
    model = load_model(root / "trained")
    image = np.full((24, 24), 10, np.uint8)
    image[6:18, 6:18] = 200
    assert model.predict(image).shape == (24, 24)


@pytest.mark.slow
def test_failed_process_gives_its_exit_status(tmp_path):
    """A user error in the started processes: exit status 2, no hang, their one-line error."""
    code = "from biakit.nn.train import launch; raise SystemExit(launch(['info', 'nope.tif'], 2))"
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=_env(), capture_output=True, text=True,
        timeout=240,
    )  # fmt: skip
    assert run.returncode == 2
    assert "biakit: error: " in run.stderr and "nope.tif" in run.stderr
