"""Block-wise pipelines equal the whole-image run; OME-Zarr output with levels and labels."""

import numpy as np
import pytest
import zarr

from biakit import Pipeline
from biakit.data import synthetic_nuclei
from biakit.distributed import get_client, run_pipeline
from biakit.distributed._engine import plan_blocks
from biakit.distributed._pipeline import _split
from biakit.distributed._source import open_source
from biakit.errors import PipelineError
from biakit.io import read_image, read_labels
from biakit.pipeline import StepConfig


def _same_partition(a, b):
    """Labels equal up to renumbering (a bijection between the label values)."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(set(pairs[0])) == len(set(pairs[1])) == pairs.shape[1]


@pytest.mark.parametrize("ndim", [2, 3])
def test_per_pixel_head_equals_whole_image(ndim):
    shape = (60, 70) if ndim == 2 else (14, 30, 34)
    image = synthetic_nuclei(shape, n_objects=6, radius=(3.0, 5.0), seed=ndim).image
    steps = [
        StepConfig(step="gaussian", params={"sigma": 1.5}),
        StepConfig(step="normalize_percentile", params={"low": 2.0, "high": 99.0}),
        StepConfig(step="threshold", params={"method": "otsu"}),
        StepConfig(step="opening", params={"radius": 1}),
    ]
    src = open_source(image)
    stats = {}
    with get_client("threads", n_workers=2) as bc:
        chain, halo, start, have = _split(bc, src, steps, (1.0,) * ndim, (8,) * ndim, stats)
    assert start == 4 and have == {"image", "mask"}
    whole = Pipeline([{"step": s.step, **s.params} for s in steps])._run_spatial(
        image.astype(np.float32), (1.0,) * ndim
    )
    out_img, out_mask = np.zeros(shape, np.float32), np.zeros(shape, bool)
    for block in plan_blocks(shape, (8,) * ndim, halo):  # blocks smaller than 2 x halo
        st = chain.state(block)
        out_img[block.write], out_mask[block.write] = st["image"], st["mask"]
    np.testing.assert_allclose(out_img, whole.image, rtol=0, atol=1e-5)
    assert np.array_equal(out_mask, whole.mask)  # the threshold (Otsu) is the exact one


@pytest.mark.parametrize("ndim", [2, 3])
def test_run_pipeline_labels_equal_whole_image(tmp_path, ndim):
    shape = (80, 90) if ndim == 2 else (16, 40, 44)
    image = synthetic_nuclei(shape, n_objects=8, radius=(3.0, 6.0), touching=0.2, seed=ndim).image
    pipe = (
        Pipeline.default()
        if ndim == 2
        else Pipeline(
            [{"step": "gaussian", "sigma": 1.0}, {"step": "threshold"}, "fill_holes", "label"]
        )
    )
    dest = tmp_path / "out.ome.zarr"
    report = run_pipeline(pipe, image, dest, client="threads", block_shape=16, halo=24, levels=2)
    labels, meta = read_labels(dest, lazy=False)
    whole = pipe.run(image)
    assert report.n_objects == whole.n_objects > 3
    assert _same_partition(np.asarray(labels), whole.labels)
    copy, _ = read_image(dest, lazy=False)
    assert np.array_equal(copy, image) and meta.axes == "ZYX"[-ndim:]
    assert not dest.with_name("out.ome.zarr.partial").exists()


def test_output_is_valid_ome_zarr(tmp_path):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    image = synthetic_nuclei((64, 64), n_objects=4, seed=0).image
    dest = tmp_path / "o.ome.zarr"
    run_pipeline(
        Pipeline.default(),
        image,
        dest,
        client="threads",
        block_shape=32,
        levels=2,
        label_name="nuclei",
    )
    nodes = list(Reader(parse_url(str(dest)))())
    assert len(nodes[0].data) == 2  # two levels of the image
    group = zarr.open_group(str(dest), mode="r")
    assert group.attrs["multiscales"][0]["datasets"][1]["path"] == "1"
    assert zarr.open_group(str(dest / "labels"), mode="r").attrs["labels"] == ["nuclei"]
    label_attrs = zarr.open_group(str(dest / "labels" / "nuclei"), mode="r").attrs
    assert label_attrs["image-label"]["source"]["image"] == "../../"
    assert group["1"].shape == (32, 32)
    lv1, _ = read_labels(dest, level=1, lazy=False)
    lv0, _ = read_labels(dest, lazy=False)
    assert np.array_equal(lv1, np.asarray(lv0)[::2, ::2])


def test_resume_after_interruption_gives_the_same_output(tmp_path):
    image = synthetic_nuclei((64, 64), n_objects=5, seed=1).image
    pipe = Pipeline.default()
    first = tmp_path / "a.ome.zarr"
    run_pipeline(pipe, image, first, client="threads", block_shape=16, levels=1)
    dest = tmp_path / "b.ome.zarr"
    from biakit.distributed import iter_run_pipeline

    gen = iter_run_pipeline(pipe, image, dest, client="threads", block_shape=16, levels=1)
    for item in gen:
        if getattr(item, "stage", "") == "segment" and item.done >= 5:
            break  # interrupted after some blocks
    gen.close()
    assert dest.with_name("b.ome.zarr.partial").exists() and not dest.exists()
    run_pipeline(pipe, image, dest, client="threads", block_shape=16, levels=1, resume=True)
    assert np.array_equal(read_labels(dest, lazy=False)[0], read_labels(first, lazy=False)[0])


def test_whole_image_threshold_is_refused_clearly(tmp_path):
    pipe = Pipeline([{"step": "threshold", "method": "li"}, "label"])
    with pytest.raises(PipelineError, match=r"step 1 \(threshold\): method 'li' needs the whole"):
        run_pipeline(pipe, np.ones((16, 16)), tmp_path / "x.ome.zarr", client="threads")
