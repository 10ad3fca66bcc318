"""Configuration of isotropic restoration (:class:`IsotropicConfig`).

One YAML file describes a training job::

    task: isotropic
    spacing: [2.0, 0.5, 0.5]     # (Z, Y, X) of the stacks: the axial factor is 2.0 / 0.5 = 4
                                 # (left out: read from the stacks' metadata by the YAML loader)
    data: {high: train/stacks}   # anisotropic stacks; their lateral (XY) slices are the truth
    degradation: {sigma: null}   # axial blur in lateral pixels (default factor / 2)
    patch_shape: [48, 48]        # low-resolution patch of a degraded slice
    model: {architecture: edsr_lite, n_features: 32, n_blocks: 8}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from biakit.errors import ConfigError
from biakit.validation import check_spacing
from biakit.workflows._config import _resolve, register_task_config
from biakit.workflows._sr_config import SuperResolutionConfig


class IsotropicConfig(SuperResolutionConfig):
    """Restore the axial resolution of anisotropic stacks from their own lateral slices.

    ``spacing`` (Z, Y, X) fixes the axial factor ``round(z / mean(y, x))`` unless
    ``factor`` is given; the network is a 2D super-resolution network with
    scale ``(factor, 1)``: it adds pixels along the first axis of a slice.

    Examples
    --------
    >>> cfg = IsotropicConfig(spacing=(2.0, 0.5, 0.5), patch_shape=(32, 32))
    >>> cfg.factor, cfg.model.factors
    (4, (4, 1))
    """

    task: Literal["isotropic"] = "isotropic"  # type: ignore[assignment]
    name: str = "isotropic"
    spacing: tuple[float, float, float] | None = None
    factor: int | None = Field(None, ge=2)

    @model_validator(mode="before")
    @classmethod
    def _axial_scale(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        factor = data.get("factor")
        if factor is None and data.get("spacing") is not None:
            z, y, x = check_spacing(data["spacing"], 3)
            factor = round(z / ((y + x) / 2))
            if factor < 2:
                raise ConfigError(
                    f"spacing {tuple(data['spacing'])} is (nearly) isotropic: axial factor "
                    f"{z / ((y + x) / 2):.2f}; isotropic restoration needs a factor >= 2"
                )
            data["factor"] = factor
        stacks = data.get("data")
        if factor is None and isinstance(stacks, Mapping) and "high" not in stacks:
            raise ConfigError(
                f"data.high: missing (data has {', '.join(map(str, stacks)) or 'no keys'}): "
                "the folder of anisotropic stacks, whose spacing metadata gives the axial "
                "factor when spacing and factor are left out"
            )
        if factor is None:
            raise ConfigError(
                "give the stacks' spacing (Z, Y, X) or the axial factor (from a YAML file, "
                "stacks whose metadata carry their spacing need neither)"
            )
        data["scale"] = (int(factor), 1)
        return data

    @classmethod
    def complete_from_files(cls, mapping: Mapping[str, Any], base: Path) -> Mapping[str, Any]:
        """Without ``spacing`` and ``factor``: the spacing of the stacks in ``data.high``.

        Called by :func:`~biakit.workflows.load_workflow_config` before validation
        (``base``: the YAML file's folder), as for any task config class defining it.
        """
        data = mapping.get("data")
        if mapping.get("spacing") is not None or mapping.get("factor") is not None:
            return mapping
        if not isinstance(data, Mapping) or not isinstance(data.get("high"), str):
            return mapping
        spacing, _ = spacing_from_stacks(_resolve(data["high"], base))
        return {**mapping, "spacing": list(spacing)}


def spacing_from_stacks(folder: str | Path) -> tuple[tuple[float, float, float], str]:
    """Return the (Z, Y, X) spacing that the stacks in ``folder`` carry, and its unit.

    Every stack must carry one (a unit other than ``pixel``) and all must agree within
    1%; else :class:`~biakit.errors.ConfigError` names the file and what to give.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from biakit.io import ImageMeta, write_image
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_image(folder / "a.tif", np.zeros((4, 8, 8), np.uint16),
    ...             ImageMeta("ZYX", spacing=(2.0, 0.5, 0.5), unit="micrometer"))
    >>> spacing_from_stacks(folder)
    ((2.0, 0.5, 0.5), 'micrometer')
    """
    import numpy as np

    from biakit.io import list_images, read_image

    found: tuple[tuple[float, float, float], str, Path] | None = None
    for path in list_images(str(folder)):
        _, meta = read_image(path, lazy=True)
        if not meta.spatial_axes.endswith("ZYX") or meta.unit == "pixel":
            raise ConfigError(
                f"{path}: no Z spacing in its metadata (axes {meta.axes}, unit {meta.unit}); "
                "give spacing: [z, y, x] (or factor) in the config"
            )
        here = tuple(float(v) for v in meta.spatial_spacing[-3:])
        if found is None:
            found = (here, meta.unit, path)  # type: ignore[assignment]
        elif meta.unit != found[1] or not np.allclose(here, found[0], rtol=0.01):
            raise ConfigError(
                f"{path}: spacing {here} {meta.unit}, but {found[2]} has {found[0]} "
                f"{found[1]}; give spacing: [z, y, x] (or factor) in the config"
            )
    if found is None:
        raise ConfigError(f"{folder}: no images; give spacing: [z, y, x] in the config")
    return found[0], found[1]


register_task_config(IsotropicConfig)
