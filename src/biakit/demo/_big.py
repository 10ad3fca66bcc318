"""``biakit demo --big``: segment a MitoEM-like volume of gigabytes with bounded memory.

1. **Generate** a synthetic EM volume (:func:`biakit.data.synthetic_em_volume`, MitoEM's
   30 x 8 x 8 nm voxels) of the requested size lazily into ``volume.ome.zarr``, chunk
   by chunk.
2. **Segment** it block by block with a classical decoder suited to the contrast
   (smoothing, the mitochondrial matrix between two thresholds, connected
   components, small specks removed, labels grown over their dark membrane),
   stitched by :func:`biakit.distributed.label_blockwise` into
   ``volume.ome.zarr/labels/segmentation``.
3. **Evaluate** against the exact labels, block-wise too: object overlaps are
   counted block by block, then matched one-to-one at IoU >= 0.5 (StarDist's rule).

Reports the matching scores, the time of each stage and the peak resident memory of
this process (the blocks run on threads here, or on a Dask cluster's workers).
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from biakit.blocks import declare_halo
from biakit.errors import ParameterError

SPACING = (30.0, 8.0, 8.0)
BLOCK = (64, 512, 512)
CHUNKS = (32, 256, 256)
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS.update({"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40})


def parse_size(size: str | int) -> int:
    """Bytes in ``"2GB"``, ``"500 MB"``, ``"1.5GiB"`` or an int.

    Examples
    --------
    >>> parse_size("2GB"), parse_size("1.5 KiB"), parse_size(64)
    (2000000000, 1536, 64)
    """
    if isinstance(size, int | np.integer) and not isinstance(size, bool) and size > 0:
        return int(size)
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(size))
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _UNITS or float(match.group(1)) <= 0:
        raise ParameterError(
            f"size must be a positive amount of bytes like '2GB', '500MB' or '1.5GiB', got {size!r}"
        )
    return int(float(match.group(1)) * _UNITS[unit])


def volume_shape(n_bytes: int) -> tuple[int, int, int]:
    """Return a ``(Z, Y, X)`` shape of at least ``n_bytes`` voxels, aspect 1 : 4 : 4 (MitoEM)."""
    z = max(16, round((n_bytes / 16) ** (1 / 3)))
    yx = max(64, int(np.ceil(np.sqrt(n_bytes / z))))
    return z, yx, yx


@declare_halo(lambda ndim: (3, 6, 6))  # Gaussian radius + the membrane growth
def segment_mitochondria(block: np.ndarray) -> np.ndarray:
    """Label mitochondria in an EM block of :func:`biakit.data.synthetic_em_volume`.

    Matrix (between the dark membranes and the light cytoplasm) after a light
    anisotropic smoothing, connected components, specks under 100 voxels removed,
    then each object grown by up to 1 x 2 x 2 voxels over its dark membrane.

    Examples
    --------
    >>> from biakit.data import synthetic_em_volume
    >>> image, labels = synthetic_em_volume((16, 96, 96), density=30, seed=0)
    >>> int(segment_mitochondria(image.compute()).max()) > 0
    True
    """
    smooth = ndi.gaussian_filter(block.astype(np.float32), (0.5, 1.0, 1.0))
    labels, _ = ndi.label((smooth > 70) & (smooth < 140))
    size = np.bincount(labels.ravel())
    small = size < 100
    small[0] = True
    labels[small[labels]] = 0
    grown = ndi.grey_dilation(labels, size=(3, 5, 5))
    fill = (labels == 0) & (smooth < 140)
    labels[fill] = grown[fill]
    return labels


@dataclass(frozen=True)
class BigDemoResult:
    """What ``biakit demo --big`` measured (also written to ``big_demo.json``)."""

    path: str
    shape: tuple[int, int, int]
    image_gb: float
    block_shape: tuple[int, int, int]
    halo: tuple[int, int, int]
    n_blocks: int
    n_true: int
    n_pred: int
    tp: int
    precision: float
    recall: float
    f1: float
    n_matched_across_blocks: int
    n_cut_by_halo: int
    seconds: dict[str, float]
    peak_rss_gb: float
    scheduler: str


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def _generate(path: Path, shape: tuple[int, int, int], seed: int) -> Any:
    from biakit.data import synthetic_em_volume
    from biakit.io import ImageMeta, write_image

    image, labels = synthetic_em_volume(shape, spacing=SPACING, chunks=CHUNKS, seed=seed)
    meta = ImageMeta("ZYX", tuple(s / 1000 for s in SPACING), unit="micrometer")
    write_image(path, image, meta, chunks=CHUNKS, overwrite=True)
    return labels


def _labels_array(path: Path, shape: tuple[int, ...]) -> Any:
    import zarr

    from biakit.io._meta import ImageMeta
    from biakit.io._ngff import build_multiscale, image_attrs, labels_group_attrs

    root = zarr.open_group(str(path / "labels"), mode="w", zarr_format=2)
    root.attrs.update(labels_group_attrs(["segmentation"], "0.4"))
    group = root.create_group("segmentation")
    meta = ImageMeta("ZYX", tuple(s / 1000 for s in SPACING), unit="micrometer")
    ms = build_multiscale(meta, [meta.spacing], name="segmentation")
    group.attrs.update(image_attrs(meta, "0.4", ms, label_source="../../", dtype=np.int32))
    return group.create_array(
        "0", shape=shape, chunks=CHUNKS, dtype=np.int32, fill_value=0,
        chunk_key_encoding={"name": "v2", "separator": "/"},
    )  # fmt: skip


def _block_overlaps(truth: Any, pred: Any, region: tuple[slice, ...]) -> tuple:
    t = np.asarray(truth[region].compute(scheduler="synchronous")).ravel().astype(np.int64)
    p = np.asarray(pred[region]).ravel().astype(np.int64)
    both = (t > 0) & (p > 0)
    pairs, n = np.unique(np.stack([t[both], p[both]]), axis=1, return_counts=True)
    tv, tc = np.unique(t[t > 0], return_counts=True)
    pv, pc = np.unique(p[p > 0], return_counts=True)
    return pairs, n, (tv, tc), (pv, pc)


def _sum_counts(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    values = np.concatenate([v for v, _ in parts]) if parts else np.zeros(0, np.int64)
    counts = np.concatenate([c for _, c in parts]) if parts else np.zeros(0, np.int64)
    keys, inverse = np.unique(values, return_inverse=True)
    return keys, np.bincount(inverse, weights=counts, minlength=len(keys))


def evaluate_blockwise(truth: Any, pred: Any, block_shape: tuple[int, ...]) -> dict[str, Any]:
    """Instance matching at IoU >= 0.5 of two label volumes, counted block by block.

    Examples
    --------
    >>> import dask.array as da
    >>> t = np.zeros((4, 8, 8), np.int32); t[1:3, 1:7, 1:4] = 5; t[1:3, 1:7, 5:8] = 6
    >>> p = t.copy(); p[p == 6] = 0
    >>> evaluate_blockwise(da.from_array(t), p, (4, 4, 4))["f1"]
    0.6666666666666666
    """
    from biakit.distributed._stitch_run import _threaded
    from biakit.metrics._assignment import optimal_matching

    cores = [
        tuple(slice(i * b, min((i + 1) * b, n)) for i, b, n in zip(idx, block_shape, truth.shape))
        for idx in np.ndindex(*(-(-n // b) for n, b in zip(truth.shape, block_shape)))
    ]
    tasks = [lambda c=c: _block_overlaps(truth, pred, c) for c in cores]
    results = list(_threaded(tasks))
    tv, tc = _sum_counts([r[2] for r in results])
    pv, pc = _sum_counts([r[3] for r in results])
    pairs = np.concatenate([r[0] for r in results], axis=1) if results else np.zeros((2, 0))
    counts = np.concatenate([r[1] for r in results]) if results else np.zeros(0)
    width = int(pv.max()) + 1 if len(pv) else 1
    keys, inverse = np.unique(pairs[0] * width + pairs[1], return_inverse=True)
    inter = np.bincount(inverse, weights=counts, minlength=len(keys))
    rows, cols = np.searchsorted(tv, keys // width), np.searchsorted(pv, keys % width)
    iou = inter / (tc[rows] + pc[cols] - inter)
    tp = 0
    if len(tv) and len(pv):
        chosen, candidate = optimal_matching(rows, cols, iou, len(tv), len(pv), 0.5)
        tp = int(candidate[chosen].sum())
    n_true, n_pred = len(tv), len(pv)
    return {
        "n_true": n_true,
        "n_pred": n_pred,
        "tp": tp,
        "precision": tp / n_pred if n_pred else 0.0,
        "recall": tp / n_true if n_true else 0.0,
        "f1": 2 * tp / (n_true + n_pred) if n_true + n_pred else 0.0,
    }


def _client(scheduler: str | None) -> Any:
    """H1's :func:`biakit.distributed.get_client` when present and asked for, else threads."""
    if scheduler in (None, "threads"):
        return None
    try:
        from biakit.distributed import get_client
    except ImportError:  # pragma: no cover - the distributed plumbing ships with biakit
        return None
    return get_client(scheduler)


def iter_big_demo(
    output_dir: str | Path,
    *,
    size: str | int = "2GB",
    seed: int = 0,
    scheduler: str | None = None,
    overwrite: bool = False,
) -> Generator[tuple[str, int, int], None, BigDemoResult]:
    """Run the big-volume demo, yielding ``(stage, done, total)``; returns the result.

    Parameters
    ----------
    output_dir : str or path
        Folder for ``volume.ome.zarr`` (image and ``labels/segmentation``) and
        ``big_demo.json``.
    size : str or int
        Image size: ``"2GB"`` (uint8 voxels, MitoEM's 1 : 4 : 4 aspect), ``"50MB"``, bytes.
    seed : int
        Seed of the synthetic volume.
    scheduler : str, optional
        ``None`` / ``"threads"``: Dask's threads in this process; ``"local"`` or a
        scheduler address: through :func:`biakit.distributed.get_client`.
    overwrite : bool
        Replace an earlier ``volume.ome.zarr`` in ``output_dir``.

    Raises
    ------
    FileExistsError
        ``output_dir/volume.ome.zarr`` exists and ``overwrite`` is False.
    """
    from biakit.distributed._stitch import iter_label_blockwise

    shape = volume_shape(parse_size(size))
    out_dir = Path(output_dir)
    path = out_dir / "volume.ome.zarr"
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    yield "generate", 0, 1
    truth = _generate(path, shape, seed)
    seconds["generate"] = time.perf_counter() - start
    yield "generate", 1, 1
    import zarr

    source = zarr.open_array(str(path / "0"), mode="r")
    out = _labels_array(path, shape)
    from biakit.data import synthetic_em_volume

    defaults = synthetic_em_volume.__kwdefaults__
    extent = defaults["length"][1] + 2 * defaults["radius"][1]  # the largest mitochondrion
    block = tuple(min(b, n) for b, n in zip(BLOCK, shape))
    handle = _client(scheduler)
    start = time.perf_counter()
    try:
        client = None if handle is None else handle.client
        gen = iter_label_blockwise(
            source, segment_mitochondria, block_shape=block, max_extent=extent,
            spacing=SPACING, out=out, client=client, large="merge",
        )  # fmt: skip
        last = None
        for last in gen:
            yield last.stage, last.done, last.total
    finally:
        if handle is not None:
            handle.close()
    seconds["segment"] = time.perf_counter() - start
    start = time.perf_counter()
    yield "evaluate", 0, 1
    scores = evaluate_blockwise(truth, out, block)
    seconds["evaluate"] = time.perf_counter() - start
    yield "evaluate", 1, 1
    halo = tuple(int(np.ceil(extent / s - 1e-9)) + m for s, m in zip(SPACING, (3, 6, 6)))
    result = BigDemoResult(
        path=str(path), shape=shape, image_gb=float(np.prod(shape)) / 1e9, block_shape=block,
        halo=halo, n_blocks=int(last.total) if last else 0, **scores,
        n_matched_across_blocks=int(last.n_matched) if last else 0,
        n_cut_by_halo=int(last.n_cut) if last else 0, seconds=seconds,
        peak_rss_gb=_peak_rss_gb(), scheduler=scheduler or "threads",
    )  # fmt: skip
    (out_dir / "big_demo.json").write_text(json.dumps(asdict(result), indent=2))
    return result


def run_big_demo(
    output_dir: str | Path,
    *,
    size: str | int = "2GB",
    seed: int = 0,
    scheduler: str | None = None,
    overwrite: bool = False,
) -> BigDemoResult:
    """Run :func:`iter_big_demo` to the end and return its result.

    Examples
    --------
    >>> import tempfile
    >>> result = run_big_demo(tempfile.mkdtemp(), size="2MB")
    >>> result.shape, result.n_blocks
    ((50, 200, 200), 1)
    """
    gen = iter_big_demo(output_dir, size=size, seed=seed, scheduler=scheduler, overwrite=overwrite)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def remove_outputs(output_dir: str | Path) -> None:
    """Delete what the big demo wrote in ``output_dir`` (the volume can be gigabytes)."""
    out = Path(output_dir)
    shutil.rmtree(out / "volume.ome.zarr", ignore_errors=True)
    (out / "big_demo.json").unlink(missing_ok=True)
