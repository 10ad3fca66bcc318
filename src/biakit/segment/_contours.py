"""Object outlines: sub-pixel contours (2D), surface meshes (3D) and boundary masks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage import measure

from biakit.blocks import declare_halo
from biakit.segment._common import (
    check_connectivity,
    check_labels,
    check_number,
    check_spacing,
)

BOUNDARY_MODES: tuple[str, ...] = ("inner", "outer", "thick")


def find_contours(mask_or_labels: Any, *, level: float = 0.5) -> dict[int, list[np.ndarray]]:
    """Sub-pixel outline(s) of every object of a 2D label image or mask.

    Each object is cut out (with a one-pixel empty border, so outlines close)
    and traced by marching squares (:func:`skimage.measure.find_contours`) on
    its 0/1 indicator at ``level``.

    Parameters
    ----------
    mask_or_labels : ndarray
        2D label image (0 = background) or boolean mask (one object, id 1).
    level : float
        Iso-level in ``(0, 1)`` of the indicator; 0.5 runs half-way between
        object and background pixel centres.

    Returns
    -------
    contours : dict of int to list of ndarray
        For each label id, its closed contours as ``(N, 2)`` float arrays of
        ``(row, col)`` coordinates (holes give extra contours).

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((5, 6), dtype=int)
    >>> labels[1:3, 1:3] = 4
    >>> c = find_contours(labels)
    >>> list(c), c[4][0].min(axis=0).tolist(), c[4][0].max(axis=0).tolist()
    ([4], [0.5, 0.5], [2.5, 2.5])
    """
    labels, is_mask = check_labels(mask_or_labels, "mask_or_labels", ndims=(2,))
    level = check_number(level, "level", minimum=0.0, inclusive=False)
    if level >= 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    labels = labels.astype(np.int32) if is_mask else labels
    out: dict[int, list[np.ndarray]] = {}
    for i, sl in enumerate(ndi.find_objects(labels)):
        if sl is None:
            continue
        crop = np.pad((labels[sl] == i + 1).astype(np.float64), 1)
        offset = np.array([s.start - 1 for s in sl], dtype=np.float64)
        out[i + 1] = [c + offset for c in measure.find_contours(crop, level)]
    return out


def mesh_surface(
    labels: Any,
    label_id: int,
    spacing: float | Sequence[float] | None = None,
    *,
    level: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Triangle mesh of one object of a 3D label image, by marching cubes.

    Parameters
    ----------
    labels : ndarray
        3D label image (ZYX) or boolean mask (object id 1).
    label_id : int
        The object to mesh.
    spacing : float or sequence of float, optional
        Physical voxel size per axis; vertices are returned in these units.
    level : float
        Iso-level in ``(0, 1)`` of the object's 0/1 indicator.

    Returns
    -------
    verts : ndarray of float, shape (V, 3)
        Vertex coordinates (z, y, x) in physical units, in the frame of the
        whole image.
    faces : ndarray of int, shape (F, 3)
        Triangles as indices into ``verts``.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((6, 6, 6), dtype=int)
    >>> labels[2:4, 2:4, 2:4] = 1
    >>> verts, faces = mesh_surface(labels, 1, spacing=(2.0, 1.0, 1.0))
    >>> verts.min(axis=0).tolist(), verts.max(axis=0).tolist()
    ([3.0, 1.5, 1.5], [7.0, 3.5, 3.5])
    """
    lab, _ = check_labels(labels, "labels", ndims=(3,))
    sp = check_spacing(spacing, 3)
    if isinstance(label_id, bool) or not isinstance(label_id, int | np.integer) or label_id < 1:
        raise ValueError(f"label_id must be a positive int, got {label_id!r}")
    level = check_number(level, "level", minimum=0.0, inclusive=False)
    if level >= 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    obj = lab == label_id
    if not obj.any():
        raise ValueError(f"label_id {label_id} does not occur in labels")
    sl = ndi.find_objects(obj.astype(np.int8))[0]
    crop = np.pad(obj[sl].astype(np.float32), 1)
    verts, faces, _, _ = measure.marching_cubes(crop, level=level, spacing=sp)
    offset = np.array([(s.start - 1) * d for s, d in zip(sl, sp)])
    return verts.astype(np.float64) + offset, faces


@declare_halo(1)
def boundaries(labels: Any, mode: str = "inner", *, connectivity: int = 1) -> np.ndarray:
    """Boolean mask of object boundaries (2D or 3D).

    A pixel's neighbours are taken with ``connectivity``; pixels outside the
    image are not neighbours.

    Parameters
    ----------
    labels : ndarray
        Label image (0 = background) or boolean mask.
    mode : {"inner", "outer", "thick"}
        ``"inner"``: object pixels with a neighbour of another value (another
        object or background); ``"outer"``: pixels with a neighbour of a
        *higher* value, i.e. the background ring around each object plus, where
        two objects touch, the one-pixel line on the side of the lower id;
        ``"thick"``: any pixel with a neighbour of another value (as in
        :func:`skimage.segmentation.find_boundaries`).
    connectivity : int
        1 = face neighbours, ``ndim`` = all neighbours.

    Returns
    -------
    mask : ndarray of bool

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((5, 5), dtype=int)
    >>> labels[1:4, 1:4] = 1
    >>> boundaries(labels, "inner").astype(int)[2]
    array([0, 1, 0, 1, 0])
    >>> boundaries(labels, "outer").astype(int)[2]
    array([1, 0, 0, 0, 1])
    """
    lab, _ = check_labels(labels)
    if not isinstance(mode, str) or mode not in BOUNDARY_MODES:
        raise ValueError(
            f"mode must be one of {', '.join(map(repr, BOUNDARY_MODES))}; got {mode!r}"
        )
    conn = check_connectivity(connectivity, lab.ndim)
    lab = lab.view(np.uint8) if lab.dtype == np.bool_ else lab
    fp = ndi.generate_binary_structure(lab.ndim, conn)
    hi = ndi.maximum_filter(lab, footprint=fp, mode="nearest")
    if mode == "outer":
        return np.asarray(hi > lab)
    lo = ndi.minimum_filter(lab, footprint=fp, mode="nearest")
    thick = (hi != lab) | (lo != lab)
    return np.asarray(thick & (lab > 0)) if mode == "inner" else np.asarray(thick)
