"""A resumed block-wise pipeline run finishes without redoing the blocks already done.

Each test runs the pipeline once uninterrupted (the reference), once interrupted
(a closed progress generator, as a cancel button does, or an exception injected
between a block's labels and its done-marker), then resumed; it checks that the
resumed output has the reference's bytes (every file) and counts, through
wrappers around the block functions, which blocks the resumed run computed.
"""

import hashlib
import threading
from pathlib import Path

import numpy as np
import pytest
import zarr
from scipy import ndimage as ndi

from biakit import Pipeline
from biakit.data import synthetic_nuclei
from biakit.distributed import (
    _pipeline_tasks,
    _stitch_run,
    iter_label_blockwise,
    iter_run_pipeline,
    run_pipeline,
)
from biakit.distributed._output import _Downsample
from biakit.distributed._stitch_block import Geometry, segment_block
from biakit.distributed._stitch_match import Stitcher
from biakit.errors import ImageWriteError, ParameterError

BLOCK = 16
GRID = 16  # 64 x 64 image, 16 x 16 blocks
OPTIONS = {"client": "threads", "block_shape": BLOCK, "halo": 24, "levels": 2}


def _image():
    return synthetic_nuclei((64, 64), n_objects=7, radius=(3.0, 6.0), seed=4).image


def _snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _marks(partial: Path, stage: str) -> set[int]:
    folder = partial / ".biakit-blocks" / stage
    return {int(p.name) for p in folder.iterdir() if p.name.isdigit()} if folder.is_dir() else set()


class Calls:
    """Record the calls of a function (by a key of its arguments), thread-safe."""

    def __init__(self, monkeypatch, owner, name, key):
        self.seen, self.lock = [], threading.Lock()
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            with self.lock:
                self.seen.append(key(*args, **kwargs))
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)


def _flat(index):
    return int(np.ravel_multi_index(index, (4, 4)))


def _segment_calls(monkeypatch):
    """Grid blocks segmented (flat index); the pipeline's head runs inside each of them."""
    return Calls(monkeypatch, _stitch_run, "segment_block", lambda *a: _flat(a[4]))


@pytest.fixture
def reference(tmp_path):
    dest = tmp_path / "ref" / "o.ome.zarr"
    report = run_pipeline(Pipeline.default(), _image(), dest, **OPTIONS)
    assert report.n_objects >= 5
    return _snapshot(dest), report


def _interrupt(dest, stage, k, **options):
    """Run into ``dest`` and stop after ``k`` blocks of ``stage`` (the generator is closed)."""
    gen = iter_run_pipeline(Pipeline.default(), _image(), dest, **(OPTIONS | options))
    for item in gen:
        if getattr(item, "stage", "") == stage and item.done >= k:
            break
    gen.close()
    partial = dest.with_name(dest.name + ".partial")
    assert partial.is_dir() and not dest.exists()
    return partial


def test_resume_does_not_segment_finished_blocks_again(tmp_path, monkeypatch, reference):
    dest = tmp_path / "b" / "o.ome.zarr"
    partial = _interrupt(dest, "segment", 5)
    done = _marks(partial, "labels/segment")
    assert len(done) == 5  # each block's table and marker are saved before it is reported
    assert {f"{n}.npz" for n in done} <= {
        p.name for p in (partial / ".biakit-blocks" / "labels" / "segment").iterdir()
    }
    segmented = _segment_calls(monkeypatch)
    heads = Calls(monkeypatch, _pipeline_tasks._Chain, "state", lambda *a: a[1].write)
    items = list(iter_run_pipeline(Pipeline.default(), _image(), dest, resume=True, **OPTIONS))
    assert sorted(segmented.seen) == sorted(set(range(GRID)) - done)  # each once, none done
    assert len(heads.seen) == GRID - len(done)  # no statistics pass either: they were kept
    first = next(p for p in items if getattr(p, "stage", "") == "segment")
    assert (first.done, first.total) == (5, GRID)  # the resumed blocks are reported at once
    assert _snapshot(dest) == reference[0]  # identical bytes, every file
    assert items[-1].n_objects == reference[1].n_objects
    assert items[-1].statistics == reference[1].statistics


def test_crash_between_labels_and_marker_redoes_that_block(tmp_path, monkeypatch, reference):
    dest = tmp_path / "b" / "o.ome.zarr"
    saved, original = [], _stitch_run.Checkpoint.save

    def crash_on_fourth(self, geom, table):
        if len(saved) == 3:  # the 4th block's labels are written: crash before its marker
            raise RuntimeError("injected crash")
        saved.append(_flat(table.index))
        original(self, geom, table)

    monkeypatch.setattr(_stitch_run.Checkpoint, "save", crash_on_fourth)
    with pytest.raises(RuntimeError, match="injected crash"):
        run_pipeline(Pipeline.default(), _image(), dest, **OPTIONS)
    monkeypatch.setattr(_stitch_run.Checkpoint, "save", original)
    partial = dest.with_name(dest.name + ".partial")
    assert _marks(partial, "labels/segment") == set(saved) and len(saved) == 3
    crashed = 3  # threads run blocks in grid order: the 4th is block 3
    labels = zarr.open_array(str(partial / "labels" / "default" / "0"), mode="r")
    assert np.asarray(labels[:BLOCK, 3 * BLOCK :]).min() < 0  # its provisional labels were written
    segmented = _segment_calls(monkeypatch)
    run_pipeline(Pipeline.default(), _image(), dest, resume=True, **OPTIONS)
    assert crashed in segmented.seen
    assert sorted(segmented.seen) == sorted(set(range(GRID)) - set(saved))
    assert _snapshot(dest) == reference[0]


def test_resume_during_relabel_skips_segment_and_marked_chunks(tmp_path, monkeypatch, reference):
    dest = tmp_path / "b" / "o.ome.zarr"
    partial = _interrupt(dest, "relabel", 3)
    relabelled = _marks(partial, "labels/relabel")
    copied = _marks(partial, "image")
    levels = _marks(partial, "image_level_1")
    assert len(_marks(partial, "labels/segment")) == GRID and 3 <= len(relabelled) < GRID
    segmented = _segment_calls(monkeypatch)
    relabels = Calls(monkeypatch, _stitch_run, "relabel_block", lambda *a: a[1])
    copies = Calls(monkeypatch, _pipeline_tasks._Copy, "__call__", lambda *a: a[1].write)
    downs = Calls(monkeypatch, _Downsample, "__call__", lambda *a: (a[0].target.root, a[1].write))
    run_pipeline(Pipeline.default(), _image(), dest, resume=True, **OPTIONS)
    assert segmented.seen == []
    assert len(relabels.seen) == GRID - len(relabelled)
    assert len(copies.seen) == GRID - len(copied)
    image_levels = [d for d in downs.seen if not d[0].endswith("default")]
    assert len(image_levels) == 4 - len(levels)  # level 1: 32 x 32 in 16 x 16 chunks
    assert _snapshot(dest) == reference[0]


def test_resume_with_another_plan_is_refused(tmp_path):
    dest = tmp_path / "o.ome.zarr"
    _interrupt(dest, "segment", 2)
    with pytest.raises(ImageWriteError, match=r"used block_shape=\[16, 16\], this run "
                                              r"block_shape=\[32, 32\]"):  # fmt: skip
        run_pipeline(Pipeline.default(), _image(), dest, resume=True, **(OPTIONS | {
            "block_shape": 32}))  # fmt: skip
    other = Pipeline([{"step": "threshold"}, "label"], name="default")
    with pytest.raises(ImageWriteError, match="the interrupted run used steps="):
        run_pipeline(other, _image(), dest, resume=True, **OPTIONS)


def test_label_blockwise_checkpoint_resumes(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    image = ndi.binary_opening(rng.random((40, 36)) > 0.6).astype(np.uint8)
    truth = ndi.label(image)[0]
    out = zarr.open_array(str(tmp_path / "l.zarr"), mode="w", shape=image.shape, chunks=(8, 12),
                          dtype=np.int32, zarr_format=2)  # fmt: skip
    kwargs = {"block_shape": (8, 12), "halo": 40, "out": out, "checkpoint": tmp_path / "ck"}
    gen = iter_label_blockwise(image, lambda b: ndi.label(b)[0], **kwargs)
    for p in gen:
        if p.done == 7:
            break
    gen.close()
    calls = Calls(monkeypatch, _stitch_run, "segment_block", lambda *a: a[4])
    result = _drain(iter_label_blockwise(image, lambda b: ndi.label(b)[0], **kwargs))
    assert len(calls.seen) == 15 - 7  # a 5 x 3 grid, 7 blocks kept
    assert np.array_equal(result[:], truth)  # raster-order labels: scipy's numbering


def _drain(gen):
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def test_stitching_does_not_depend_on_block_order():
    image = synthetic_nuclei((48, 40), n_objects=9, radius=(3.0, 6.0), touching=0.5,
                             seed=2).image > 0.3  # fmt: skip
    geom = Geometry(image.shape, (12, 10), (20, 20), (3, 3), (0, 0))
    tables = [segment_block(None, image, lambda b: ndi.label(b)[0], geom, i, None)
              for i in np.ndindex(*geom.grid)]  # fmt: skip
    results = []
    for order in (tables, tables[::-1], tables[1::2] + tables[::2]):
        stitcher = Stitcher(0.5)
        for table in order:
            stitcher.add(table)
        luts, n = stitcher.finish()
        results.append((n, {k: v.tolist() for k, v in luts.items()}))
    assert results[0] == results[1] == results[2]
    assert results[0][0] == ndi.label(image)[1]


def test_checkpoint_errors(tmp_path):
    def seg(b):
        return ndi.label(b)[0]

    with pytest.raises(ParameterError, match=r"checkpoint needs out: .* got out=None"):
        iter_label_blockwise(np.zeros((8, 8)), seg, block_shape=4, halo=4, checkpoint=tmp_path)
    with pytest.raises(ParameterError, match=r"checkpoint must be a folder .* got int"):
        iter_label_blockwise(np.zeros((8, 8)), seg, block_shape=4, halo=4, out=np.zeros(
            (8, 8), np.int32), checkpoint=3)  # fmt: skip
