import numpy as np
import pytest

from biakit.data import synthetic_nuclei, synthetic_scribbles
from biakit.errors import DataError
from biakit.pixel import LiveClassifier, LivePrediction, PixelClassifier, uncertainty_from_proba


@pytest.fixture(scope="module")
def sample():
    s = synthetic_nuclei((96, 80), n_objects=8, touching=0.3, seed=5)
    return s, synthetic_scribbles(s.mask, fraction=0.02, seed=1)


def test_update_equals_fresh_classifier(sample):
    s, scribbles = sample
    live = LiveClassifier(s.image, n_estimators=6, seed=3)
    fresh = PixelClassifier(n_estimators=6, seed=3).fit(s.image, scribbles)
    expected = fresh.predict_proba(s.image.copy())  # same pixels: fit's stack is reused
    whole = live.update(scribbles)
    assert isinstance(whole, LivePrediction)
    np.testing.assert_array_equal(whole.proba, expected)
    np.testing.assert_array_equal(whole.labels, fresh.predict(s.image))
    np.testing.assert_array_equal(whole.uncertainty, uncertainty_from_proba(expected))
    assert whole.classes.tolist() == [1, 2] and whole.fit_seconds >= 0
    view = (slice(10, 50), slice(-30, None))
    part = live.update(scribbles, view)
    np.testing.assert_array_equal(part.proba, expected[10:50, 50:80])
    assert part.view == (slice(10, 50, 1), slice(50, 80, 1))
    again = live.predict((slice(0, 5), slice(0, 80)))  # no refit
    np.testing.assert_array_equal(again.proba, expected[:5])
    assert again.fit_seconds == 0.0


def test_refit_follows_new_scribbles(sample):
    s, scribbles = sample
    live = LiveClassifier(s.image, n_estimators=4)
    first = live.update(scribbles).proba
    more = scribbles.copy()
    more[0, :20] = 2  # paint background as class 2: the model must change
    second = live.update(more).proba
    assert not np.array_equal(first, second)
    assert live.classifier.training_["n_pixels"] == int((more > 0).sum())


def test_multichannel_and_spacing(sample):
    s, scribbles = sample
    image = np.stack([s.image, s.image[::-1]], axis=-1)
    live = LiveClassifier(image, channel_axis=-1, spacing=(1.0, 2.0), n_estimators=4)
    fresh = PixelClassifier(n_estimators=4).fit(
        image, scribbles, channel_axis=-1, spacing=(1.0, 2.0)
    )
    np.testing.assert_array_equal(
        live.update(scribbles).proba, fresh.predict_proba(image.copy(), channel_axis=-1)
    )
    assert live.shape == (96, 80) and live.features_.shape[-1] == 2 * 13


def test_errors(sample):
    s, scribbles = sample
    live = LiveClassifier(s.image, n_estimators=2)
    with pytest.raises(RuntimeError, match=r"not trained yet"):
        live.predict()
    with pytest.raises(ValueError, match=r"only class 1 is painted"):
        live.update(np.where(scribbles == 1, 1, 0).astype(np.uint8))
    with pytest.raises(ValueError, match=r"scribbles 0 have shape \(5, 5\)"):
        live.update(np.zeros((5, 5), np.uint8))
    live.update(scribbles)
    with pytest.raises(ValueError, match=r"view must be 2 slices"):
        live.predict((slice(0, 4),))
    with pytest.raises(ValueError, match=r"view must be 2 slices"):
        live.predict((0, slice(0, 4)))
    with pytest.raises(ValueError, match=r"step 1"):
        live.predict((slice(0, 4, 2), slice(0, 4)))
    with pytest.raises(ValueError, match=r"is empty inside the image"):
        live.predict((slice(200, 300), slice(0, 4)))
    bad = s.image.copy()
    bad[3, 3] = np.nan
    with pytest.raises(DataError, match=r"image contains 1 NaN or infinite"):
        LiveClassifier(bad)
