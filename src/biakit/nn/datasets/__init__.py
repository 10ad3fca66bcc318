"""Training data for neural networks: normalisation and lazy random patch sampling.

:class:`Normalizer` normalises channel-first images per channel (CSBDeep
percentiles, z-score, fixed range); :class:`PatchDataset` draws reproducible,
foreground-biased random patches from lists of NumPy, Zarr, HDF5 or Dask
images of any size, reading only each patch. :func:`split_dataset` and
:func:`load_pairs` prepare the lists; :func:`degrade` and :class:`ScaledPairDataset`
make the low/high-resolution pairs of super-resolution. :class:`RankBatchSampler`
and :func:`shard_bounds` share the data out among the processes of
multi-process (DistributedDataParallel) training.

Examples
--------
>>> import numpy as np
>>> from biakit.nn.datasets import Normalizer, PatchDataset
>>> rng = np.random.default_rng(0)
>>> image = rng.random((2, 48, 48)).astype(np.float32)        # (C, Y, X)
>>> labels = (image[0] > 0.8).astype(np.int32)
>>> ds = PatchDataset([image], [labels], (32, 32), samples_per_epoch=4,
...                   normalizer=Normalizer(kind="zscore"), seed=0)
>>> x, y = ds[0]
>>> tuple(x.shape), tuple(y.shape), len(ds)
((2, 32, 32), (32, 32), 4)
"""

from biakit.nn.datasets._normalize import (
    MAX_STATS_VOXELS,
    Normalizer,
    NormStats,
    denormalize_with_stats,
    normalize_with_stats,
    sample_voxels,
)
from biakit.nn.datasets._patch import PatchDataset, PatchLocation
from biakit.nn.datasets._scaled import ScaledPairDataset, degrade
from biakit.nn.datasets._shard import RankBatchSampler, shard_bounds
from biakit.nn.datasets._sources import ChannelFirst, find_foreground
from biakit.nn.datasets._split import DatasetSplit, ImagePairs, load_pairs, split_dataset

__all__ = [
    "MAX_STATS_VOXELS",
    "ChannelFirst",
    "DatasetSplit",
    "ImagePairs",
    "NormStats",
    "Normalizer",
    "PatchDataset",
    "PatchLocation",
    "RankBatchSampler",
    "ScaledPairDataset",
    "degrade",
    "denormalize_with_stats",
    "find_foreground",
    "load_pairs",
    "normalize_with_stats",
    "sample_voxels",
    "shard_bounds",
    "split_dataset",
]
