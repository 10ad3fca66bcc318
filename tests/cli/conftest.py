"""Fixtures for command-line tests: in-process runs, file snapshots, tiny model folders."""

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from biakit.cli import main
from biakit.io import ImageMeta, write_image

PIPELINE_YAML = """\
name: tiny
steps:
  - step: threshold
    method: otsu
  - step: fill_holes
"""

TRAIN_YAML = """\
task: semantic
data: {images: img, masks: masks}
output: trained
patch_shape: [16, 16]
samples_per_epoch: 2
val_fraction: 0.0
model: {depth: 1, base_filters: 2}
train: {epochs: 1, batch_size: 2}
"""


@dataclass(frozen=True)
class Result:
    """Exit status and captured output of one in-process ``biakit`` run."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def blob_image(shape=(16, 16), dtype=np.uint8) -> np.ndarray:
    """A bright square on a dark background (one object for any threshold)."""
    image = np.full(shape, 10, dtype=dtype)
    image[tuple(slice(n // 4, 3 * n // 4) for n in shape)] = 200
    return image


def snapshot(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (folders as ``"<dir>"``)."""
    found = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        found[rel] = "<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return found


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run ``biakit ARGS`` in-process; return its exit status, stdout and stderr."""
    monkeypatch.delenv("BIAKIT_DEBUG", raising=False)

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def make_workspace(root: Path) -> Path:
    """Good inputs every case starts from: images, labels, scribbles and YAML configs."""
    root.mkdir(parents=True, exist_ok=True)
    image = blob_image()
    labels = (image > 100).astype(np.uint16)
    write_image(root / "img" / "a.tif", image, ImageMeta("YX"))
    write_image(root / "masks" / "a.tif", labels.astype(np.uint8), ImageMeta("YX"))
    write_image(root / "gt" / "a.tif", labels, ImageMeta("YX"))
    write_image(root / "pred" / "a_labels.tif", labels, ImageMeta("YX"))
    scribbles = np.zeros((16, 16), np.uint8)
    scribbles[0:2, :] = 1
    scribbles[7:9, 6:10] = 2
    write_image(root / "scrib" / "a.tif", scribbles, ImageMeta("YX"))
    (root / "p.yaml").write_text(PIPELINE_YAML)
    (root / "t.yaml").write_text(TRAIN_YAML)
    return root


@pytest.fixture(scope="session")
def pixel_model_dir(tmp_path_factory) -> Path:
    """A tiny trained pixel-classifier model folder (3 trees)."""
    from biakit.pixel import PixelClassifier

    root = make_workspace(tmp_path_factory.mktemp("pixel_model"))
    scribbles = np.zeros((16, 16), np.uint8)
    scribbles[0:2, :] = 1
    scribbles[7:9, 6:10] = 2
    clf = PixelClassifier("fast", n_estimators=3, seed=0)
    clf.fit([blob_image().astype(np.float32)], [scribbles])
    return clf.save(root / "pm")


@pytest.fixture(scope="session")
def deep_model_dir(tmp_path_factory) -> Path:
    """A tiny deep model folder written by ``biakit train`` (1 epoch of 2 patches)."""
    root = make_workspace(tmp_path_factory.mktemp("deep_model"))
    import contextlib
    import io
    import os

    cwd = Path.cwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(["train", "t.yaml"])
    finally:
        os.chdir(cwd)
    if code != 0:
        pytest.fail(f"biakit train of the tiny model failed with status {code}")
    return root / "trained"


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """A fresh folder of good inputs, made the current directory."""
    root = make_workspace(tmp_path / "ws")
    monkeypatch.chdir(root)
    return root


def copy_model(source: Path, target: Path) -> Path:
    """Copy a model folder (cases then tamper with the copy)."""
    shutil.copytree(source, target)
    return target


@pytest.fixture
def tools():
    """Helpers for test modules (conftest modules cannot be imported under importlib mode)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        blob_image=blob_image,
        snapshot=snapshot,
        copy_model=copy_model,
        make_workspace=make_workspace,
        PIPELINE_YAML=PIPELINE_YAML,
        TRAIN_YAML=TRAIN_YAML,
    )
