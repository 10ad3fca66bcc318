"""``biakit info`` and ``biakit convert``: look at and convert image files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def info(
    path: Annotated[
        Path, typer.Argument(help="Image file (TIFF, PNG, NPY, file.h5:/data, .zarr).")
    ],
) -> None:
    """Print an image's shape, dtype, axes, spacing and intensity range."""
    import numpy as np

    from biakit.io import read_image

    image, meta = read_image(path)
    typer.echo(f"file:    {path}")
    typer.echo(f"shape:   {tuple(image.shape)}  axes: {meta.axes}  dtype: {image.dtype}")
    spacing = ", ".join(f"{a}={s:g}" for a, s in zip(meta.axes, meta.spacing))
    typer.echo(f"spacing: {spacing} ({meta.unit})")
    if image.size <= 512**3:
        values = np.asarray(image)
        typer.echo(f"range:   {values.min()} .. {values.max()}  mean: {float(values.mean()):.4g}")


def convert(
    source: Annotated[Path, typer.Argument(help="Input image.")],
    target: Annotated[Path, typer.Argument(help="Output image; the format follows the extension.")],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
) -> None:
    """Convert an image between formats, keeping axes and spacing."""
    from biakit.io import read_image, write_image

    if Path(str(source).split(":")[0]).resolve() == Path(str(target).split(":")[0]).resolve():
        raise ValueError(f"{target}: output is the input; choose another file name")
    image, meta = read_image(source, lazy=False)
    write_image(target, image, meta, overwrite=overwrite)
    typer.echo(f"wrote {target} ({tuple(image.shape)}, axes {meta.axes})")
