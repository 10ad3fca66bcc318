"""``biakit demo --big`` on a tiny volume: outputs, block-wise stitching, scores, errors."""

import json

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage as ndi

from biakit.cli import main
from biakit.demo import _big
from biakit.errors import ParameterError
from biakit.io import read_image, read_labels
from biakit.metrics import match_instances


def raster_order(labels):
    values, first = np.unique(labels.ravel(), return_index=True)
    keep = values > 0
    lut = np.zeros(int(values.max()) + 1, np.int64)
    lut[values[keep][np.argsort(first[keep])]] = np.arange(1, keep.sum() + 1)
    return lut[labels]


def test_cli_big_demo_writes_volume_labels_and_scores(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_big, "BLOCK", (16, 64, 64))  # many blocks on a tiny volume
    monkeypatch.setattr(_big, "CHUNKS", (16, 64, 64))
    assert main(["demo", "--big", "--size", "1.5MB", "-o", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "big volume, block-wise" in captured.out and "segment 1/" in captured.err
    summary = json.loads((tmp_path / "big_demo.json").read_text())
    assert summary["shape"] == [45, 183, 183] and summary["n_blocks"] == 3 * 3 * 3
    assert summary["n_true"] > 10 and summary["f1"] > 0.6
    assert summary["n_matched_across_blocks"] > 0 and summary["peak_rss_gb"] > 0
    image, meta = read_image(tmp_path / "volume.ome.zarr", lazy=False)
    assert meta.extra["labels"] == ["segmentation"] and meta.spacing == (0.03, 0.008, 0.008)
    labels = np.asarray(read_labels(tmp_path / "volume.ome.zarr", "segmentation")[0])
    whole = _big.segment_mitochondria(image)  # every block's halo spans this small volume
    assert np.array_equal(labels, raster_order(whole))
    assert summary["n_pred"] == labels.max()


def test_blockwise_evaluation_equals_whole_matching():
    rng = np.random.default_rng(0)
    truth = ndi.label(ndi.gaussian_filter(rng.random((20, 40, 40)), 2) > 0.53)[0]
    pred = ndi.label(ndi.gaussian_filter(rng.random((20, 40, 40)), 2) > 0.52)[0]
    pred[truth > 0] = np.where(rng.random(np.sum(truth > 0)) < 0.9, truth[truth > 0] + 500, 0)
    scores = _big.evaluate_blockwise(da.from_array(truth, chunks=7), pred, (8, 16, 16))
    ref = match_instances(truth, pred, thresh=0.5)
    assert (scores["n_true"], scores["n_pred"], scores["tp"]) == (ref.n_true, ref.n_pred, ref.tp)
    assert np.isclose(scores["f1"], ref.f1)


def test_sizes_and_errors(tmp_path):
    assert _big.parse_size("2GB") == 2 * 10**9 and _big.parse_size("1GiB") == 2**30
    assert _big.volume_shape(2 * 10**9) == (500, 2000, 2000)
    with pytest.raises(ParameterError, match="size must be a positive amount of bytes"):
        _big.parse_size("2 parsecs")
    (tmp_path / "volume.ome.zarr").mkdir()
    with pytest.raises(FileExistsError, match=r"volume\.ome\.zarr exists"):
        _big.run_big_demo(tmp_path, size="1MB")


def test_cli_rejects_a_bad_size(tmp_path, capsys):
    assert main(["demo", "--big", "--size", "-3GB", "-o", str(tmp_path)]) == 2
    assert "size must be a positive amount of bytes" in capsys.readouterr().err
