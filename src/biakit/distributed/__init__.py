"""Block-wise processing of images larger than memory, on Dask distributed or threads.

Inputs are read lazily (OME-Zarr / Zarr, HDF5 chunk-wise, NPY memory-mapped, big
TIFFs page-wise); each block is read with the halo its operations declare, computed
on a worker and written straight into an OME-Zarr output (multiscale levels, label
images in ``labels/``), so no process ever holds the whole volume. Per-pixel results
equal whole-image processing (floats within 1e-5), block writes are idempotent (a
task Dask retries after losing a worker rewrites the same bytes) and the output is
written into ``DEST.partial`` and renamed when complete (``resume=True`` continues an
interrupted run).

* :func:`get_client` -- a local cluster sized to the machine, an existing scheduler
  (``"tcp://HOST:PORT"``), threads, or a ``distributed.Client`` you made.
* :func:`run_pipeline` / :func:`iter_run_pipeline` -- a classical
  :class:`biakit.Pipeline`: per-pixel steps block-wise with their halo, global
  statistics (Otsu, percentiles, min / max) from a chunk-wise pass, the labelling
  tail through :func:`label_blockwise` (instance labels stitched across blocks).
* :func:`predict_blockwise` / :func:`iter_predict_blockwise` -- a pixel classifier's
  probabilities, a network workflow's maps, restoration outputs. Time-lapses
  (``TYX``, ``TCZYX``) are predicted frame by frame (blocks never span frames,
  per-frame normalisation); isotropic restoration writes the up-sampled stack.
* :func:`open_source`, :func:`global_statistics`, :func:`plan_blocks`,
  :func:`default_block_shape`,
  :class:`OmeZarrWriter` -- the pieces.

On a cluster (SLURM with dask-jobqueue)
----------------------------------------
Start the workers with dask-jobqueue (``pip install dask-jobqueue``), then hand the
scheduler address (or the client) to biakit::

    from dask_jobqueue import SLURMCluster
    from distributed import Client
    cluster = SLURMCluster(cores=8, processes=4, memory="32GiB", walltime="02:00:00",
                           job_extra_directives=["--partition=cpu"])
    cluster.scale(jobs=10)                    # 40 workers of 2 cores / 8 GiB
    client = Client(cluster)
    biakit.distributed.run_pipeline(pipeline, "big.ome.zarr", "out.ome.zarr", client=client)
    # or from a shell on the login node:
    #   biakit pipeline run cfg.yaml -i big.ome.zarr -o out --scheduler tcp://HOST:8786

Every worker must see the input and output paths (a shared file system) and have
biakit installed. Workers get their torch / OpenMP threads pinned to their
``nthreads`` by a worker plugin.

Examples
--------
>>> import numpy as np, tempfile
>>> from pathlib import Path
>>> from biakit import Pipeline
>>> from biakit.distributed import run_pipeline
>>> image = np.zeros((64, 64), np.float32); image[8:20, 8:20] = 1; image[40:60, 30:50] = 1
>>> dest = Path(tempfile.mkdtemp()) / "out.ome.zarr"
>>> pipe = Pipeline([{"step": "gaussian", "sigma": 1.0}, {"step": "threshold"}, "label"])
>>> report = run_pipeline(pipe, image, dest, client="threads", block_shape=32, levels=1)
>>> report.n_objects
2
"""

from __future__ import annotations

from typing import Any

from biakit._lazy import lazy_exports

_ATTRS = {
    "BlockClient": "_client",
    "get_client": "_client",
    "LazySource": "_source",
    "open_source": "_source",
    "BlockProgress": "_engine",
    "plan_blocks": "_engine",
    "default_block_shape": "_engine",
    "run_blocks": "_engine",
    "OmeZarrWriter": "_output",
    "global_statistics": "_stats",
    "exact_percentile": "_stats",
    "global_threshold": "_stats",
    "PipelineReport": "_pipeline",
    "iter_run_pipeline": "_pipeline",
    "run_pipeline": "_pipeline",
    "PredictReport": "_predict",
    "iter_predict_blockwise": "_predict",
    "predict_blockwise": "_predict",
    "StitchProgress": "_stitch",
    "iter_label_blockwise": "_stitch",
    "label_blockwise": "_stitch",
}
_get, _dir, _names = lazy_exports(__name__, _ATTRS)
__all__ = sorted(_names)


def __dir__() -> list[str]:
    return __all__


def __getattr__(name: str) -> Any:
    return _get(name)
