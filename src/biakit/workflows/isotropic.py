"""Isotropic restoration (CARE-style): recover the axial resolution of anisotropic stacks.

An anisotropic stack ``(Z, Y, X)`` with ``Z`` spacing ``factor`` times the lateral
one holds sharp lateral (XY) slices and blurred, coarsely sampled axial ones.
Training degrades lateral slices the way the axial direction is degraded (blur
and bin along one in-plane axis, both in-plane axes taken in turn) and learns to
undo it with a 2D super-resolution network of scale ``(factor, 1)``. Prediction
restores every XZ and every YZ slice of the stack and averages both, giving a
``(Z * factor, Y, X)`` stack with isotropic voxels (Weigert 2017).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import DataError
from biakit.workflows._iso_config import IsotropicConfig
from biakit.workflows._results import Evaluation
from biakit.workflows.super_resolution import SuperResolver


class IsotropicRestorer(SuperResolver):
    """Restore isotropic resolution of 3D stacks from their own lateral slices.

    Parameters
    ----------
    config : IsotropicConfig
        With the stacks' ``spacing`` (or the axial ``factor``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> stack = rng.random((4, 32, 32)).astype(np.float32)
    >>> cfg = IsotropicConfig(factor=2, patch_shape=(8, 16), samples_per_epoch=4,
    ...                       model={"n_features": 4, "n_blocks": 1}, train={"epochs": 1})
    >>> iso = IsotropicRestorer(cfg)
    >>> _ = iso.train([stack])
    >>> iso.predict(stack).shape
    (8, 32, 32)
    """

    task = "isotropic"
    config_class = IsotropicConfig

    @property
    def input_ndim(self) -> int:
        """Stacks ``(Z, Y, X)``: the network itself works on 2D slices."""
        return 3

    def train(
        self,
        images: Sequence[Any],
        targets: Sequence[Any] | None = None,
        *,
        output_dir: str | Path | None = None,
        val_images: Sequence[Any] | None = None,
        val_targets: Sequence[Any] | None = None,
        resume: bool = False,
        overwrite: bool = False,
        progress: bool = False,
    ) -> Any:
        """Train on the lateral slices of anisotropic stacks ``(Z, Y, X)`` (or ``(C, Z, Y, X)``).

        ``targets`` must be None: the stacks are their own ground truth.
        """
        if targets is not None or val_targets is not None:
            raise DataError("isotropic restoration learns from the stacks alone; give no targets")
        slices = _lateral_slices(images, "images")
        val = None if val_images is None else _lateral_slices(val_images, "val_images")
        history = super().train(
            slices,
            output_dir=output_dir,
            val_images=val,
            resume=resume,
            overwrite=overwrite,
            progress=progress,
        )
        self.training["n_stacks"] = len(images)
        return history

    def predict_maps(self, image: Any, **kwargs: Any) -> np.ndarray:
        """Isotropic stack ``(C, Z * factor, Y, X)``: mean of restored XZ and YZ slices."""
        stack = _channel_first_3d(image, "image")
        predict = super().predict_maps
        c, z, y, x = stack.shape
        out = np.zeros((c, z * self.config.factor, y, x), np.float32)
        for j in range(y):  # XZ slices: (C, Z, X)
            out[:, :, j, :] += predict(stack[:, :, j, :], **kwargs)
        for i in range(x):  # YZ slices: (C, Z, Y)
            out[:, :, :, i] += predict(stack[:, :, :, i], **kwargs)
        return out / 2

    def evaluate(self, images: Sequence[Any], highs: Sequence[Any]) -> Evaluation:
        """Score restored stacks against isotropic ground truth, beside cubic z-interpolation.

        ``images`` are anisotropic stacks, ``highs`` the isotropic truth
        ``(Z * factor, Y, X)``; columns as :meth:`SuperResolver.evaluate`.
        """
        return super().evaluate(images, highs)

    def _ground_truth(self, low: Any, high: Any, name: str) -> np.ndarray:
        return _channel_first_3d(high, name)

    def _cubic(self, image: Any) -> np.ndarray:
        from scipy import ndimage as ndi

        stack = _channel_first_3d(image, "image").astype(np.float64)
        zoom = (self.config.factor, 1, 1)
        return np.stack([ndi.zoom(c, zoom, order=3, mode="reflect", grid_mode=True)
                         for c in stack])  # fmt: skip

    def _write_outputs(self, names: dict, *, image: np.ndarray, meta: Any, raw: Any, result: Any,
                       overwrite: bool) -> list[Path]:  # fmt: skip
        from biakit.io import ImageMeta, write_image
        from biakit.workflows._disk import middle_frame, output_meta

        z, y, x = meta.spatial_spacing
        result = np.asarray(result, dtype=np.float32)
        iso_meta = output_meta(meta, result, (z / self.config.factor, y, x))
        write_image(names["sr"], result, iso_meta, overwrite=overwrite)
        if "overlay" in names:
            from biakit.workflows.super_resolution import side_by_side

            image, raw = middle_frame(meta, image, raw)
            middle = raw.shape[2] // 2  # an XZ slice: where the axial resolution shows
            rgb = side_by_side(self._cubic(image)[0][:, middle], raw[0][:, middle])
            write_image(names["overlay"], rgb, ImageMeta("YXC", unit="pixel"), overwrite=overwrite)
        return list(names.values())

    def _output_names(self, stem: str, out: Path, *, maps: bool, overlay: bool) -> dict:
        names = super()._output_names(stem, out, maps=maps, overlay=overlay)
        return {
            "sr": out / f"{stem}_isotropic.tif",
            **{k: v for k, v in names.items() if k != "sr"},
        }


def _channel_first_3d(image: Any, name: str) -> np.ndarray:
    from biakit.validation import check_channel_layout

    return np.asarray(check_channel_layout(image, 3, name=name), dtype=np.float32)


def _lateral_slices(stacks: Sequence[Any], name: str) -> list[np.ndarray]:
    """Every XY slice of every stack, as is and transposed (both in-plane axes degraded)."""
    slices = []
    for i, stack in enumerate(stacks):
        array = _channel_first_3d(stack, f"{name}[{i}]")
        for k in range(array.shape[1]):
            plane = array[:, k]
            slices += [plane, np.ascontiguousarray(np.swapaxes(plane, 1, 2))]
    if not slices:
        raise DataError(f"{name}: need at least one stack")
    return slices
