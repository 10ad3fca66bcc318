"""Block-wise isotropic restoration (:class:`biakit.workflows.isotropic.IsotropicRestorer`).

The workflow restores a stack ``(C, Z, Y, X)`` by running its 2D super-resolution
network (scale ``(factor, 1)``) on every XZ slice and every YZ slice and averaging
both, giving ``(C, Z * factor, Y, X)``. Each slice is normalised with *its own*
statistics (:meth:`SuperResolver.predict_maps` on the slice) and de-normalised with
them. Block-wise:

1. **Statistics** (stage ``"statistics"``): the normaliser's statistics of every XZ
   slice (one per ``y``) and every YZ slice (one per ``x``), computed from slabs of
   a few slices, exactly as the workflow computes them on each whole slice.
2. **Blocks** in the input grid, written to the up-sampled grid (``z * factor``).
   A block is read with the network's halo: ``halo[0]`` along ``z`` and
   ``halo[1]`` along ``y`` and ``x``. For each ``y`` of its core it restores the XZ
   slice (core ``x`` plus halo, all of it within the block's read region) and for
   each ``x`` of its core the YZ slice, crops both to the core and writes their
   mean. The network is local (EDSR-lite), so a slice restored with its halo equals
   the slice restored whole within float rounding; the sums are made in the
   workflow's order (XZ, then YZ, then halved).

RCAN-lite's channel attention averages over the whole input (``config.is_local``
False): its results depend on the tiling, block-wise as in the workflow's own
tiled prediction.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._engine import BlockProgress, iter_run_blocks, plan_blocks
from ._output import ZarrTarget
from ._predict_tasks import Plan, read_channels

#: bytes of one statistics task's slab
SLAB_BYTES = 64 << 20


def iso_plan(cfg: Any, spatial: tuple[int, ...], factor: int) -> Plan:
    """Geometry of a stack ``(Z, Y, X)`` for a 2D network of scale ``(factor, 1)``."""
    hz, hl = (int(h) for h in np.broadcast_to(np.asarray(cfg.halo), 2))
    n_out = int(cfg.out_channels)
    return Plan(spatial, (hz, hl, hl), (1, 1, 1), (int(factor), 1, 1), n_out,
                4.0 * (2 * n_out * factor + 8) * 4)  # fmt: skip


@dataclass(frozen=True)
class SliceStats:
    """Statistics of every slice of a stack along one axis (``y``: XZ, ``x``: YZ).

    Attributes
    ----------
    axis : int
        Spatial axis of the stack the slices are taken at (1: ``y``, 2: ``x``).
    values : numpy.ndarray, shape (n, 2, C)
        Offset and scale of each slice, per channel.
    """

    axis: int
    values: np.ndarray

    def of(self, index: int) -> Any:
        """:class:`~biakit.nn.datasets.NormStats` of slice ``index``."""
        from biakit.nn.datasets import NormStats

        offset, scale = self.values[index]
        return NormStats(tuple(float(v) for v in offset), tuple(float(v) for v in scale))


@dataclass(frozen=True)
class _StatsTask:
    """Task: the statistics of the slices of one slab (a 1D block along ``axis``)."""

    source: Any
    normalizer: Any
    axis: int

    def __call__(self, block: Any) -> tuple[int, np.ndarray]:
        sl = block.write[0]
        region = [slice(None)] * 3
        region[self.axis] = sl
        slab = np.asarray(read_channels(self.source, tuple(region)), dtype=np.float32)
        out = []
        for i in range(sl.stop - sl.start):
            plane = slab[:, :, i, :] if self.axis == 1 else slab[:, :, :, i]
            stats = self.normalizer.stats(plane)
            out.append([stats.offset, stats.scale])
        return sl.start, np.asarray(out, np.float64)


def iter_slice_stats(
    client: Any, source: Any, normalizer: Any, spatial: tuple[int, ...], n_channels: int
) -> Generator[BlockProgress, None, tuple[SliceStats, SliceStats]]:
    """Yield progress; return the ``(XZ, YZ)`` :class:`SliceStats` of a stack."""
    z, y, x = spatial
    found = []
    for axis in (1, 2):
        n, across = spatial[axis], (x if axis == 1 else y)
        per_slice = max(1, n_channels * z * across * 4)
        depth = max(1, min(n, SLAB_BYTES // per_slice))
        blocks = plan_blocks((n,), (depth,), (0,))
        values = np.zeros((n, 2, n_channels))
        task = _StatsTask(source, normalizer, axis)
        stage = f"statistics ({'XZ' if axis == 1 else 'YZ'})"
        for progress, result in iter_run_blocks(client, task, blocks, stage=stage):
            yield progress
            start, part = result
            values[start : start + len(part)] = part
        found.append(SliceStats(axis, values))
    return found[0], found[1]


@dataclass(frozen=True)
class IsoTask:
    """Task: the isotropic restoration of one block (see the module docstring)."""

    source: Any
    model: Any
    xz: SliceStats
    yz: SliceStats
    factor: int
    options: dict[str, Any]
    maps: ZarrTarget

    def _restore(self, plane: np.ndarray, stats: Any) -> np.ndarray:
        from biakit.nn.datasets import denormalize_with_stats, normalize_with_stats
        from biakit.nn.infer import predict_tiled_scaled

        x = normalize_with_stats(plane, stats)
        opts = {k: v for k, v in self.options.items() if k != "tta"}
        y = predict_tiled_scaled(self.model, x, tile_shape=plane.shape[1:], **opts)
        return denormalize_with_stats(y, stats)

    def __call__(self, block: Any) -> None:
        region = np.asarray(read_channels(self.source, block.read), dtype=np.float32)
        cz, cy, cx = block.crop
        f = self.factor
        y0, x0 = block.read[1].start, block.read[2].start
        zcore = slice(cz.start * f, cz.stop * f)
        out = np.zeros((int(self.model.config.out_channels), (cz.stop - cz.start) * f,
                        cy.stop - cy.start, cx.stop - cx.start), np.float32)  # fmt: skip
        for j in range(cy.start, cy.stop):  # XZ slices: (C, z, x) with the x halo
            restored = self._restore(region[:, :, j, :], self.xz.of(y0 + j))
            out[:, :, j - cy.start, :] += restored[:, zcore, cx]
        for i in range(cx.start, cx.stop):  # YZ slices: (C, z, y) with the y halo
            restored = self._restore(region[:, :, :, i], self.yz.of(x0 + i))
            out[:, :, :, i - cx.start] += restored[:, zcore, cy]
        wz = block.write[0]
        self.maps.write((slice(None), slice(wz.start * f, wz.stop * f), *block.write[1:]), out / 2)
