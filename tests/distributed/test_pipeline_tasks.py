"""run_pipeline's dataflow: head fused into the labelling, dependent tasks, default blocks."""

import inspect
import threading
import time

import numpy as np
import pytest
import zarr

from biakit import Pipeline
from biakit.data import synthetic_nuclei
from biakit.distributed import get_client, iter_run_pipeline, label_blockwise, run_pipeline
from biakit.distributed._engine import default_block_shape, drain, share, submit_after
from biakit.distributed._output import OmeZarrWriter, downsample
from biakit.distributed._pipeline import _split
from biakit.distributed._pipeline_tasks import _HeadView, submit_levels
from biakit.distributed._source import open_source
from biakit.io import ImageMeta, read_labels
from biakit.pipeline import StepConfig


def _same_partition(a, b):
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(set(pairs[0])) == len(set(pairs[1])) == pairs.shape[1]


def test_head_view_regions_equal_the_whole_image_head():
    image = synthetic_nuclei((40, 50), n_objects=5, radius=(3.0, 5.0), seed=3).image
    steps = [StepConfig(step="gaussian", params={"sigma": 1.5}),
             StepConfig(step="threshold", params={"method": "otsu"})]  # fmt: skip
    with get_client("threads", n_workers=2) as bc:
        chain, halo, _, _ = _split(bc, open_source(image), steps, (1.0, 1.0), (8, 8), {})
    whole = Pipeline([{"step": s.step, **s.params} for s in steps])._run_spatial(
        image.astype(np.float32), (1.0, 1.0)
    )
    region = (slice(3, 21), slice(30, 50))  # touches the right border
    mask = _HeadView(chain, halo, ("mask",))[region]
    assert mask.dtype == bool and np.array_equal(mask, whole.mask[region])
    both = _HeadView(chain, halo, ("mask", "image"))
    stack = both[region]
    assert stack.shape == (2, 18, 20) and both.dtype == np.float32 and both.shape == (40, 50)
    np.testing.assert_array_equal(stack[0], whole.mask[region])
    np.testing.assert_allclose(stack[1], whole.image[region], rtol=0, atol=1e-5)


def test_tail_reading_mask_and_image_equals_whole_image(tmp_path):
    # merge_oversplit reads the labels and the image: the labelling gets both fields
    image = synthetic_nuclei((80, 90), n_objects=8, radius=(3.0, 6.0), touching=0.2, seed=2).image
    pipe = Pipeline([{"step": "gaussian", "sigma": 1.0}, {"step": "threshold"}, "label",
                     {"step": "merge_oversplit", "threshold": 0.5}])  # fmt: skip
    report = run_pipeline(pipe, image, tmp_path / "o.ome.zarr", client="threads", block_shape=16,
                          halo=24, levels=1)  # fmt: skip
    whole = pipe.run(image)
    labels = np.asarray(read_labels(tmp_path / "o.ome.zarr", lazy=False)[0])
    assert report.n_objects == whole.n_objects > 3 and _same_partition(labels, whole.labels)


def test_distributed_client_gives_the_threaded_output(tmp_path):
    distributed = pytest.importorskip("distributed")
    image = synthetic_nuclei((64, 72), n_objects=7, radius=(3.0, 5.0), seed=4).image
    pipe = Pipeline.default()
    kwargs = {"block_shape": 16, "halo": 24, "levels": 3}
    first = run_pipeline(pipe, image, tmp_path / "a.ome.zarr", client="threads", **kwargs)
    with distributed.Client(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0"
    ) as client:
        second = run_pipeline(pipe, image, tmp_path / "b.ome.zarr", client=client, **kwargs)
    assert first.n_objects == second.n_objects == pipe.run(image).n_objects
    for level in range(3):
        a = read_labels(tmp_path / "a.ome.zarr", level=level, lazy=False)[0]
        b = read_labels(tmp_path / "b.ome.zarr", level=level, lazy=False)[0]
        assert np.array_equal(a, b)
    copy = zarr.open_group(str(tmp_path / "b.ome.zarr"), mode="r")
    assert np.array_equal(copy["0"][...], image)
    half = downsample(image, (2, 2), False)
    assert np.array_equal(copy["2"][...], downsample(half, (2, 2), False))


def test_progress_has_every_stage_and_ends_with_the_report(tmp_path):
    image = synthetic_nuclei((48, 48), n_objects=4, seed=1).image
    items = list(iter_run_pipeline(Pipeline.default(), image, tmp_path / "o.ome.zarr",
                                   client="threads", block_shape=16, levels=2))  # fmt: skip
    last = {}
    for item in items[:-1]:
        last[item.stage] = (item.done, item.total)
    assert last == {
        "segment": (9, 9), "relabel": (9, 9), "image": (9, 9),
        "image level 1": (4, 4), "labels level 1": (4, 4),
    }  # fmt: skip
    assert items[-1].n_objects == 4 and items[-1].block_shape == (16, 16)


def test_resume_keeps_the_block_shape_of_the_interrupted_run(tmp_path):
    image = synthetic_nuclei((64, 64), n_objects=5, seed=1).image
    dest = tmp_path / "o.ome.zarr"
    gen = iter_run_pipeline(Pipeline.default(), image, dest, client="threads", block_shape=16)
    next(gen)
    gen.close()
    report = run_pipeline(Pipeline.default(), image, dest, client="threads", resume=True)
    assert report.block_shape == (16, 16) and report.n_objects == 5


def test_level_chunks_wait_for_the_blocks_under_them(tmp_path):
    writer = OmeZarrWriter(tmp_path / "o.ome.zarr")
    levels = writer.image((32, 48), np.uint16, ImageMeta("YX"), chunks=(8, 8), levels=3)
    data = np.arange(32 * 48, dtype=np.uint16).reshape(32, 48)
    started = threading.Event()

    def slow_write(region):
        started.wait(5)
        time.sleep(0.05)  # level 1 would read zeros here if it did not wait
        levels.base.write(region, data[region])

    with get_client("threads", n_workers=3) as bc:
        regions = [
            (slice(y, y + 8), slice(x, x + 8)) for y in range(0, 32, 8) for x in range(0, 48, 8)
        ]
        base = [submit_after(bc, slow_write, r) for r in regions]
        started.set()
        pending = submit_levels(bc, levels, base, "image ")
        for future in pending:
            future.result()
    assert sorted(set(pending.values())) == ["image level 1", "image level 2"]
    one, two = (zarr.open_array(str(t.root + "/" + t.key))[...] for t in levels.targets[1:])
    assert np.array_equal(one, downsample(data, (2, 2), False))
    assert np.array_equal(two, downsample(one, (2, 2), False))


def test_submit_after_runs_dependents_after_their_dependencies():
    order = []

    def record(name, delay=0.0):
        time.sleep(delay)
        order.append(name)
        return name

    with get_client("threads", n_workers=2) as bc:
        first = submit_after(bc, record, "first", 0.1)
        second = submit_after(bc, record, "second", after=[first])
        assert second.result() == "second"
    assert order == ["first", "second"]


def test_share_scatters_only_large_objects():
    distributed = pytest.importorskip("distributed")
    small, large = np.zeros(10), np.zeros(1 << 16)
    with get_client("threads", n_workers=1) as bc:
        assert share(bc, large) is large
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0"
    ) as client:
        assert share(client, small) is small
        future = share(client, large)
        assert isinstance(future, distributed.Future) and future.result().size == 1 << 16


@pytest.mark.parametrize(
    ("shape", "workers", "expected"),
    [
        ((4096, 4096), 1, (2048, 2048)),  # the largest 2D block, 4 blocks
        ((4096, 4096), 2, (2048, 2048)),  # 2 per worker
        ((4096, 4096), 4, (1024, 1024)),  # 16 blocks: 4 per worker (2 would need 8)
        ((8192, 8192), 2, (2048, 2048)),  # never above 2048 x 2048 (2**22 voxels)
        ((300, 300), 2, (256, 256)),  # never below 256 x 256 (2**16 voxels)
        ((512, 512, 512), 2, (128, 128, 128)),  # the largest 3D block
        ((10, 40), 2, (10, 40)),  # clipped to the image
    ],
)
def test_default_block_shape(shape, workers, expected):
    assert default_block_shape(shape, workers) == expected


def test_plain_wrappers_state_the_generators_parameters():
    params = inspect.signature(run_pipeline).parameters
    assert list(params)[:3] == ["pipeline", "source", "dest"] and "block_shape" in params
    assert params["halo"].default == inspect.signature(iter_run_pipeline).parameters["halo"].default
    assert "iou_threshold" in inspect.signature(label_blockwise).parameters
    with pytest.raises(TypeError, match="block_size"):
        run_pipeline(Pipeline.default(), np.zeros((8, 8)), "x.ome.zarr", block_size=4)
    with pytest.raises(TypeError, match="radius"):
        label_blockwise(np.zeros((8, 8)), np.asarray, block_shape=4, radius=2)

    def gen():
        yield 1
        return 7

    assert drain(gen()) == 7


def test_object_larger_than_the_halo_stops_the_run_and_its_copies(tmp_path):
    from biakit.errors import DataError

    image = np.zeros((64, 64), np.float32)
    image[4:60, 30:34] = 1  # 56 pixels tall, halo 8
    dest = tmp_path / "o.ome.zarr"
    with get_client("threads", n_workers=2) as bc:
        with pytest.raises(DataError, match="reaches the edge of the block's halo region"):
            run_pipeline(Pipeline.default(), image, dest, client=bc, block_shape=16, halo=8)
    assert not dest.exists() and dest.with_name("o.ome.zarr.partial").exists()
