import numpy as np
import pytest


def ball(radius: float, spacing, margin: int = 3) -> np.ndarray:
    """Integer mask of a ball (disc in 2D) of physical ``radius``, round in physical space."""
    spacing = np.asarray(spacing, dtype=float)
    sizes = [int(np.ceil(2 * radius / s)) + 2 * margin for s in spacing]
    grids = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * s for n, s in zip(sizes, spacing)],
                        indexing="ij")  # fmt: skip
    return (sum(g**2 for g in grids) <= radius**2).astype(np.int32)


@pytest.fixture
def make_ball():
    return ball


@pytest.fixture
def blobs2d():
    from scipy import ndimage as ndi
    from skimage.measure import label

    rng = np.random.default_rng(0)
    img = ndi.gaussian_filter(rng.random((120, 120)), 3)
    labels = label(img > np.percentile(img, 60))
    return labels, rng.random((120, 120))


@pytest.fixture
def blobs3d():
    from scipy import ndimage as ndi
    from skimage.measure import label

    rng = np.random.default_rng(1)
    img = ndi.gaussian_filter(rng.random((24, 40, 40)), 2.5)
    labels = label(img > np.percentile(img, 75))
    return labels, rng.random((24, 40, 40))
