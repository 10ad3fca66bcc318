"""``biakit train`` and ``biakit predict``: deep-learning workflows from YAML configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer


def _read_channel_first(path: Path, ndim: int) -> tuple[np.ndarray, Any]:
    from biakit.axes import to_canonical
    from biakit.io import read_image

    image, meta = read_image(path, lazy=False)
    image, axes = to_canonical(np.asarray(image), meta.axes)
    if "T" in axes:
        raise ValueError(f"{path}: time-lapse images are not supported here; split frames first")
    spatial = sum(a in "ZYX" for a in axes)
    if spatial != ndim:
        raise ValueError(f"{path}: a {spatial}-D image, but the model works on {ndim}-D images")
    return (image if "C" in axes else image[None]), meta


def _read_pairs(images: str, masks: str, ndim: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    from biakit.evaluation import pair_files
    from biakit.io import list_images, read_image

    xs, ys = [], []
    for image_path, mask_path in pair_files(list_images(images), list_images(masks)):
        image, _ = _read_channel_first(image_path, ndim)
        mask, _ = read_image(mask_path, lazy=False)
        mask = np.asarray(mask)
        if mask.shape != image.shape[1:]:
            raise ValueError(
                f"{mask_path} has shape {mask.shape} but {image_path} has spatial shape "
                f"{image.shape[1:]}"
            )
        xs.append(image)
        ys.append(mask)
    return xs, ys


def train(
    config: Annotated[Path, typer.Argument(help="YAML training config (task, data, output, ...).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Model folder (overrides the config).")
    ] = None,
) -> None:
    """Train a network from a YAML config; write the model folder, metrics and curves."""
    from biakit.workflows import SemanticSegmenter, load_workflow_config

    cfg = load_workflow_config(config)
    if cfg.data is None:
        raise ValueError(f"{config}: no 'data' section (images and masks folders)")
    target = output or (Path(cfg.output) if cfg.output else None)
    if target is None:
        raise ValueError(f"{config}: no output folder; set 'output' or pass --output")
    if (target / "config.json").exists():
        raise FileExistsError(f"{target}: already holds a model; choose another output")
    images, masks = _read_pairs(cfg.data.images, cfg.data.masks, cfg.ndim)
    typer.echo(f"training on {len(images)} image(s), patches {cfg.patch_shape}")
    segmenter = SemanticSegmenter(cfg)
    history = segmenter.train(images, masks, output_dir=target, progress=True)
    typer.echo(f"{len(history)} epoch(s); model saved to {target}")
    if cfg.data.test_images:
        test_x, test_y = _read_pairs(cfg.data.test_images, cfg.data.test_masks, cfg.ndim)
        scores = segmenter.evaluate(test_x, test_y)
        from biakit._atomic import atomic_write_text

        atomic_write_text(
            target / "test_metrics.json", json.dumps(scores, indent=2), overwrite=True
        )
        pooled = scores["pooled"]
        typer.echo(f"test set: IoU {pooled['iou']:.4f}, Dice {pooled['f1']:.4f}")


def predict(
    model: Annotated[Path, typer.Argument(help="Model folder written by `biakit train`.")],
    input: Annotated[str, typer.Option("--input", "-i", help="Image file, folder or glob.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    tta: Annotated[bool, typer.Option(help="Average over flips (test-time augmentation).")] = False,
    probabilities: Annotated[bool, typer.Option(help="Also write class probabilities.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
) -> None:
    """Apply a trained network to images; write <name>_labels.tif and overlays."""
    from biakit.cli._progress import track
    from biakit.io import ImageMeta, list_images, write_image
    from biakit.pipeline import output_paths
    from biakit.visualize import overlay_labels
    from biakit.workflows import SemanticSegmenter

    segmenter = SemanticSegmenter.load(model)
    inputs = list_images(input)
    ndim = segmenter.config.ndim
    for path in track(inputs, len(inputs), "predicting"):
        image, meta = _read_channel_first(path, ndim)
        proba = segmenter.predict_proba(image, tta=tta)
        labels = np.argmax(proba, axis=0).astype(np.uint8)
        names = output_paths(path, output)
        spatial = ImageMeta(meta.spatial_axes, meta.spatial_spacing, unit=meta.unit)
        write_image(names["labels"], labels, spatial, overwrite=overwrite)
        if probabilities:
            target = names["labels"].with_name(names["labels"].name[: -len("_labels.tif")])
            target = target.with_name(target.name + "_probabilities.tif")
            pmeta = ImageMeta("C" + meta.spatial_axes, (1.0, *meta.spatial_spacing), unit=meta.unit)
            write_image(target, proba.astype(np.float32), pmeta, overwrite=overwrite)
        rgb = overlay_labels(image[0], labels.astype(np.int64), alpha=0.3)
        write_image(names["overlay"], rgb, ImageMeta("YXC", unit="pixel"), overwrite=overwrite)
    typer.echo(f"{len(inputs)} image(s) segmented; results in {output}")
