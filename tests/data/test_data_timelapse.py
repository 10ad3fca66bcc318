import numpy as np
import pytest
from scipy import ndimage as ndi

from biakit.data import SyntheticTimelapse, synthetic_timelapse


@pytest.fixture(scope="module")
def movie():
    return synthetic_timelapse(12, (96, 96), n_objects=6, max_displacement=3.0, seed=0)


def test_shapes_and_types(movie):
    assert isinstance(movie, SyntheticTimelapse)
    assert movie.images.shape == movie.labels.shape == movie.clean.shape == (12, 96, 96)
    assert movie.images.dtype == movie.clean.dtype == np.float32
    assert movie.labels.dtype == np.int32
    assert movie.axes == "TYX" and movie.spacing == (1.0, 1.0)
    assert movie.tracks.shape == (12 * 6, 4)


def test_same_ids_in_every_frame(movie):
    for frame in movie.labels:
        np.testing.assert_array_equal(np.unique(frame), np.arange(7))


def test_tracks_are_label_centroids(movie):
    t, ids = movie.tracks[:, 0].astype(int), movie.tracks[:, 1].astype(int)
    np.testing.assert_array_equal(t, np.repeat(np.arange(12), 6))
    np.testing.assert_array_equal(ids, np.tile(np.arange(1, 7), 12))
    for frame in range(12):
        sel = t == frame
        expected = ndi.center_of_mass(np.ones((96, 96)), movie.labels[frame], ids[sel])
        np.testing.assert_allclose(movie.tracks[sel, 2:], np.array(expected), atol=1e-9)


def test_random_walk_steps_are_bounded(movie):
    pos = movie.tracks[:, 2:].reshape(12, 6, 2)
    steps = np.linalg.norm(np.diff(pos, axis=0), axis=-1)
    # the centre moves at most 3 px; the pixel centroid adds a small discretisation error
    assert steps.max() <= 3.0 + 0.6
    assert steps.mean() > 0.5


def test_objects_never_touch_and_shapes_persist(movie, close_pairs):
    areas = np.stack([np.bincount(f.ravel(), minlength=7)[1:] for f in movie.labels])
    for frame in movie.labels:
        assert close_pairs(frame) == set()
    # an object keeps its shape: the area changes only by discretisation
    assert np.all(np.abs(areas - areas[0]) <= 0.15 * areas[0])


def test_image_follows_labels(movie):
    for clean, labels in zip(movie.clean, movie.labels):
        assert clean[labels > 0].mean() > 3 * clean[labels == 0].mean()


def test_3d_and_single_frame():
    tl = synthetic_timelapse(3, (16, 40, 40), n_objects=3, radius=(3, 4), seed=1)
    assert tl.axes == "TZYX" and tl.images.shape == (3, 16, 40, 40)
    assert tl.tracks.shape == (9, 5)
    one = synthetic_timelapse(1, (32, 32), n_objects=2, radius=(3, 4))
    assert one.images.shape == (1, 32, 32) and one.tracks.shape == (2, 4)


def test_deterministic():
    a = synthetic_timelapse(4, (48, 48), n_objects=3, radius=(4, 5), seed=9)
    b = synthetic_timelapse(4, (48, 48), n_objects=3, radius=(4, 5), seed=9)
    for field in ("images", "labels", "tracks", "clean"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = synthetic_timelapse(4, (48, 48), n_objects=3, radius=(4, 5), seed=10)
    assert not np.array_equal(a.tracks, c.tracks)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(n_frames=0), ValueError, "n_frames must be >= 1"),
        (dict(max_displacement=-1.0), ValueError, "max_displacement must be a finite number"),
        (dict(shape=(64,)), ValueError, "shape must have"),
        (dict(shape=(16, 16), radius=(5, 8)), ValueError, "too big for shape"),
        (dict(n_objects=-2), ValueError, "n_objects must be >= 0"),
    ],
)
def test_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        synthetic_timelapse(**kwargs)
