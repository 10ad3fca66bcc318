"""Overlays of label images on intensity images, for people to look at."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def label_colors(n: int, *, seed: int = 0) -> np.ndarray:
    """Return ``n`` distinct, bright RGB colours (uint8, shape ``(n, 3)``).

    Hues are spread by the golden ratio so neighbouring ids differ strongly.

    Examples
    --------
    >>> label_colors(3).shape
    (3, 3)

    """
    import matplotlib.colors as mcolors

    hues = (seed * 0.1 + np.arange(n) * 0.618033988749895) % 1.0
    sat = 0.65 + 0.35 * ((np.arange(n) * 7) % 3) / 2
    hsv = np.stack([hues, sat, np.full(n, 1.0)], axis=1)
    return (mcolors.hsv_to_rgb(hsv) * 255).astype(np.uint8)


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
    """
    if image.ndim == 2:
        return image, labels
    fg = labels > 0
    first = np.where(fg.any(axis=0), fg.argmax(axis=0), 0)
    lab2d = np.take_along_axis(labels, first[None], axis=0)[0]
    return image.max(axis=0), lab2d


def overlay_labels(
    image: np.ndarray, labels: np.ndarray, *, alpha: float = 0.35, outline: bool = True
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

    Returns
    -------
    rgb : numpy.ndarray
        ``(Y, X, 3)`` uint8 image.

    Examples
    --------
    >>> import numpy as np
    >>> lab = np.zeros((8, 8), int); lab[2:5, 2:5] = 1
    >>> overlay_labels(np.ones((8, 8)), lab).shape
    (8, 8, 3)

    """
    if image.shape != labels.shape:
        raise ValueError(f"image shape {image.shape} differs from labels shape {labels.shape}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    image, labels = project(np.asarray(image), np.asarray(labels))
    grey = _to_uint8(image)
    rgb = np.repeat(grey[..., None], 3, axis=2).astype(np.float32)
    ids = labels.astype(np.int64)
    if ids.max(initial=0) > 0:
        colors = np.concatenate([[[0, 0, 0]], label_colors(int(ids.max()))]).astype(np.float32)
        fg = ids > 0
        rgb[fg] = (1 - alpha) * rgb[fg] + alpha * colors[ids[fg]]
        if outline:
            edge = fg & (ndi.grey_erosion(ids, size=3) != ndi.grey_dilation(ids, size=3))
            rgb[edge] = colors[ids[edge]]
    return rgb.astype(np.uint8)
