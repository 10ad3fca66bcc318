"""get_client, the block engine (resume, idempotent writes) and lazy sources."""

import numpy as np
import pytest

from biakit.distributed import get_client, open_source, plan_blocks, run_blocks
from biakit.distributed._client import check_scheduler
from biakit.distributed._engine import auto_block_shape, check_block_shape, iter_run_blocks
from biakit.distributed._output import OmeZarrWriter, downsample
from biakit.errors import DataError, ImageWriteError, ParameterError
from biakit.io import ImageMeta


def test_threads_client_runs_blocks_in_order():
    blocks = plan_blocks((10, 7), (4, 4), (1, 1))
    with get_client("threads", n_workers=2) as bc:
        assert bc.kind == "threads" and bc.dashboard_link is None
        starts = run_blocks(bc, lambda b: (b.write[0].start, b.write[1].start), blocks)
    assert starts == [(0, 0), (0, 4), (4, 0), (4, 4), (8, 0), (8, 4)]


@pytest.mark.parametrize("bad", ["slurm", "tcp://", 3, ""])
def test_bad_scheduler_is_named(bad):
    with pytest.raises(ParameterError, match="scheduler: expected 'local', 'threads'"):
        check_scheduler(bad)


def test_bad_workers_and_block_shape():
    with pytest.raises(ParameterError, match="n_workers: expected a positive integer, got 0"):
        get_client("threads", n_workers=0)
    with pytest.raises(ParameterError, match=r"block_shape: expected 3 positive integers"):
        check_block_shape((4, 4), 3)
    with pytest.raises(ParameterError, match="blocks: expected at least one block"):
        run_blocks(None, print, [])


def test_plan_blocks_aligns_reads_to_the_divisor():
    blocks = plan_blocks((100, 30), (20, 30), (5, 0), divisor=(8, 1))
    assert {b.read[0].start % 8 for b in blocks} == {0}  # pooling grid of the whole image
    assert [b.write[0].start for b in blocks] == [0, 24, 48, 72, 96]
    assert auto_block_shape((64, 64), 4, 1 << 30) == (64, 64)


def test_resume_skips_marked_blocks(tmp_path):
    blocks = plan_blocks((12,), (4,), (0,))
    (tmp_path / "1").parent.mkdir(exist_ok=True)
    (tmp_path / "1").touch()
    seen = []
    with get_client("threads", n_workers=1) as bc:
        records = list(
            iter_run_blocks(
                bc, lambda b: seen.append(b.write[0].start), blocks, stage="s", marks=tmp_path
            )
        )
    assert sorted(seen) == [0, 8]  # block 1 was done
    assert records[0][0].done == 1 and records[-1][0].done == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0", "1", "2"]


def test_repeated_block_write_gives_identical_bytes(tmp_path):
    writer = OmeZarrWriter(tmp_path / "a.ome.zarr")
    lv = writer.image((16, 16), np.uint16, ImageMeta("YX"), chunks=(8, 8), levels=1)
    data = np.arange(64, dtype=np.uint16).reshape(8, 8)
    region = (slice(8, 16), slice(0, 8))
    lv.base.write(region, data)
    chunk = next(p for p in (writer.partial / "0").rglob("*") if p.is_file() and "." not in p.name)
    first = {p: p.read_bytes() for p in (writer.partial / "0").rglob("*") if p.is_file()}
    lv.base.write(region, data)  # a retried task
    again = {p: p.read_bytes() for p in (writer.partial / "0").rglob("*") if p.is_file()}
    assert first == again and chunk in first
    assert np.array_equal(lv.base.read(region), data)


def test_writer_refuses_existing_and_interrupted_outputs(tmp_path):
    dest = tmp_path / "o.ome.zarr"
    OmeZarrWriter(dest)  # leaves o.ome.zarr.partial: an interrupted run
    with pytest.raises(ImageWriteError, match="holds an interrupted run; continue it with resume"):
        OmeZarrWriter(dest)
    assert OmeZarrWriter(dest, resume=True).resumed
    OmeZarrWriter(dest, overwrite=True).commit()
    with pytest.raises(ImageWriteError, match="output exists; pass overwrite=True"):
        OmeZarrWriter(dest)
    with pytest.raises(ImageWriteError, match="no interrupted run to resume"):
        OmeZarrWriter(tmp_path / "new.ome.zarr", resume=True)


def test_downsample_matches_write_image_levels(tmp_path):
    from biakit.io import read_image, write_image

    image = np.random.default_rng(0).integers(0, 1000, (37, 50)).astype(np.uint16)
    write_image(tmp_path / "w.ome.zarr", image, levels=3)
    level2, _ = read_image(tmp_path / "w.ome.zarr", level=2, lazy=False)
    ours = downsample(downsample(image, (2, 2), False), (2, 2), False)
    assert np.array_equal(ours, level2)


def test_sources_read_regions_in_canonical_order(tmp_path):
    import h5py

    a = np.arange(2 * 5 * 6, dtype=np.uint16).reshape(5, 6, 2)  # YXC
    src = open_source(a, axes="YXC")
    assert src.axes == "CYX" and np.array_equal(src.read(), np.moveaxis(a, -1, 0))
    np.save(tmp_path / "a.npy", a)
    npy = open_source(tmp_path / "a.npy", axes="YXC", channel=1)
    assert npy.axes == "YX" and np.array_equal(npy.read((slice(1, 3), slice(None))), a[1:3, :, 1])
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["data"] = a[..., 0]
    h5 = open_source(f"{tmp_path / 'a.h5'}:/data")
    assert h5.kind == "hdf5" and np.array_equal(h5.read((slice(2, 4), slice(0, 2))), a[2:4, :2, 0])
    with pytest.raises(DataError, match="channel=5 requested but the image has 2 channel"):
        open_source(a, axes="YXC", channel=5)
    with pytest.raises(DataError, match="a time-lapse with 3 frames"):
        open_source(np.zeros((3, 4, 4)), axes="TYX")
