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
    """Train a network (task: semantic | instance | detection) from a YAML config."""
    from biakit.workflows import load_workflow_config, workflow_for

    cfg = load_workflow_config(config)
    if cfg.data is None:
        raise ValueError(f"{config}: no 'data' section (images and masks folders)")
    target = output or (Path(cfg.output) if cfg.output else None)
    if target is None:
        raise ValueError(f"{config}: no output folder; set 'output' or pass --output")
    if (target / "config.json").exists():
        raise FileExistsError(f"{target}: already holds a model; choose another output")
    workflow = workflow_for(cfg)
    if cfg.task == "detection":
        _train_detector(workflow, cfg, target)
        return
    images, masks = _read_pairs(cfg.data.images, cfg.data.masks, cfg.ndim)
    typer.echo(f"{cfg.task}: training on {len(images)} image(s), patches {cfg.patch_shape}")
    history = workflow.train(images, masks, output_dir=target, progress=True)
    typer.echo(f"{len(history)} epoch(s); model saved to {target}")
    if cfg.data.test_images:
        test_x, test_y = _read_pairs(cfg.data.test_images, cfg.data.test_masks, cfg.ndim)
        _report_test(workflow, test_x, test_y, target)


def _train_detector(workflow: Any, cfg: Any, target: Path) -> None:
    from biakit.workflows import load_point_pairs

    images, points, classes, _ = load_point_pairs(cfg.data.images, cfg.data.points)
    typer.echo(f"detection: training on {len(images)} image(s), patches {cfg.patch_shape}")
    history = workflow.train(images, points, classes, output_dir=target, progress=True)
    typer.echo(f"{len(history)} epoch(s); model saved to {target}")
    if cfg.data.test_images:
        tx, tp, tc, _ = load_point_pairs(cfg.data.test_images, cfg.data.test_points)
        _report_test(workflow, tx, tp, target, tc)


def _report_test(
    workflow: Any, images: list, targets: list, target: Path, classes: list | None = None
) -> None:
    from biakit._atomic import atomic_write_text

    extra = () if classes is None else (classes,)
    scores = workflow.evaluate(images, targets, *extra)
    if isinstance(scores, dict):  # semantic / detection: pooled + per-image metrics
        text = json.dumps(scores, indent=2, default=float)
        atomic_write_text(target / "test_metrics.json", text, overwrite=True)
        pooled = scores["pooled"]
        if "iou" in pooled:
            typer.echo(f"test set: IoU {pooled['iou']:.4f}, Dice {pooled['f1']:.4f}")
        else:
            typer.echo(
                f"test set: precision {pooled['precision']:.4f}, recall {pooled['recall']:.4f}, "
                f"F1 {pooled['f1']:.4f} (tolerance {scores['tolerance']})"
            )
        return
    from biakit.measure import write_table

    write_table(scores, target / "test_metrics.csv", overwrite=True)
    typer.echo("test set (pooled):")
    typer.echo(scores.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def predict(
    model: Annotated[Path, typer.Argument(help="Model folder written by `biakit train`.")],
    input: Annotated[str, typer.Option("--input", "-i", help="Image file, folder or glob.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    tta: Annotated[bool, typer.Option(help="Average over flips (test-time augmentation).")] = False,
    probabilities: Annotated[
        bool, typer.Option(help="Also write the network's output maps.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
) -> None:
    """Apply a trained network; write <name>_labels.tif, overlays, instance measurements."""
    import pandas as pd

    from biakit.cli._progress import track
    from biakit.io import ImageMeta, list_images, write_image
    from biakit.measure import measure_objects, write_table
    from biakit.pipeline import output_paths
    from biakit.visualize import overlay_labels
    from biakit.workflows import Detector, InstanceSegmenter, load_model

    workflow = load_model(model)
    if isinstance(workflow, Detector):
        _predict_points(workflow, input, output, tta=tta, overwrite=overwrite)
        return
    is_instance = isinstance(workflow, InstanceSegmenter)
    inputs = list_images(input)
    tables = []
    for path in track(inputs, len(inputs), "predicting"):
        image, meta = _read_channel_first(path, workflow.config.ndim)
        names = output_paths(path, output)
        spatial = ImageMeta(meta.spatial_axes, meta.spatial_spacing, unit=meta.unit)
        if is_instance:
            maps = workflow.predict_maps(image, tta=tta)
            labels = workflow.predict(image, tta=tta)
            table = measure_objects(labels, image[0], spacing=meta.spatial_spacing, unit=meta.unit)
            table.insert(0, "image", path.name)
            tables.append(table)
        else:
            maps = workflow.predict_proba(image, tta=tta)
            labels = np.argmax(maps, axis=0).astype(np.uint8)
        write_image(names["labels"], labels, spatial, overwrite=overwrite)
        if probabilities:
            stem = names["labels"].name[: -len("_labels.tif")]
            pmeta = ImageMeta("C" + meta.spatial_axes, (1.0, *meta.spatial_spacing), unit=meta.unit)
            target = names["labels"].with_name(f"{stem}_maps.tif")
            write_image(target, maps.astype(np.float32), pmeta, overwrite=overwrite)
        rgb = overlay_labels(image[0], labels.astype(np.int64), alpha=0.3)
        write_image(names["overlay"], rgb, ImageMeta("YXC", unit="pixel"), overwrite=overwrite)
    if tables:
        frame = pd.concat(tables, ignore_index=True)
        write_table(frame, Path(output) / "measurements.csv", overwrite=overwrite)
    typer.echo(f"{len(inputs)} image(s) segmented; results in {output}")


def _predict_points(detector: Any, input: str, output: Path, *, tta: bool, overwrite: bool) -> None:
    """Write ``<name>_points.csv`` and an overlay of the detections for every image."""
    from biakit.cli._progress import track
    from biakit.io import ImageMeta, list_images, write_image
    from biakit.nn.targets import point_heatmap
    from biakit.pipeline import output_paths
    from biakit.segment import label
    from biakit.visualize import overlay_labels
    from biakit.workflows import write_points_csv

    inputs = list_images(input)
    total = 0
    for path in track(inputs, len(inputs), "detecting"):
        image, meta = _read_channel_first(path, detector.config.ndim)
        points, classes, scores = detector.predict(image, tta=tta)
        total += len(points)
        stem = output_paths(path, output)["labels"].name[: -len("_labels.tif")]
        write_points_csv(
            output / f"{stem}_points.csv", points, classes, scores,
            axes=meta.spatial_axes, overwrite=overwrite,
        )  # fmt: skip
        dots = point_heatmap(points, image.shape[1:], sigma=1.5)[0] > 0.3
        rgb = overlay_labels(image[0], label(dots), alpha=0.8)
        overlay = output / f"{stem}_overlay.png"
        write_image(overlay, rgb, ImageMeta("YXC", unit="pixel"), overwrite=overwrite)
    typer.echo(f"{len(inputs)} image(s), {total} point(s); results in {output}")
