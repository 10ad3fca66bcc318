"""Overlays of label images on intensity images, for people to look at."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage as ndi

from biakit.errors import DataError, ParameterError

Color = tuple[int, int, int]


def palette(indices: np.ndarray | Sequence[int], *, seed: int = 0) -> np.ndarray:
    """Return the colour of each index of the label palette (index ``i``: label ``i + 1``).

    ``palette(range(n))`` equals ``label_colors(n)``.

    Examples
    --------
    >>> palette([0, 2]).shape
    (2, 3)

    """
    import matplotlib.colors as mcolors

    k = np.asarray(indices, dtype=np.int64)
    hues = (seed * 0.1 + k * 0.618033988749895) % 1.0
    sat = 0.65 + 0.35 * ((k * 7) % 3) / 2
    hsv = np.stack([hues, sat, np.full(k.shape, 1.0)], axis=-1).reshape(-1, 3)
    return (mcolors.hsv_to_rgb(hsv) * 255).astype(np.uint8).reshape(*k.shape, 3)


def label_colors(n: int, *, seed: int = 0) -> np.ndarray:
    """Return ``n`` distinct, bright RGB colours (uint8, shape ``(n, 3)``).

    Hues are spread by the golden ratio so neighbouring ids differ strongly;
    label ``i`` is drawn in colour ``i - 1`` unless told otherwise.

    Examples
    --------
    >>> label_colors(3).shape
    (3, 3)

    """
    return palette(np.arange(n), seed=seed)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.size == 0:
        return image.astype(np.uint8)
    lo, hi = np.percentile(image, [0.5, 99.8])
    scaled = np.clip((image - lo) / max(float(hi - lo), 1e-12), 0, 1)
    return (scaled * 255).astype(np.uint8)


def project(image: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a 3D image and its labels to 2D for display.

    The image becomes its maximum-intensity projection along Z and each pixel
    of the label projection shows the object nearest the viewer (lowest z).

    Examples
    --------
    >>> import numpy as np
    >>> lab = np.zeros((3, 4, 4), int); lab[1, 1, 1] = 7; lab[2, 1, 1] = 5
    >>> int(project(np.zeros((3, 4, 4)), lab)[1][1, 1])
    7

    """
    if image.ndim == 2:
        return image, labels
    fg = labels > 0
    first = np.where(fg.any(axis=0), fg.argmax(axis=0), 0)
    lab2d = np.take_along_axis(labels, first[None], axis=0)[0]
    return image.max(axis=0), lab2d


def grey_rgb(image: np.ndarray) -> np.ndarray:
    """Percentile-stretched grey rendering of a 2D image as float32 ``(Y, X, 3)`` in 0-255."""
    return np.repeat(_to_uint8(image)[..., None], 3, axis=2).astype(np.float32)


def outline_mask(ids: np.ndarray) -> np.ndarray:
    """Pixels of each object that touch another label or the background (3x3)."""
    return (ids > 0) & (ndi.grey_erosion(ids, size=3) != ndi.grey_dilation(ids, size=3))


def paint(
    rgb: np.ndarray,
    ids: np.ndarray,
    colors: np.ndarray,
    *,
    alpha: float,
    outline: bool = True,
    where: np.ndarray | None = None,
) -> None:
    """Blend ``colors[ids]`` into ``rgb`` in place where ``ids > 0`` (and ``where``)."""
    fg = ids > 0 if where is None else (ids > 0) & where
    rgb[fg] = (1 - alpha) * rgb[fg] + alpha * colors[ids[fg]]
    if outline:
        edge = outline_mask(ids)
        rgb[edge] = colors[ids[edge]]


def _lookup(labels: np.ndarray, colors: Mapping[int, Sequence[int]] | None) -> tuple:
    """Return ids indexing the colour table (0 = background) and the table."""
    top = int(labels.max(initial=0))
    direct = top <= max(2 * labels.size, 1 << 16)  # small labels index the table directly
    if direct:
        ids, values = labels, np.arange(top + 1)
    else:  # huge label values: compress them first
        values, inverse = np.unique(labels, return_inverse=True)
        ids = inverse.reshape(labels.shape).astype(np.int64)
        if values[0] != 0:
            ids += 1
            values = np.concatenate([[0], values])
    table = np.zeros((len(values), 3), np.float32)
    table[1:] = palette(values[1:] - 1)
    for value, rgb in (colors or {}).items():
        pos = int(value) if direct else int(np.searchsorted(values, value))
        if 0 < pos < len(values) and values[pos] == value:
            table[pos] = rgb
    return ids, table


def overlay_labels(
    image: np.ndarray,
    labels: np.ndarray,
    *,
    alpha: float = 0.35,
    outline: bool = True,
    colors: Mapping[int, Sequence[int]] | None = None,
) -> np.ndarray:
    """Colour each object on a grey rendering of ``image``.

    Parameters
    ----------
    image : numpy.ndarray
        2D or 3D intensity image (3D is shown as a maximum projection).
    labels : numpy.ndarray
        Label image of the same shape.
    alpha : float
        Opacity of the object fill, in [0, 1].
    outline : bool
        Draw object outlines at full opacity.
    colors : mapping of int to (r, g, b), optional
        Colour of given labels (0-255), e.g. from :func:`matched_colors` so a
        true object and its match look the same in two overlays; other labels
        get colour ``label - 1`` of :func:`label_colors`.

    Returns
    -------
    rgb : numpy.ndarray
        ``(Y, X, 3)`` uint8 image.

    Raises
    ------
    DataError
        If ``image`` and ``labels`` differ in shape.
    ParameterError
        If ``alpha`` is outside [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> lab = np.zeros((8, 8), int); lab[2:5, 2:5] = 1
    >>> overlay_labels(np.ones((8, 8)), lab).shape
    (8, 8, 3)

    """
    if image.shape != labels.shape:
        raise DataError(f"image shape {image.shape} differs from labels shape {labels.shape}")
    if not 0 <= alpha <= 1:
        raise ParameterError(f"alpha must be in [0, 1], got {alpha}")
    image, labels = project(np.asarray(image), np.asarray(labels))
    rgb = grey_rgb(image)
    ids, table = _lookup(labels.astype(np.int64), colors)
    if len(table) > 1:
        paint(rgb, ids, table, alpha=alpha, outline=outline)
    return rgb.astype(np.uint8)
