"""``biakit info`` and ``biakit convert``: look at and convert image files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from biakit.cli._batch import AxesOption, read_kwargs


def info(
    path: Annotated[
        Path, typer.Argument(help="Image file (TIFF, PNG, NPY, file.h5:/data, .zarr).")
    ],
    axes: AxesOption = None,
) -> None:
    """Print an image's shape, dtype, axes, spacing, intensity range and noise (or a package's).

    The noise line gives the neighbour correlation of the noise along each spatial axis
    in the centre of the first channel / frame: near 0 for pixel-wise independent noise
    (Noise2Void's assumption); high along one axis for striped noise (structN2V).
    """
    import numpy as np

    from biakit.bioimageio._info import is_package
    from biakit.io import read_image

    if is_package(path):
        from biakit.bioimageio import describe_package

        for line in describe_package(path):
            typer.echo(line)
        return

    image, meta = read_image(path, **read_kwargs(axes))
    typer.echo(f"file:    {path}")
    typer.echo(f"shape:   {tuple(image.shape)}  axes: {meta.axes}  dtype: {image.dtype}")
    spacing = ", ".join(f"{a}={s:g}" for a, s in zip(meta.axes, meta.spacing))
    typer.echo(f"spacing: {spacing} ({meta.unit})")
    if 0 < image.size <= 512**3:
        values = np.asarray(image)
        typer.echo(f"range:   {values.min()} .. {values.max()}  mean: {float(values.mean()):.4g}")
        spatial = values[tuple(slice(None) if a in "ZYX" else 0 for a in meta.axes)]
        if spatial.ndim in (2, 3) and min(spatial.shape) >= 8:
            from biakit.workflows._denoise_checks import describe_noise

            typer.echo(f"noise:   {describe_noise(spatial.astype(np.float64))}")


def convert(
    source: Annotated[Path, typer.Argument(help="Input image.")],
    target: Annotated[Path, typer.Argument(help="Output image; the format follows the extension.")],
    axes: AxesOption = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace an existing output file (never the input).")
    ] = False,
) -> None:
    """Convert an image between formats, keeping axes and spacing."""
    from biakit.io import read_image, write_image
    from biakit.io._paths import parse_target

    src, dst = parse_target(source), parse_target(target)
    if (src.path.resolve(), src.dataset) == (dst.path.resolve(), dst.dataset):
        raise FileExistsError(f"{target}: output is the input {source}; choose another file name")
    image, meta = read_image(source, lazy=False, **read_kwargs(axes))
    write_image(target, image, meta, overwrite=overwrite)
    typer.echo(f"wrote {target} ({tuple(image.shape)}, axes {meta.axes})")
