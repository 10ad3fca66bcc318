import numpy as np
import pytest

from biakit.data import synthetic_nuclei, synthetic_scribbles


def test_scribbles_stay_inside_classes_and_hit_fraction():
    s = synthetic_nuclei((128, 128), n_objects=12, seed=0)
    scribbles = synthetic_scribbles(s.mask, fraction=0.01, margin=2, seed=1)
    painted = scribbles > 0
    assert 0.005 <= painted.mean() <= 0.012
    assert np.all(s.mask[scribbles == 2]) and not np.any(s.mask[scribbles == 1])
    # margin 2: no painted pixel within 2 px of the other class
    from scipy import ndimage as ndi

    near_boundary = ndi.binary_dilation(s.mask, iterations=2) & ~ndi.binary_erosion(
        s.mask, iterations=2
    )
    assert not np.any(painted & near_boundary)


def test_scribbles_multiclass_3d_and_deterministic():
    classes = np.ones((8, 32, 32), np.uint8)
    classes[:, 8:24, 8:24] = 2
    classes[:, 12:20, 12:20] = 3
    a = synthetic_scribbles(classes, fraction=0.02, margin=1, seed=3)
    b = synthetic_scribbles(classes, fraction=0.02, margin=1, seed=3)
    assert np.array_equal(a, b)
    for value in (1, 2, 3):
        assert np.all(classes[a == value] == value) and np.any(a == value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"fraction": 0}, "fraction must be in"), ({"stroke_length": 0}, "stroke_length must be")],
)
def test_scribble_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        synthetic_scribbles(np.zeros((8, 8), bool), **kwargs)


def test_corrective_scribbles_paint_only_mistakes():
    from biakit.data import corrective_scribbles

    truth = np.zeros((40, 40), bool)
    truth[10:30, 10:30] = True
    prediction = np.ones((40, 40), np.uint8)
    prediction[10:30, 10:20] = 2  # right half of the square missed
    prediction[0:5, 0:5] = 2  # a false positive corner
    old = synthetic_scribbles(truth, fraction=0.01, seed=0)
    new = corrective_scribbles(truth, prediction, old, fraction=0.05, seed=1)
    added = (new > 0) & (old == 0)
    assert np.array_equal(new[old > 0], old[old > 0])
    assert added.any()
    assert np.all(prediction[added] != np.where(truth, 2, 1)[added])  # only on mistakes
    assert np.all(new[added] == np.where(truth, 2, 1)[added])  # with the true class
    with pytest.raises(ValueError, match=r"must have the same shape"):
        corrective_scribbles(truth, prediction[:5], old)
