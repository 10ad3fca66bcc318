"""Block-wise ``biakit predict`` / ``biakit pipeline run``: --resume, and time-lapse inputs.

A run is interrupted after a few blocks (a cancel token that fires once the run has
marked that many blocks done, as a napari cancel button or Ctrl-C would stop it),
then continued with ``--resume``; its output must be byte-for-byte the output of an
uninterrupted run.
"""

from pathlib import Path

import numpy as np
import pytest

from biakit.cancel import cancellable
from biakit.io import ImageMeta, read_image, read_labels, write_image


class AfterBlocks:
    """Cancel token: set once ``k`` block done-markers exist under ``partial``."""

    def __init__(self, partial: Path, k: int) -> None:
        self.partial, self.k = partial, k

    def is_set(self) -> bool:
        marks = self.partial / ".biakit-blocks"
        done = [p for p in marks.rglob("*") if p.is_file() and p.name.isdigit()]
        return len(done) >= self.k


class AfterSegments:
    """Cancel token: set once ``k`` blocks of a pipeline's labelling are marked segmented."""

    def __init__(self, partial: Path, k: int) -> None:
        self.folder, self.k = partial / ".biakit-blocks" / "labels" / "segment", k

    def is_set(self) -> bool:
        return self.folder.is_dir() and len(_segmented(self.folder)) >= self.k


def _segmented(folder: Path) -> set[int]:
    return {int(p.name) for p in folder.iterdir() if p.name.isdigit()}


class AfterChecks:
    """Cancel token: set from the ``k``-th check on (runs that keep no done-markers)."""

    def __init__(self, k: int) -> None:
        self.k, self.calls = k, 0

    def is_set(self) -> bool:
        self.calls += 1
        return self.calls >= self.k


def _image(shape=(64, 56), seed=0):
    from biakit.data import synthetic_nuclei

    return synthetic_nuclei(shape, n_objects=8, radius=(4.0, 7.0), seed=seed).image


@pytest.fixture
def job(tmp_path):
    write_image(tmp_path / "cells.ome.zarr", _image(), ImageMeta("YX"))
    write_image(tmp_path / "more.ome.zarr", _image(seed=1), ImageMeta("YX"))
    return tmp_path


def _interrupt_then_resume(cli, tools, args, out_a, out_b, token, before_resume=None):
    """Run uninterrupted into ``out_a``; interrupted by ``token``, then resumed, into ``out_b``.

    ``before_resume(partial)`` is called just before the resumed run.
    """
    assert cli(*args, "-o", out_a).code == 0
    partial = out_b / "cells.ome.zarr.partial"
    with cancellable(token(partial)):
        stopped = cli(*args, "-o", out_b)
    assert stopped.code == 130, stopped.err
    assert "--resume" in stopped.err and str(partial) in stopped.err
    assert partial.is_dir() and not (out_b / "cells.ome.zarr").exists()
    again = cli(*args, "-o", out_b)  # without --resume: refused, with the way out
    assert again.code == 2 and "--resume" in again.err and len(again.err_lines) == 1
    if before_resume is not None:
        before_resume(partial)
    resumed = cli(*args, "-o", out_b, "--resume")
    assert resumed.code == 0, resumed.err
    assert not partial.exists()
    assert tools.snapshot(out_a) == tools.snapshot(out_b)  # identical bytes, every file
    return resumed


def test_predict_resume_gives_the_uninterrupted_output(cli, tools, job, deep_model_dir):
    args = ["predict", deep_model_dir, "-i", job / "*.ome.zarr", "--scheduler", "threads",
            "--block-size", "16"]  # fmt: skip
    resumed = _interrupt_then_resume(cli, tools, args, job / "a", job / "b",
                                     lambda partial: AfterBlocks(partial, 5))  # fmt: skip
    assert "cells.ome.zarr: 16 block(s)" in resumed.out  # both inputs done by the resumed run
    assert "more.ome.zarr: 16 block(s)" in resumed.out
    maps, _ = read_image(job / "b" / "cells.ome.zarr", lazy=False)
    classes, _ = read_labels(job / "b" / "cells.ome.zarr", "classes", lazy=False)
    assert maps.shape == (2, 64, 56) and np.array_equal(classes, np.argmax(maps, axis=0))
    done = cli(*args, "-o", job / "b", "--resume")  # everything complete: kept, not redone
    assert done.code == 0 and done.out.count("already complete") == 2


def test_pipeline_run_resume_gives_the_uninterrupted_output(cli, tools, job):
    (job / "p.yaml").write_text(tools.PIPELINE_YAML)
    args = ["pipeline", "run", job / "p.yaml", "-i", job / "cells.ome.zarr", "--scheduler",
            "threads", "--block-size", "16"]  # fmt: skip
    _interrupt_then_resume(cli, tools, args, job / "a", job / "b", lambda _: AfterChecks(3))
    labels, _ = read_labels(job / "b" / "cells.ome.zarr", lazy=False)
    assert labels.max() >= 1


def test_pipeline_run_resume_does_not_segment_finished_blocks(cli, tools, job, monkeypatch):
    from biakit.distributed import _stitch_run

    (job / "p.yaml").write_text(tools.PIPELINE_YAML)
    args = ["pipeline", "run", job / "p.yaml", "-i", job / "cells.ome.zarr", "--scheduler",
            "threads", "--block-size", "16"]  # fmt: skip
    found, seen, original = set(), [], _stitch_run.segment_block

    def count_from_now(partial):
        found.update(_segmented(partial / ".biakit-blocks" / "labels" / "segment"))
        monkeypatch.setattr(_stitch_run, "segment_block",
                            lambda *a: (seen.append(a[4]), original(*a))[1])  # fmt: skip

    _interrupt_then_resume(cli, tools, args, job / "a", job / "b",
                           lambda partial: AfterSegments(partial, 5), count_from_now)  # fmt: skip
    assert 5 <= len(found) < 16  # a 4 x 4 grid: some blocks were done, some not
    flat = {int(np.ravel_multi_index(i, (4, 4))) for i in seen}
    assert len(seen) == len(flat) and flat == set(range(16)) - found


def test_resume_with_other_block_size_is_refused(cli, job, deep_model_dir):
    args = ["predict", deep_model_dir, "-i", job / "cells.ome.zarr", "-o", job / "o",
            "--scheduler", "threads"]  # fmt: skip
    with cancellable(AfterBlocks(job / "o" / "cells.ome.zarr.partial", 2)):
        assert cli(*args, "--block-size", "16").code == 130
    result = cli(*args, "--block-size", "32", "--resume")
    assert result.code == 2 and result.err_lines[-1].startswith("biakit: error: ")
    assert "the interrupted run used block_shape=[16, 16], this run block_shape=[32, 32]" in (
        result.err
    )
    assert cli(*args, "--block-size", "16", "--resume").code == 0


@pytest.mark.parametrize("command", ["predict", "pipeline"])
def test_resume_errors_are_one_line(cli, tools, job, deep_model_dir, command):
    (job / "p.yaml").write_text(tools.PIPELINE_YAML)
    head = (["predict", deep_model_dir] if command == "predict"
            else ["pipeline", "run", job / "p.yaml"])  # fmt: skip
    args = [*head, "-i", job / "cells.ome.zarr", "-o", job / "o"]
    both = cli(*args, "--scheduler", "threads", "--resume", "--overwrite")
    assert both.code == 2 and both.err_lines == [
        "biakit: error: --resume and --overwrite exclude each other; choose one"
    ]
    nothing = cli(*args, "--scheduler", "threads", "--resume")
    assert nothing.code == 2 and len(nothing.err_lines) == 1
    assert f"--resume: no interrupted block-wise run in {job / 'o'}" in nothing.err
    write_image(job / "small.tif", tools.blob_image(), ImageMeta("YX"))
    in_memory = cli(*head, "-i", job / "small.tif", "-o", job / "o", "--resume")
    assert in_memory.code == 2 and len(in_memory.err_lines) == 1
    assert "this run is in memory; add --scheduler" in in_memory.err


def test_pixel_predict_time_lapse_from_the_command_line(cli, tmp_path, pixel_model_dir):
    from biakit.pixel import PixelClassifier

    rng = np.random.default_rng(3)
    movie = (rng.random((3, 16, 16)) * 60 + [[[20]], [[90]], [[150]]]).astype(np.float32)
    write_image(tmp_path / "movie.ome.zarr", movie, ImageMeta("TYX"))
    result = cli("pixel", "predict", pixel_model_dir, "-i", tmp_path / "movie.ome.zarr",
                 "-o", tmp_path / "out", "--scheduler", "threads", "--block-size", "8")  # fmt: skip
    assert result.code == 0, result.err
    assert "movie.ome.zarr: 12 block(s) in 3 frame(s)" in result.out
    labels, meta = read_labels(tmp_path / "out" / "movie.ome.zarr", "classes", lazy=False)
    clf = PixelClassifier.load(pixel_model_dir)
    assert meta.axes == "TYX"
    assert np.array_equal(labels, np.stack([clf.predict(frame) for frame in movie]))


def test_in_memory_time_lapse_points_to_blockwise(cli, tmp_path, pixel_model_dir):
    write_image(tmp_path / "movie.tif", np.zeros((3, 16, 16), np.float32), ImageMeta("TYX"))
    result = cli("pixel", "predict", pixel_model_dir, "-i", tmp_path / "movie.tif",
                 "-o", tmp_path / "out")  # fmt: skip
    assert result.code == 2 and len(result.err_lines) == 1
    assert "a time-lapse of 3 frames" in result.err
    assert result.err.rstrip().endswith("frame by frame, block-wise, with --scheduler threads")


@pytest.mark.parametrize("command", ["predict", "pipeline"])
def test_overwrite_starts_an_interrupted_run_afresh(cli, tools, job, deep_model_dir, command):
    (job / "p.yaml").write_text(tools.PIPELINE_YAML)
    head = (["predict", deep_model_dir] if command == "predict"
            else ["pipeline", "run", job / "p.yaml"])  # fmt: skip
    args = [*head, "-i", job / "cells.ome.zarr", "--scheduler", "threads", "--block-size", "16"]
    assert cli(*args, "-o", job / "a").code == 0
    with cancellable(AfterChecks(3)):
        assert cli(*args, "-o", job / "b").code == 130
    assert (job / "b" / "cells.ome.zarr.partial").is_dir()
    fresh = cli(*args, "-o", job / "b", "--overwrite")
    assert fresh.code == 0, fresh.err
    assert not (job / "b" / "cells.ome.zarr.partial").exists()
    assert tools.snapshot(job / "a") == tools.snapshot(job / "b")
