"""Sample images that ship inside installed packages (no download, no network)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from biakit.io._meta import ImageMeta


class _Sample(NamedTuple):
    loader: str  # function name in skimage.data
    axes: str
    spacing: tuple[float, ...] | None
    unit: str
    description: str


# Only images stored inside the scikit-image wheel: those behind pooch downloads
# (human_mitosis, cells3d, kidney, ...) are deliberately absent.
_SAMPLES: dict[str, _Sample] = {
    "cell": _Sample(
        "cell",
        "YX",
        (0.107, 0.107),
        "micrometer",
        "Quantitative phase image of a cell floating in saline, banded background (660x550).",
    ),
    "coins": _Sample(
        "coins",
        "YX",
        None,
        "pixel",
        "Greek coins from Pompeii on a grey background, a classic segmentation test (303x384).",
    ),
    "immunohistochemistry": _Sample(
        "immunohistochemistry",
        "YXC",
        None,
        "pixel",
        "RGB brightfield IHC of colonic glands: DAB (FHL2), hematoxylin counterstain (512x512).",
    ),
    "microaneurysms": _Sample(
        "microaneurysms",
        "YX",
        None,
        "pixel",
        "Green channel crop of a retinal fundus image with microaneurysm lesions (102x102).",
    ),
    "retina": _Sample(
        "retina",
        "YXC",
        None,
        "pixel",
        "RGB fundus photograph of a normal human retina, vessels on a dark disk (1411x1411).",
    ),
}


def list_sample_images() -> list[str]:
    """Names accepted by :func:`sample_image`, sorted.

    Every one loads offline from files inside the installed scikit-image.

    Examples
    --------
    >>> "cell" in list_sample_images()
    True
    """
    return sorted(_SAMPLES)


def sample_image(name: str) -> tuple[np.ndarray, ImageMeta]:
    """Load a sample image shipped inside an installed package (offline).

    Parameters
    ----------
    name : str
        One of :func:`list_sample_images`: ``"cell"``, ``"coins"``,
        ``"immunohistochemistry"``, ``"microaneurysms"``, ``"retina"``.

    Returns
    -------
    image : ndarray
        The image as stored (uint8; RGB images have a trailing channel axis).
    meta : ImageMeta
        Axes (``"YX"`` or ``"YXC"``), spacing when known (``unit="pixel"``
        otherwise) and ``extra`` with ``"description"`` and ``"source"``.

    Raises
    ------
    ValueError
        If ``name`` is not a known sample.

    Examples
    --------
    >>> image, meta = sample_image("coins")
    >>> image.shape, meta.axes
    ((303, 384), 'YX')
    """
    if name not in _SAMPLES:
        raise ValueError(f"unknown sample image {name!r}; valid names are {list_sample_images()}")
    import skimage.data

    sample = _SAMPLES[name]
    image = np.asarray(getattr(skimage.data, sample.loader)())
    spacing = None
    if sample.spacing is not None:
        spacing = sample.spacing + (1.0,) * (len(sample.axes) - len(sample.spacing))
    meta = ImageMeta(
        sample.axes,
        spacing,
        unit=sample.unit,
        extra={"description": sample.description, "source": f"skimage.data.{sample.loader}"},
    )
    return image, meta
