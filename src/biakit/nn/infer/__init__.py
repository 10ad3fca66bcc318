"""Tiled inference of fully convolutional networks on images of any size.

* :func:`predict_tiled` -- tile, batch, predict, blend (exact with ``blending="none"``
  when the overlap covers the receptive field); NumPy / Dask / Zarr in, NumPy or Zarr
  out; test-time augmentation; softmax / sigmoid.
* :func:`iter_predict_tiled` -- the same as a generator of ``(done, total)`` progress.
* :func:`predict_tiled_scaled` / :func:`iter_predict_tiled_scaled` -- the same for
  networks whose output is ``scale`` times larger (super-resolution), exact for local ones.
* :func:`plan_tiles` -- the tile geometry (starts, weights, written regions).
* :func:`blind_spot_weights` / :func:`blend_blind_spot` -- give a blind-spot (N2V)
  prediction back each pixel's own value, weighted by the measured noise variance
  (:func:`centre_gain`: the share of it the network kept anyway).
* :func:`export_onnx` -- ONNX export (optional ``onnx``); run it with
  ``predict_tiled(..., session=onnxruntime.InferenceSession(path))``.
"""

from ._blind_spot import (
    BlendWeights,
    blend_blind_spot,
    blend_weight_region,
    blind_spot_weights,
    centre_gain,
    pixel_noise_variance,
    whiteness,
)
from ._onnx import export_onnx
from ._predict import iter_predict_tiled, predict_tiled
from ._scaled import iter_predict_tiled_scaled, predict_tiled_scaled
from ._tiling import TilePlan, plan_tiles
from ._tta import tta_transforms

__all__ = [
    "BlendWeights",
    "TilePlan",
    "blend_blind_spot",
    "blend_weight_region",
    "blind_spot_weights",
    "centre_gain",
    "export_onnx",
    "iter_predict_tiled",
    "iter_predict_tiled_scaled",
    "pixel_noise_variance",
    "plan_tiles",
    "predict_tiled",
    "predict_tiled_scaled",
    "tta_transforms",
    "whiteness",
]
