"""A synthetic electron-microscopy volume with mitochondria-like instances (MitoEM-style).

The volume is lazy: two Dask arrays whose chunks are rendered independently from
the seed, so any chunk of a volume of tens of gigabytes is computed on its own and
every chunking gives the same voxels. Objects are defined globally: space is cut
into cells of the largest object's extent, and each cell draws its objects from a
random stream seeded by ``(seed, cell index)``; a chunk renders only the objects
of nearby cells that reach into it.

Model (lengths in nm, the unit of ``spacing``):

* **Mitochondria**: capsules (a cylinder with hemispherical caps), radius uniform
  in ``radius``, axis length uniform in ``length``, isotropic random direction.
  Centres form a Poisson process of ``density`` per µm³, thinned like Matérn's
  hard-core process II: when two axes come closer than ``0.8 (r1 + r2)`` the one
  with the lower random priority is dropped. Kept objects may still overlap a
  little: they then *touch*, split where their normalised depths are equal.
  Labels are exact (the voxel centre is inside the object's share), with ids
  stable across chunks (not consecutive).
* **Appearance** (uint8, EM contrast): cytoplasm 170, mitochondrial matrix about
  110 with darker lamellar cristae, a dark membrane (35) of ``membrane`` nm on each
  object's surface and on both sides of a contact, small unlabelled vesicles
  (dark rim, light lumen), all blurred slightly, plus granular cytoplasm texture
  and voxel noise taken from a hash of the voxel's global coordinates.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from biakit.errors import ParameterError

_DEEP = 0.8  # axes closer than this times the radii sum: the lower priority object is dropped
_MAX_PER_CELL = 64
_VESICLES = 20.0  # per µm³
_VESICLE_RADIUS = (15.0, 35.0)
_BLUR = (0.4, 0.8, 0.8)  # voxels (z, y, x), scaled by 8 nm / spacing in y, x
_GRAIN = (0.5, 1.2, 1.2)
_TONES = {"cytoplasm": 170.0, "matrix": 110.0, "cristae": 30.0, "membrane": 35.0}


@dataclass(frozen=True)
class _Model:
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    density: float
    radius: tuple[float, float]
    length: tuple[float, float]
    membrane: float
    seed: int

    @property
    def extent(self) -> float:
        return self.length[1] + 2 * self.radius[1]

    @property
    def cell(self) -> float:
        return max(self.extent, 4 * _VESICLE_RADIUS[1])

    @property
    def size_nm(self) -> np.ndarray:
        return np.asarray(self.shape, float) * self.spacing


def _range(value: Any, name: str, low: float) -> tuple[float, float]:
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        arr = np.array([np.nan])
    if arr.ndim != 1 or arr.size not in (1, 2) or not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} must be a number or a (low, high) pair, got {value!r}")
    lo, hi = float(arr[0]), float(arr[-1])
    if not low <= lo <= hi:
        raise ParameterError(f"{name} must satisfy {low:g} <= low <= high, got {value!r}")
    return lo, hi


def _model(shape, spacing, density, radius, length, membrane, seed) -> _Model:  # type: ignore[no-untyped-def]
    shp = tuple(int(s) for s in np.atleast_1d(shape)) if np.ndim(shape) == 1 else ()
    if len(shp) != 3 or any(s < 1 for s in shp) or list(shp) != list(np.atleast_1d(shape)):
        raise ParameterError(f"shape must be 3 positive integers (Z, Y, X), got {shape!r}")
    sp = np.broadcast_to(np.asarray(spacing, float), (3,)) if np.size(spacing) in (1, 3) else None
    if sp is None or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ParameterError(f"spacing must be 3 positive numbers (nm, Z Y X), got {spacing!r}")
    if not (isinstance(density, int | float) and np.isfinite(density) and density >= 0):
        raise ParameterError(f"density must be a number >= 0 (objects per µm³), got {density!r}")
    rad, lng = _range(radius, "radius", 1e-6), _range(length, "length", 0.0)
    if not (isinstance(membrane, int | float) and 0 <= membrane < rad[0]):
        raise ParameterError(
            f"membrane must be >= 0 and below the smallest radius {rad[0]:g}, got {membrane!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError(f"seed must be an integer >= 0, got {seed!r}")
    return _Model(
        shp, tuple(float(s) for s in sp), float(density), rad, lng, float(membrane), int(seed)
    )  # type: ignore[arg-type]


def _cell_draw(model: _Model, cell: tuple[int, int, int]) -> dict[str, np.ndarray]:
    """Objects and vesicles of one cell (parameters only), from its own random stream."""
    key = [model.seed, *(c + 2**20 for c in cell)]
    rng = np.random.default_rng(np.random.SeedSequence(key))
    volume = (model.cell / 1000.0) ** 3
    n = min(int(rng.poisson(model.density * volume)), _MAX_PER_CELL)
    lo = np.asarray(cell, float) * model.cell
    direction = rng.normal(size=(n, 3))
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-12)
    ny, nx = (np.ceil(model.size_nm[1:] / model.cell).astype(int) + 4).tolist()
    linear = ((cell[0] + 2) * ny + (cell[1] + 2)) * nx + (cell[2] + 2)
    objects = {
        "center": lo + rng.random((n, 3)) * model.cell,
        "direction": direction,
        "half": rng.uniform(*model.length, n) / 2,
        "radius": rng.uniform(*model.radius, n),
        "priority": rng.random(n),
        "tone": rng.uniform(-12, 12, n),
        "id": linear * _MAX_PER_CELL + np.arange(1, n + 1),
    }
    m = int(rng.poisson(_VESICLES * volume))
    objects["vesicle_center"] = lo + rng.random((m, 3)) * model.cell
    objects["vesicle_radius"] = rng.uniform(*_VESICLE_RADIUS, m)
    return objects


def _segment_distance(p1, d1, p2, d2):  # type: ignore[no-untyped-def]
    """Closest distance between segments ``p1 + s d1`` and ``p2 + t d2``, s and t in [0, 1].

    Vectorised over leading axes (Ericson, Real-Time Collision Detection, 5.1.9).
    """
    r = p1 - p2
    a, e = np.sum(d1 * d1, -1), np.sum(d2 * d2, -1)
    b, c, f = np.sum(d1 * d2, -1), np.sum(d1 * r, -1), np.sum(d2 * r, -1)
    tiny = 1e-12
    sa, se = np.where(a > tiny, a, 1.0), np.where(e > tiny, e, 1.0)
    denom = a * e - b * b
    s = np.clip((b * f - c * e) / np.where(denom > tiny, denom, 1.0), 0, 1)
    s = np.where(denom > tiny, s, 0.0)
    t = np.where(e > tiny, (b * s + f) / se, 0.0)
    s = np.where(e > tiny, s, np.clip(-c / sa, 0, 1))
    s = np.where(t < 0, np.clip(-c / sa, 0, 1), np.where(t > 1, np.clip((b - c) / sa, 0, 1), s))
    t = np.clip(t, 0, 1)
    t = np.where(a > tiny, t, np.clip(f / se, 0, 1))
    s = np.where(a > tiny, s, 0.0)
    return np.linalg.norm(r + d1 * s[..., None] - d2 * t[..., None], axis=-1)


def _near(model: _Model, lo: np.ndarray, hi: np.ndarray) -> tuple[dict, dict]:
    """All objects drawn near the box ``[lo, hi]`` (nm), and the kept ones reaching into it."""
    c_lo = np.floor((lo - 1.5 * model.extent) / model.cell).astype(int)
    c_hi = np.floor((hi + 1.5 * model.extent) / model.cell).astype(int)
    cells = itertools.product(*(range(a, b + 1) for a, b in zip(c_lo, c_hi)))
    draws = [_cell_draw(model, cell) for cell in cells]
    every = {k: np.concatenate([d[k] for d in draws]) for k in draws[0]}
    reach = np.abs(every["direction"]) * every["half"][:, None] + every["radius"][:, None]
    inside = np.all((every["center"] + reach >= lo) & (every["center"] - reach <= hi), axis=1)
    rel = np.flatnonzero(inside)
    kept = np.zeros(len(every["id"]), bool)
    kept[rel] = _survives(every, rel)
    near = {k: v[kept] for k, v in every.items() if not k.startswith("vesicle")}
    order = np.argsort(near["id"], kind="stable")
    near = {k: v[order] for k, v in near.items()}
    vc, vr = every["vesicle_center"], every["vesicle_radius"]
    vin = np.all((vc + vr[:, None] >= lo) & (vc - vr[:, None] <= hi), axis=1)
    near["vesicle_center"], near["vesicle_radius"] = vc[vin], vr[vin]
    return every, near


def _survives(every: dict, rel: np.ndarray) -> np.ndarray:
    """Matérn II thinning: False where a higher-priority object's axis comes too close."""
    c, u, h, r, p = (every[k] for k in ("center", "direction", "half", "radius", "priority"))
    start, step = c - u * h[:, None], 2 * u * h[:, None]
    gap = np.linalg.norm(c[rel, None] - c[None], axis=-1)
    limit = h[rel, None] + h[None] + _DEEP * (r[rel, None] + r[None])
    i, j = np.nonzero((gap < limit) & (p[None] > p[rel, None]))
    conflict = np.zeros(len(rel), bool)
    if len(i):
        dist = _segment_distance(start[rel[i]], step[rel[i]], start[j], step[j])
        hit = dist < _DEEP * (r[rel[i]] + r[j])
        conflict[np.unique(i[hit])] = True
    return ~conflict


def _coords(region: tuple[slice, ...], spacing: tuple[float, ...]) -> list[np.ndarray]:
    """Physical coordinates (nm) of the voxel centres of ``region``, broadcastable."""
    out = []
    for axis, (sl, sp) in enumerate(zip(region, spacing)):
        shape = [1, 1, 1]
        shape[axis] = sl.stop - sl.start
        out.append((np.arange(sl.start, sl.stop, dtype=np.float32) * np.float32(sp)).reshape(shape))
    return out


def _sub(region: tuple[slice, ...], lo: np.ndarray, hi: np.ndarray, spacing: tuple) -> Any:
    """Return the part of ``region`` (voxels) inside the physical box ``[lo, hi]``, or None."""
    out = []
    for sl, a, b, sp in zip(region, lo, hi, spacing):
        start, stop = max(sl.start, int(np.ceil(a / sp))), min(sl.stop, int(np.floor(b / sp)) + 1)
        if start >= stop:
            return None
        out.append(slice(start, stop))
    return tuple(out)


def _assign(model: _Model, near: dict, region: tuple[slice, ...]) -> dict[str, np.ndarray]:
    """Per voxel: owning object (index into ``near``), depths q1 <= q2, axial position."""
    shape = tuple(s.stop - s.start for s in region)
    q1, q2 = np.full(shape, np.inf, np.float32), np.full(shape, np.inf, np.float32)
    owner, along = np.full(shape, -1, np.int32), np.zeros(shape, np.float32)
    reach = np.abs(near["direction"]) * near["half"][:, None] + near["radius"][:, None]
    for k, (c, u, h, r) in enumerate(
        zip(near["center"], near["direction"], near["half"], near["radius"])
    ):
        sub = _sub(region, c - reach[k], c + reach[k], model.spacing)
        if sub is None:
            continue
        w = [g - np.float32(ci) for g, ci in zip(_coords(sub, model.spacing), c)]
        t = w[0] * np.float32(u[0]) + w[1] * np.float32(u[1]) + w[2] * np.float32(u[2])
        tc = np.clip(t, -np.float32(h), np.float32(h))
        d2 = w[0] ** 2 + w[1] ** 2 + w[2] ** 2 - 2 * tc * t + tc * tc
        q = np.sqrt(np.maximum(d2, 0)) / np.float32(r)
        local = tuple(slice(s.start - g.start, s.stop - g.start) for s, g in zip(sub, region))
        b1, b2, bo, ba = q1[local], q2[local], owner[local], along[local]
        inside = q < 1
        first = inside & (q < b1)
        second = inside & ~first & (q < b2)
        b2[first] = b1[first]
        b2[second] = q[second]
        b1[first], bo[first], ba[first] = q[first], k, t[first]
    return {"q1": q1, "q2": q2, "owner": owner, "along": along}


def _voxels(sigma_nm: Sequence[float], spacing: Sequence[float]) -> tuple[float, ...]:
    return tuple(s / sp for s, sp in zip(sigma_nm, spacing))


def _hash_noise(seed: int, region: tuple[slice, ...]) -> np.ndarray:
    """Unit-variance noise from a hash (murmur3's finaliser) of the global voxel coordinates."""
    mult = (0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D)
    h = np.uint32((seed * 0x27D4EB2F + 0x165667B1) % 2**32)
    for axis, (sl, m) in enumerate(zip(region, mult)):
        shape = [1, 1, 1]
        shape[axis] = sl.stop - sl.start
        idx = (np.arange(sl.start, sl.stop, dtype=np.int64) + 2**20).astype(np.uint32)
        h = h ^ (idx * np.uint32(m)).reshape(shape)
    for shift, m in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        h ^= h >> np.uint32(shift)
        h *= np.uint32(m)
    h ^= h >> np.uint32(16)
    low = (h & np.uint32(0xFFFF)).astype(np.float32)
    low += (h >> np.uint32(16)).astype(np.float32)
    low -= np.float32(65535)
    low *= np.float32(np.sqrt(6.0) / 65536.0)
    return low


def _grain_gain(sigma: tuple[float, ...]) -> float:
    """1 / sd of unit white noise after the Gaussian filter (to give it unit sd again)."""
    gain = 1.0
    for s in sigma:
        delta = np.zeros(2 * int(np.ceil(4 * s)) + 1)
        delta[len(delta) // 2] = 1
        gain /= float(np.sqrt(np.sum(ndi.gaussian_filter1d(delta, s, mode="constant") ** 2)))
    return gain


def _paint_vesicles(image: np.ndarray, model: _Model, near: dict, region: tuple) -> None:
    for c, r in zip(near["vesicle_center"], near["vesicle_radius"]):
        sub = _sub(region, c - r, c + r, model.spacing)
        if sub is None:
            continue
        w = [g - np.float32(ci) for g, ci in zip(_coords(sub, model.spacing), c)]
        d = np.sqrt(w[0] ** 2 + w[1] ** 2 + w[2] ** 2)
        local = image[
            tuple(slice(s.start - g.start, s.stop - g.start) for s, g in zip(sub, region))
        ]
        local[d <= r] = 75.0
        local[d < r - max(model.membrane, 8.0)] = 175.0


def _render(model: _Model, region: tuple[slice, ...], what: str) -> np.ndarray:
    """Render the image (uint8) or labels (int32) of one chunk ``region`` (voxels)."""
    if what == "labels":
        lo = np.array([s.start for s in region]) * model.spacing
        hi = np.array([s.stop - 1 for s in region]) * model.spacing
        near = _near(model, lo, hi)[1]
        owner = _assign(model, near, region)["owner"]
        ids = np.concatenate([[0], near["id"]]).astype(np.int32)
        return ids[owner + 1]
    blur, grain = (
        _voxels((12.0, 6.4, 6.4), model.spacing),
        _voxels((15.0, 10.0, 10.0), model.spacing),
    )
    pad = [int(np.ceil(4 * max(a, b))) for a, b in zip(blur, grain)]
    big = tuple(slice(s.start - p, s.stop + p) for s, p in zip(region, pad))
    lo = np.array([s.start for s in big]) * model.spacing
    hi = np.array([s.stop - 1 for s in big]) * model.spacing
    near = _near(model, lo, hi)[1]
    a = _assign(model, near, big)
    image = np.full(a["q1"].shape, _TONES["cytoplasm"], np.float32)
    _paint_vesicles(image, model, near, big)
    inside = a["owner"] >= 0
    k = a["owner"][inside]
    r, q1, q2 = near["radius"][k].astype(np.float32), a["q1"][inside], a["q2"][inside]
    depth = (1 - q1) * r
    contact = (q2 - q1) * r / 2  # about the distance to the contact with a neighbour
    cristae = (np.cos(a["along"][inside] * np.float32(2 * np.pi / 80.0)) > 0.6) & (depth > 30)
    tone = _TONES["matrix"] + near["tone"][k] - _TONES["cristae"] * cristae
    membrane = (depth < model.membrane) | (contact < model.membrane)
    image[inside] = np.where(membrane, _TONES["membrane"], tone)
    image = ndi.gaussian_filter(image, blur, mode="nearest")
    noise = _hash_noise(model.seed, big)  # voxel noise, and smoothed: granular texture
    image += np.float32(10 * _grain_gain(grain)) * ndi.gaussian_filter(noise, grain, mode="nearest")
    image += np.float32(10) * noise
    crop = tuple(slice(p, -p if p else None) for p in pad)
    return np.clip(np.rint(image[crop]), 0, 255).astype(np.uint8)


def _chunk(block_info: Any = None, *, model: _Model, what: str) -> np.ndarray:
    location = block_info[None]["array-location"]
    return _render(model, tuple(slice(a, b) for a, b in location), what)


def _chunks(chunks: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    arr = np.atleast_1d(np.asarray(chunks))
    if arr.ndim != 1 or arr.size not in (1, 3) or arr.dtype.kind not in "iu" or np.any(arr < 1):
        raise ParameterError(f"chunks must be 1 or 3 positive integers (Z, Y, X), got {chunks!r}")
    return tuple(min(int(c), n) for c, n in zip(np.broadcast_to(arr, (3,)), shape))


def synthetic_em_volume(
    shape: Sequence[int],
    *,
    spacing: float | Sequence[float] = (30.0, 8.0, 8.0),
    density: float = 4.0,
    radius: float | tuple[float, float] = (60.0, 130.0),
    length: float | tuple[float, float] = (0.0, 800.0),
    membrane: float = 14.0,
    chunks: int | Sequence[int] = (32, 256, 256),
    seed: int = 0,
) -> tuple[Any, Any]:
    """Make a lazy EM-like volume with mitochondria-like instances and exact labels.

    See the module documentation for the model. Each chunk is rendered on its own
    from ``seed``: computing any sub-volume, with any chunking, gives the same voxels,
    so volumes of tens of gigabytes are generated chunk by chunk (write them with
    :func:`biakit.io.write_image`, or compute only the region you need).

    Parameters
    ----------
    shape : sequence of 3 int
        ``(Z, Y, X)`` voxels.
    spacing : float or sequence of float
        Voxel size in nm, ``(z, y, x)``; MitoEM's is ``(30, 8, 8)``.
    density : float
        Mitochondria centres per µm³ before the hard-core thinning.
    radius, length : float or (float, float)
        Ranges (nm) of the capsule radius and of its axis length (without the caps).
    membrane : float
        Thickness (nm) of the dark membrane drawn inside each object's surface.
    chunks : int or sequence of int
        Dask chunk shape of both arrays.
    seed : int
        Seed; the same seed gives the same volume.

    Returns
    -------
    image : dask.array.Array of uint8
        EM contrast: dark membranes, darker mitochondria, noisy cytoplasm.
    labels : dask.array.Array of int32
        Mitochondria ids (0 = background), stable across chunks, not consecutive.

    Raises
    ------
    ParameterError
        A parameter outside its documented range.

    Examples
    --------
    >>> image, labels = synthetic_em_volume((16, 96, 96), chunks=(16, 48, 48), seed=1)
    >>> image.dtype, labels.dtype, image.chunksize
    (dtype('uint8'), dtype('int32'), (16, 48, 48))
    >>> bool((labels[:, :48].compute() == labels.compute()[:, :48]).all())
    True
    """
    import dask.array as da

    model = _model(shape, spacing, density, radius, length, membrane, seed)
    chunk = _chunks(chunks, model.shape)
    token = f"{model.seed}-{abs(hash(model)) % 10**12}-{chunk}"
    out = []
    for what, dtype in (("image", np.uint8), ("labels", np.int32)):
        out.append(
            da.map_blocks(
                partial(_chunk, model=model, what=what),
                chunks=da.core.normalize_chunks(chunk, model.shape),
                dtype=dtype,
                meta=np.empty((0, 0, 0), dtype),
                name=f"synthetic-em-{what}-{token}",
            )
        )
    return out[0], out[1]


def em_volume_objects(
    shape: Sequence[int],
    *,
    spacing: float | Sequence[float] = (30.0, 8.0, 8.0),
    density: float = 4.0,
    radius: float | tuple[float, float] = (60.0, 130.0),
    length: float | tuple[float, float] = (0.0, 800.0),
    membrane: float = 14.0,
    seed: int = 0,
) -> Any:
    """List the mitochondria of :func:`synthetic_em_volume` drawn near the volume.

    Parameters are those of :func:`synthetic_em_volume` (without ``chunks``).

    Returns
    -------
    pandas.DataFrame
        One row per object drawn whose bounding box reaches the volume: ``id``,
        centre ``z, y, x`` and axis direction ``dz, dy, dx`` (nm), ``length`` (axis,
        without the caps), ``radius`` and ``kept`` (False: removed by the thinning).
        The label image holds kept objects only (those reaching a voxel centre).

    Examples
    --------
    >>> table = em_volume_objects((32, 128, 128), seed=0)
    >>> sorted(table.columns)[:4], bool(table["kept"].any())
    (['dx', 'dy', 'dz', 'id'], True)
    """
    import pandas as pd

    model = _model(shape, spacing, density, radius, length, membrane, seed)
    hi = (np.asarray(model.shape) - 1) * model.spacing
    every, near = _near(model, np.zeros(3), hi)
    reach = np.abs(every["direction"]) * every["half"][:, None] + every["radius"][:, None]
    rows = np.all((every["center"] + reach >= 0) & (every["center"] - reach <= hi), axis=1)
    c, u = every["center"][rows], every["direction"][rows]
    return pd.DataFrame(
        {
            "id": every["id"][rows].astype(np.int64),
            "z": c[:, 0],
            "y": c[:, 1],
            "x": c[:, 2],
            "dz": u[:, 0],
            "dy": u[:, 1],
            "dx": u[:, 2],
            "length": 2 * every["half"][rows],
            "radius": every["radius"][rows],
            "kept": np.isin(every["id"][rows], near["id"]),
        }
    )
