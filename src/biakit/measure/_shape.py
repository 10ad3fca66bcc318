"""Per-object shape features: perimeter, convex hull (solidity) and surface mesh area."""

from __future__ import annotations

from itertools import product
from math import sqrt

import numpy as np
from scipy import ndimage as ndi
from scipy import sparse
from scipy.spatial import ConvexHull, QhullError

_STREL4 = ndi.generate_binary_structure(2, 1)
# border-pixel code: 1 (centre) + 2 * vertical + 50 * horizontal + 10 * diagonal neighbours
_CODE_KERNEL = np.array([[10, 2, 10], [50, 1, 50], [10, 2, 10]])


def _perimeter_lut(sy: float, sx: float) -> np.ndarray:
    """Weights of skimage's perimeter configurations, in physical step lengths.

    skimage (4-neighbourhood) weighs each border pixel by its neighbour
    configuration: 1 for a straight or corner step, sqrt(2) for a diagonal step
    and (1 + sqrt(2)) / 2 for a half-straight, half-diagonal one. Here a step
    along X counts ``sx``, along Y ``sy``, a diagonal ``hypot(sy, sx)`` and a
    corner ``(sy + sx) / 2``, so isotropic spacing gives skimage times ``s``.
    """
    diag = sqrt(sy * sy + sx * sx)
    lut = np.zeros(1 + 2 * 2 + 50 * 2 + 10 * 4 + 1)
    for nv, nh, nd in product(range(3), range(3), range(5)):
        iso = 1 + 2 * (nv + nh) + 10 * nd
        straight = sx if nh > nv else sy if nv > nh else 0.5 * (sx + sy)
        if iso in (5, 7, 15, 17, 25, 27):
            weight = straight
        elif iso in (21, 33):
            weight = diag
        elif iso in (13, 23):
            weight = 0.5 * (straight + diag)
        else:
            continue
        lut[1 + 2 * nv + 50 * nh + 10 * nd] = weight
    return lut


def perimeter_2d(obj: np.ndarray, lut: np.ndarray) -> float:
    """Physical perimeter of one binary 2D object (see :func:`_perimeter_lut`)."""
    image = obj.astype(np.uint8)
    border = image - ndi.binary_erosion(image, _STREL4, border_value=0)
    code = ndi.convolve(border, _CODE_KERNEL, mode="constant", cval=0)
    return float(lut[code[border.astype(bool)]].sum())


def _diamond_offsets(ndim: int) -> np.ndarray:
    eye = 0.5 * np.eye(ndim)
    return np.concatenate([eye, -eye])


def convex_count(obj: np.ndarray) -> int:
    """Pixels of the convex hull image of an object, as ``skimage.morphology.convex_hull_image``.

    The hull is that of the pixel centres offset by half a pixel along each
    axis (2D or 3D); unlike skimage it also works for flat or linear 3D objects
    (no warning, no empty hull) by skipping the reduction step when Qhull fails.
    """
    ndim = obj.ndim
    # the hull of the voxels is the hull of the first and last voxel of every X run
    runs = obj.any(axis=-1)
    first = np.argmax(obj, axis=-1)[runs]
    last = obj.shape[-1] - 1 - np.argmax(obj[..., ::-1], axis=-1)[runs]
    zy = np.argwhere(runs)
    coords = np.concatenate([np.column_stack([zy, first]), np.column_stack([zy, last])]).astype(
        float
    )
    try:
        coords = coords[ConvexHull(coords).vertices]
    except (QhullError, ValueError):
        pass  # degenerate (coplanar / collinear): the offsets below make it solid
    pts = np.unique((coords[:, None, :] + _diamond_offsets(ndim)).reshape(-1, ndim), axis=0)
    eq = ConvexHull(pts).equations
    # object voxels are inside; the others must satisfy every facet inequality
    cand = np.argwhere(~obj).astype(float)
    for start in range(0, eq.shape[0], 32):  # facets in groups; outside points drop out early
        facets = eq[start : start + 32]
        cand = cand[(cand @ facets[:, :ndim].T + facets[:, ndim] < 1e-10).all(axis=1)]
        if cand.shape[0] == 0:
            break
    return int(np.count_nonzero(obj)) + cand.shape[0]


def _taubin(verts: np.ndarray, faces: np.ndarray, iterations: int) -> np.ndarray:
    """Taubin (1995) lambda/mu smoothing: removes voxel terracing without shrinking."""
    n = verts.shape[0]
    i = faces[:, [0, 1, 2, 1, 2, 0]].ravel()
    j = faces[:, [1, 2, 0, 0, 1, 2]].ravel()
    adj = sparse.csr_array((np.ones(i.size), (i, j)), shape=(n, n))
    adj.sum_duplicates()
    adj.data[:] = 1.0
    degree = np.asarray(adj.sum(axis=1)).reshape(-1, 1)
    for _ in range(iterations):
        for factor in (0.5, -0.53):
            verts = verts + factor * (adj @ verts / degree - verts)
    return verts


def surface_area_3d(obj: np.ndarray, spacing: np.ndarray, smoothing: int) -> float:
    """Area of the marching-cubes surface of one 3D object, in physical units.

    The mesh is extracted at level 0.5 from the zero-padded mask with
    ``spacing``, then smoothed by ``smoothing`` Taubin iterations (0: raw mesh).
    Raw marching cubes on a binary mask over-estimates the area of curved
    surfaces by about 9 % (voxel terracing); 10 iterations bring a digital ball
    within about 2 %.
    """
    from skimage.measure import marching_cubes, mesh_surface_area

    padded = np.pad(obj, 1).astype(np.float32)
    verts, faces, _, _ = marching_cubes(padded, 0.5, spacing=tuple(spacing))
    if smoothing > 0:
        verts = _taubin(verts, faces, smoothing)
    return float(mesh_surface_area(verts, faces))


def per_object_features(
    compact: np.ndarray,
    spacing: np.ndarray,
    wanted: set[str],
    mesh_smoothing: int,
) -> dict[str, np.ndarray]:
    """Loop over objects for ``perimeter``, ``solidity`` and ``surface_area``."""
    slices = ndi.find_objects(compact)
    n = len(slices)
    out = {
        name: np.empty(n) for name in ("perimeter", "solidity", "surface_area") if name in wanted
    }
    lut = _perimeter_lut(*spacing) if "perimeter" in out else None
    for k, sl in enumerate(slices):
        obj = compact[sl] == k + 1
        if lut is not None:
            out["perimeter"][k] = perimeter_2d(obj, lut)
        if "solidity" in out:
            out["solidity"][k] = obj.sum() / convex_count(obj)
        if "surface_area" in out:
            out["surface_area"][k] = surface_area_3d(obj, spacing, mesh_smoothing)
    return out
