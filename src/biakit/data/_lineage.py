"""Synthetic time-lapse with divisions, entries and exits, and exact CTC ground truth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage as ndi

from biakit.data import _common as c
from biakit.data._geometry import make_ellipsoid, random_rotation, raster

if TYPE_CHECKING:
    from biakit.track import TrackGraph

_TRIES = 10
_ASPECT = 1.25  # longest / shortest semi-axis at most
_DAUGHTER = 0.8  # daughter radius / mother radius
_GROWTH = 1.02  # radius growth per frame, up to the cell's own radius
_GAP = 2.0  # smallest distance between bounding circles, pixels
_BACKGROUND = 0.1


@dataclass(frozen=True, eq=False)
class SyntheticLineage:
    """A time-lapse of moving, dividing cells with Cell Tracking Challenge ground truth.

    Attributes
    ----------
    images : ndarray of float32
        Noisy frames, axes ``"TYX"`` (or ``"TZYX"``).
    masks : ndarray of uint16
        Label images; an object's label is its CTC segment label ``L``.
    table : ndarray of int64, shape (k, 4)
        CTC ``L B E P`` rows sorted by ``L``: segment label, first and last
        frame, parent segment (0 for none). A division ends the mother's
        segment; its two daughters start in the next frame with ``P`` = mother.
    graph : biakit.track.TrackGraph
        The ground-truth track graph (``biakit.track.from_ctc(masks, table)``).
    spacing : tuple of float
        Pixel size of the spatial axes (1.0: all motion is in pixels).
    axes : str
        ``"TYX"`` or ``"TZYX"``.
    """

    images: np.ndarray
    masks: np.ndarray
    table: np.ndarray
    graph: TrackGraph
    spacing: tuple[float, ...]
    axes: str

    @property
    def n_divisions(self) -> int:
        """Number of divisions (mothers with daughters)."""
        parents = self.table[:, 3]
        return int(np.unique(parents[parents > 0]).size)


class _Cells:
    """Living cells as parallel arrays; ``bound`` is the bounding-circle radius."""

    def __init__(self, ndim: int) -> None:
        self.label = np.zeros(0, np.int64)
        self.centre = np.zeros((0, ndim))
        self.radius = np.zeros(0)
        self.target = np.zeros(0)
        self.ratio = np.zeros((0, ndim))
        self.rot = np.zeros((0, ndim, ndim))
        self.bright = np.zeros(0)

    def add(self, **cols: np.ndarray) -> None:
        for name, value in cols.items():
            old = getattr(self, name)
            setattr(self, name, np.concatenate([old, np.asarray(value, old.dtype)]))

    def keep(self, mask: np.ndarray) -> None:
        for name in ("label", "centre", "radius", "target", "ratio", "rot", "bright"):
            setattr(self, name, getattr(self, name)[mask])

    @property
    def bound(self) -> np.ndarray:
        return self.radius * self.ratio.max(axis=1)


def _clear(pos: np.ndarray, bound: float, cells: _Cells, skip: Sequence[int]) -> bool:
    """Tell whether a circle at ``pos`` keeps the gap to every cell not in ``skip``."""
    if not cells.label.size:
        return True
    dist = np.sqrt(((cells.centre - pos) ** 2).sum(axis=1)) - cells.bound - bound
    dist[list(skip)] = np.inf
    return bool(dist.min() > _GAP)


def _inside(pos: np.ndarray, shape: tuple[int, ...]) -> bool:
    return bool(np.all(pos >= 0) and np.all(pos <= np.subtract(shape, 1)))


def _shapes(n: int, ndim: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Semi-axis ratios (geometric mean 1, aspect <= _ASPECT) and rotations."""
    e = rng.uniform(1.0, _ASPECT, n)
    base = np.stack([np.sqrt(e), 1 / np.sqrt(e), np.ones(n)][:ndim], axis=1)
    rot = [random_rotation(ndim, rng) for _ in range(n)]
    return base, np.stack(rot) if n else np.zeros((0, ndim, ndim))


def _new_cells(
    centres: np.ndarray, target: np.ndarray, scale: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    centres, target, scale = np.asarray(centres, float), np.asarray(target), np.asarray(scale)
    n, ndim = centres.shape
    ratio, rot = _shapes(n, ndim, rng)
    return {
        "centre": centres,
        "radius": target * scale,
        "target": target,
        "ratio": ratio,
        "rot": rot,
        "bright": rng.uniform(0.5, 1.0, n),
    }


def _place(cells: _Cells, shape: tuple[int, ...], n: int, radius: tuple, rng, labels) -> None:
    """Lay out the first cells at random free positions (fewer if they do not fit)."""
    for _ in range(n):
        target = rng.uniform(*radius)
        scale = rng.uniform(_DAUGHTER, 1.0)
        for _ in range(50):
            pos = rng.uniform(0, np.subtract(shape, 1))
            if _clear(pos, target * scale * _ASPECT**0.5, cells, ()):
                cells.add(label=[next(labels)], **_new_cells(pos[None], [target], [scale], rng))
                break


def _divide(cells, i, t, rows, labels, shape, rng) -> bool:
    """Replace cell ``i`` by two daughters side by side along a random axis."""
    ndim = len(shape)
    ratio, _ = _shapes(1, ndim, rng)
    r = cells.radius[i] * _DAUGHTER
    bound = r * ratio.max()
    for _ in range(_TRIES):
        u = rng.standard_normal(ndim)
        u /= np.linalg.norm(u)
        pos = cells.centre[i] + np.outer([1, -1], u) * (bound + _GAP / 2 + 1e-6)
        if not all(_inside(p, shape) and _clear(p, bound, cells, [i]) for p in pos):
            continue
        new = _new_cells(pos, np.repeat(cells.target[i], 2), np.full(2, r / cells.target[i]), rng)
        new["ratio"] = np.repeat(ratio, 2, axis=0)
        new["bright"] = cells.bright[i] * rng.uniform(0.9, 1.1, 2)
        mother = int(cells.label[i])
        rows[mother][2] = t - 1
        kids = [next(labels), next(labels)]
        for k in kids:
            rows[k] = [k, t, t, mother]
        cells.add(label=kids, **new)
        return True
    return False


def _move(cells: _Cells, i: int, shift: np.ndarray, shape, rng) -> bool:
    """Brownian step of cell ``i`` with growth; False when it leaves the image."""
    grown = min(cells.target[i], cells.radius[i] * _GROWTH)
    bound = grown * cells.ratio[i].max()
    for k in range(_TRIES):
        pos = cells.centre[i] + shift[0] + shift[1] * rng.standard_normal(len(shape))
        if k == 0 and not _inside(pos, shape):
            return False
        if _inside(pos, shape) and _clear(pos, bound, cells, [i]):
            cells.centre[i], cells.radius[i] = pos, grown
            return True
    if _clear(cells.centre[i], bound, cells, [i]):
        cells.radius[i] = grown
    return True


def _enter(cells, n, shape, radius, rng, labels, rows, t) -> None:
    """Cells entering through a random face of the image, half visible or more."""
    ndim = len(shape)
    face = np.array([np.prod(shape) / s for s in shape], float)
    for _ in range(n):
        target = rng.uniform(*radius)
        scale = rng.uniform(_DAUGHTER, 1.0)
        axis = rng.choice(ndim, p=face / face.sum())
        pos = rng.uniform(0, np.subtract(shape, 1))
        depth = rng.uniform(0, target * scale / 2)
        pos[axis] = depth if rng.random() < 0.5 else shape[axis] - 1 - depth
        if _clear(pos, target * scale * _ASPECT**0.5, cells, ()):
            lab = next(labels)
            rows[lab] = [lab, t, t, 0]
            cells.add(label=[lab], **_new_cells(pos[None], [target], [scale], rng))


def _paint(cells: _Cells, out: np.ndarray, t: int, nodes: list) -> None:
    """Paint the cells into frame ``out``; append ``(t, label, area, *centroid)`` per cell."""
    one = np.ones(out.ndim)
    for lab, centre, r, ratio, rot in zip(
        cells.label, cells.centre, cells.radius, cells.ratio, cells.rot
    ):
        ell = make_ellipsoid(centre, r, ratio * r, rot)
        box, q2 = raster(ell, out.shape, one)
        inside = q2 <= 1.0
        area = int(inside.sum())
        if not area:  # cannot happen: the centre pixel is within the radius
            raise AssertionError(f"cell {lab} painted no pixel")
        out[box][inside] = lab
        where = np.nonzero(inside)
        cent = [w.mean() + b.start for w, b in zip(where, box)]
        nodes.append((t, int(lab), area, *cent))


def _graph(nodes: list, table: np.ndarray) -> TrackGraph:
    """Build the track graph of the painted cells, as ``biakit.track.from_ctc`` builds it."""
    from biakit.track import TrackGraph

    arr = np.array(nodes, float).reshape(len(nodes), -1)
    arr = arr[np.lexsort((arr[:, 1], arr[:, 0]))]
    t, lab = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64)
    key = np.lexsort((t, lab))
    same = lab[key[1:]] == lab[key[:-1]]
    first = np.full(int(lab.max(initial=0)) + 1, -1, np.int64)
    last = first.copy()
    first[lab[key[::-1]]] = key[::-1]
    last[lab[key]] = key
    kids = table[table[:, 3] > 0]
    links = np.stack([last[kids[:, 3]], first[kids[:, 0]]], axis=1)
    edges = np.concatenate([np.stack([key[:-1][same], key[1:][same]], axis=1), links])
    edges = edges[np.lexsort((edges[:, 1], edges[:, 0]))]
    features = {"area": arr[:, 2].astype(np.int64)}
    return TrackGraph(t, arr[:, 3:], lab, edges, features)


def _simulate(
    n_frames: int,
    shape: tuple[int, ...],
    n_cells: int,
    radius: tuple[float, float],
    shift: tuple[np.ndarray, np.ndarray],
    p_div: float,
    enter_rate: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, dict[int, float], TrackGraph]:
    """Run the simulation: masks, ``L B E P`` table, brightness per label, track graph."""
    labels = iter(range(1, 2**16))
    cells = _Cells(len(shape))
    _place(cells, shape, n_cells, radius, rng, labels)
    rows = {int(lab): [int(lab), 0, 0, 0] for lab in cells.label}
    bright = dict(zip(cells.label.tolist(), cells.bright.tolist()))
    masks = np.zeros((n_frames, *shape), np.uint16)
    nodes: list = []
    _paint(cells, masks[0], 0, nodes)
    for t in range(1, n_frames):
        n_old = cells.label.size
        coins = rng.random(n_old) < p_div
        divided = np.zeros(n_old, bool)
        for i in np.flatnonzero(coins):
            divided[i] = _divide(cells, i, t, rows, labels, shape, rng)
        keep = np.concatenate([~divided, np.ones(cells.label.size - n_old, bool)])
        cells.keep(keep)
        stays = np.ones(cells.label.size, bool)
        for i in range(int((~divided).sum())):
            if not _move(cells, i, shift, shape, rng):
                stays[i] = False
                cells.centre[i] = np.inf  # gone: no longer blocks the others
        cells.keep(stays)
        _enter(cells, rng.poisson(enter_rate), shape, radius, rng, labels, rows, t)
        bright.update(zip(cells.label.tolist(), cells.bright.tolist()))
        _paint(cells, masks[t], t, nodes)
        for lab in cells.label.tolist():
            rows[lab][2] = t
    table = np.array(sorted(rows.values()), np.int64).reshape(-1, 4)
    return masks, table, bright, _graph(nodes, table)


def synthetic_lineage(
    n_frames: int = 40,
    shape: Sequence[int] = (512, 512),
    *,
    n_cells: int = 40,
    radius: float | tuple[float, float] = (7.0, 10.0),
    sigma: float | Sequence[float] = 3.0,
    drift: float | Sequence[float] | None = None,
    division_probability: float = 0.012,
    enter_rate: float = 0.3,
    noise: float = 0.05,
    seed: c.SeedLike = 0,
) -> SyntheticLineage:
    """Cells moving (Brownian + drift), dividing, entering and leaving, with CTC ground truth.

    Frame 0 holds ``n_cells`` elliptical nuclei (aspect <= 1.25) at random
    places. Between frames, in this order:

    1. each cell divides with probability ``division_probability``: two
       daughters of 0.8 times its radius appear side by side, along a random
       axis, where the mother was; the mother's segment ends and each daughter
       starts a segment with parent = mother (redrawn up to 10 axes, and no
       division this frame when none fits);
    2. every other cell moves by ``drift`` plus a normal step of sd ``sigma``
       per axis and grows by 2 % up to its own radius; a cell whose centre
       leaves the image is gone (its segment ends), a step that would bring it
       within 2 px of another cell is redrawn (up to 10 times, then it stays);
    3. a Poisson(``enter_rate``) number of new cells appear at the border,
       at least half inside.

    Objects never touch (at least 2 px between bounding circles), so the label
    images are exact. Images are per-cell brightness in ``[0.5, 1]`` on a 0.1
    background, blurred by a Gaussian PSF (sd 1 px) plus Gaussian noise.

    Parameters
    ----------
    n_frames : int
        Number of time points (>= 1).
    shape : sequence of int
        Frame shape ``(Y, X)`` or ``(Z, Y, X)``.
    n_cells : int
        Cells in the first frame (fewer if they do not fit).
    radius : float or (float, float)
        Range of the (grown) cell radius in pixels, at least 2.
    sigma : float or sequence of float
        Brownian step sd per axis, pixels per frame.
    drift : float, sequence of float or None
        Mean displacement per frame and axis; None: 0.5 px along y and 1 px
        along x (0 along z).
    division_probability : float
        Probability that a cell divides between two frames, in ``[0, 1]``.
    enter_rate : float
        Mean number of cells entering per frame.
    noise : float
        Sd of the additive Gaussian noise; 0 disables it.
    seed : int, Generator or None
        Random seed; the same seed gives bit-identical output.

    Returns
    -------
    SyntheticLineage

    Examples
    --------
    >>> s = synthetic_lineage(10, (96, 96), n_cells=5, division_probability=0.1, seed=1)
    >>> s.images.shape, s.masks.dtype, s.table.shape[1], s.axes
    ((10, 96, 96), dtype('uint16'), 4, 'TYX')
    """
    n_frames = c.check_count(n_frames, "n_frames", low=1)
    shape = c.as_shape(shape)
    ndim = len(shape)
    n_cells = c.check_count(n_cells, "n_cells")
    radius_t = c.as_range(radius, "radius", low=2.0, inclusive=True)
    if 2 * radius_t[1] * _ASPECT**0.5 + 1 > min(shape):
        raise ValueError(f"radius {radius!r} is too big for shape {shape}: use a smaller radius")
    step = np.array(c.as_per_axis(sigma, ndim, "sigma"))
    if drift is None:
        drift = (0.0, 0.5, 1.0)[-ndim:]
    move = np.atleast_1d(np.asarray(drift, float))
    if move.ndim != 1 or move.size not in (1, ndim) or not np.all(np.isfinite(move)):
        raise ValueError(f"drift must be a number or {ndim} finite numbers, got {drift!r}")
    move = np.broadcast_to(move, (ndim,)).copy()
    p_div = c.check_number(division_probability, "division_probability")
    if p_div > 1:
        raise ValueError(f"division_probability must be in [0, 1], got {division_probability!r}")
    enter_rate = c.check_number(enter_rate, "enter_rate")
    noise = c.check_number(noise, "noise")

    rng_sim, rng_noise = c.streams(seed, 2)
    masks, table, bright, graph = _simulate(
        n_frames, shape, n_cells, radius_t, (move, step), p_div, enter_rate, rng_sim
    )
    lut = np.full(int(table[:, 0].max(initial=0)) + 1, _BACKGROUND, np.float32)
    for lab, value in bright.items():
        lut[lab] += value
    images = ndi.gaussian_filter(lut[masks], (0,) + (1.0,) * ndim, mode="reflect")
    if noise > 0:
        buf = rng_noise.standard_normal(images.shape, dtype=np.float32)
        buf *= noise
        images += buf
    return SyntheticLineage(images, masks, table, graph, (1.0,) * ndim, "T" + c.axes_for(ndim))


def degrade_detections(
    masks: np.ndarray,
    miss_rate: float = 0.05,
    jitter: float = 1.0,
    *,
    relabel: bool = True,
    seed: c.SeedLike = 0,
) -> np.ndarray:
    """Imperfect detections from exact masks: objects missed, the rest shifted.

    Each object of each frame is dropped with probability ``miss_rate``; every
    kept object is shifted by a whole-pixel vector, ``round(N(0, jitter**2))``
    per axis (so the centroid moves by about ``jitter`` px per axis), clipped at
    the image border and never painted over an object drawn before it (objects
    that lose all their pixels so count as missed too).

    Parameters
    ----------
    masks : ndarray of int, axes ``T(Z)YX``
        Exact label images (e.g. :attr:`SyntheticLineage.masks`).
    miss_rate : float
        Probability in ``[0, 1]`` that an object is missing in a frame.
    jitter : float
        Sd of the shift per axis, pixels (>= 0).
    relabel : bool
        Number the objects of each frame 1..n in random order, so that labels
        carry no track identity; False keeps the input labels.
    seed : int, Generator or None
        Random seed.

    Returns
    -------
    ndarray
        Degraded label images, same shape and dtype as ``masks``.

    Examples
    --------
    >>> s = synthetic_lineage(5, (64, 64), n_cells=4, seed=0)
    >>> d = degrade_detections(s.masks, miss_rate=0.5, jitter=1.0, seed=0)
    >>> d.shape == s.masks.shape, int(d.max()) <= int(s.masks.max())
    (True, True)
    """
    masks = np.asarray(masks)
    if masks.ndim not in (3, 4) or not np.issubdtype(masks.dtype, np.integer):
        raise ValueError(
            f"masks must be integer label images with axes T(Z)YX, got {masks.dtype} "
            f"array of shape {masks.shape}"
        )
    miss = c.check_number(miss_rate, "miss_rate")
    if miss > 1:
        raise ValueError(f"miss_rate must be in [0, 1], got {miss_rate!r}")
    jitter = c.check_number(jitter, "jitter")
    rng = c.streams(seed, 1)[0]
    out = np.zeros_like(masks)
    for t, frame in enumerate(masks):
        boxes = ndi.find_objects(frame)
        present = [k for k, b in enumerate(boxes, start=1) if b is not None]
        kept = [k for k, drop in zip(present, rng.random(len(present)) < miss) if not drop]
        shifts = np.rint(jitter * rng.standard_normal((len(kept), frame.ndim))).astype(int)
        new = rng.permutation(len(kept)) + 1 if relabel else np.asarray(kept)
        for k, shift, lab in zip(kept, shifts, new):
            _paste(out[t], frame, boxes[k - 1], k, shift, lab)
    return out


def _paste(out: np.ndarray, frame: np.ndarray, box: tuple, k: int, shift, lab: int) -> None:
    """Copy object ``k`` of ``frame`` into ``out`` shifted by ``shift``, onto background only."""
    src, dst = [], []
    for s, d, n in zip(box, shift, frame.shape):
        lo, hi = max(s.start + d, 0), min(s.stop + d, n)
        if lo >= hi:
            return
        src.append(slice(lo - d, hi - d))
        dst.append(slice(lo, hi))
    take = (frame[tuple(src)] == k) & (out[tuple(dst)] == 0)
    out[tuple(dst)][take] = lab
