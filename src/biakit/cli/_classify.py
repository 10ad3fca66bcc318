"""``biakit classify-objects``: classify each object of a segmentation with a trained classifier.

Per image ``NAME`` (paired with its label image by name, or the one image with
the one label image): ``NAME_classes.tif`` (each object painted with its class
id + 1, 0 = background) and ``NAME_objects.csv`` (label, class_id, class, one
probability column per class, and with ``--measure`` the measurement table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from biakit.cli._batch import AxesOption, finish_batch, run_batch


def _pairs(image: str, labels: str) -> list[tuple[Path, Path]]:
    from biakit.errors import DataError
    from biakit.io import list_images, pair_files

    images, masks = list_images(image), list_images(labels)
    if not images:
        raise DataError(f"--image {image}: no image files found")
    if not masks:
        raise DataError(f"--labels {labels}: no label image files found")
    if len(images) == 1 and len(masks) == 1:
        return [(images[0], masks[0])]
    return pair_files(images, masks)


def _classifier(model: Path) -> Any:
    from biakit.errors import ModelFileError
    from biakit.workflows import load_model

    workflow = load_model(model)
    if workflow.task != "classification":
        raise ModelFileError(
            f"{model}: a {workflow.task!r} model; classify-objects needs a classification "
            "model (biakit train with task: classification)"
        )
    return workflow


def classify_objects(
    model: Annotated[Path, typer.Argument(help="Classification model folder (biakit train).")],
    image: Annotated[str, typer.Option("--image", help="Intensity image file, folder or glob.")],
    labels: Annotated[
        str, typer.Option("--labels", help="Label image file, folder or glob (paired by name).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    context: Annotated[
        float, typer.Option(help="Context around each object, as a fraction of its size.")
    ] = 0.5,
    margin: Annotated[int, typer.Option(help="Extra context in pixels on each side.")] = 0,
    measure: Annotated[
        bool, typer.Option("--measure/--no-measure", help="Join the measurement table.")
    ] = True,
    spacing: Annotated[
        list[float] | None,
        typer.Option(help="Pixel size ((z,) y, x); one value for all axes. Default: metadata."),
    ] = None,
    tta: Annotated[bool, typer.Option(help="Average over flips (test-time augmentation).")] = False,
    overwrite: Annotated[
        bool, typer.Option(help="Replace outputs of an earlier run (never inputs).")
    ] = False,
    axes: AxesOption = None,
) -> None:
    """Classify every object of a label image: NAME_classes.tif and NAME_objects.csv."""
    from biakit._outputs import check_outputs, table_files
    from biakit.io import file_key

    classifier = _classifier(model)
    pairs = _pairs(image, labels)
    plans = {im: (output / f"{file_key(im)}_classes.tif", output / f"{file_key(im)}_objects.csv")
             for im, _ in pairs}  # fmt: skip
    planned = [p for tif, csv in plans.values() for p in (tif, *table_files(csv))]
    check_outputs([p for pair in pairs for p in pair], planned, overwrite=overwrite)
    label_of = dict(pairs)
    given = (spacing[0] if len(spacing) == 1 else tuple(spacing)) if spacing else None
    options = {"context": context, "margin": margin, "measure": measure, "tta": tta,
               "spacing": given}  # fmt: skip
    counts: list[int] = []

    def one(path: Path) -> None:
        counts.append(_classify_one(classifier, path, label_of[path], plans[path], options,
                                    axes=axes, overwrite=overwrite))  # fmt: skip

    failures = run_batch([im for im, _ in pairs], one, "classifying objects")
    typer.echo(f"{len(counts)} of {len(pairs)} image(s), {sum(counts)} object(s) classified; "
               f"results in {output}")  # fmt: skip
    finish_batch(failures, len(pairs))


def _classify_one(classifier: Any, image_path: Path, labels_path: Path, outputs: tuple,
                  options: dict, *, axes: str | None, overwrite: bool) -> int:  # fmt: skip
    """Read one pair, classify its objects, write the class map and the table atomically."""
    from biakit._outputs import record_outputs, table_files
    from biakit.errors import DataError
    from biakit.io import read_channel_first, read_image, write_image
    from biakit.measure import write_table
    from biakit.validation import check_spacing
    from biakit.workflows._classify_objects import class_map, classify_objects

    image, meta = read_channel_first(image_path, ndim=classifier.config.ndim, axes=axes)
    labels = np.asarray(read_image(labels_path, lazy=False)[0])
    if labels.shape != image.shape[1:]:
        raise DataError(
            f"{labels_path}: label image of shape {labels.shape}, but its image {image_path} "
            f"has spatial shape {image.shape[1:]}; expected the same shape"
        )
    given = options["spacing"]
    spacing = check_spacing(given if given is not None else meta.spatial_spacing, labels.ndim,
                            name="--spacing")  # fmt: skip
    kwargs = {k: v for k, v in options.items() if k != "spacing"}
    table = classify_objects(classifier, image, labels, spacing=spacing, channel_axis=0, **kwargs)
    classes = class_map(labels, table)
    tif, csv = outputs
    tif.parent.mkdir(parents=True, exist_ok=True)
    record_outputs(tif.parent, [tif, *table_files(csv)])  # before writing: --overwrite later
    out_meta = meta.with_(axes=meta.spatial_axes, spacing=spacing, channel_names=None)
    write_image(tif, classes, out_meta, overwrite=overwrite)
    write_table(table, csv, overwrite=overwrite)
    return len(table)
