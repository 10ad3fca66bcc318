"""``biakit pixel``: train and apply pixel classifiers from scribbles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

pixel_app = typer.Typer(
    help="Pixel classification from scribbles (Trainable Weka Segmentation / ilastik style).",
    no_args_is_help=True,
)


def _load(path: Path) -> tuple[np.ndarray, Any, int | None]:
    """Read an image; return it in canonical order with its channel axis (or None)."""
    from biakit.axes import to_canonical
    from biakit.io import read_image

    image, meta = read_image(path, lazy=False)
    image, axes = to_canonical(np.asarray(image), meta.axes)
    if "T" in axes:
        raise ValueError(f"{path}: time-lapse images are not supported here; split frames first")
    channel_axis = 0 if "C" in axes and image.shape[0] > 1 else None
    if "C" in axes and channel_axis is None:
        image = image[0]
    return image, meta, channel_axis


def _spacing(meta: Any) -> tuple[float, ...] | None:
    return None if meta.unit == "pixel" else meta.spatial_spacing


@pixel_app.command("train")
def train(
    images: Annotated[str, typer.Option("--images", help="Image folder, file or glob.")],
    scribbles: Annotated[
        str, typer.Option("--scribbles", help="Scribble label images (0 = unpainted), same names.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model folder to write.")],
    features: Annotated[str, typer.Option(help="Feature preset: fast | ilastik | weka.")] = "fast",
    classifier: Annotated[
        str, typer.Option(help="random_forest | extra_trees | gradient_boosting | svm | mlp")
    ] = "random_forest",
    trees: Annotated[int, typer.Option(help="Number of trees (forests).")] = 100,
    max_depth: Annotated[int | None, typer.Option(help="Maximum tree depth.")] = None,
    balanced: Annotated[bool, typer.Option(help="Balance classes by painted pixels.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    cv: Annotated[int, typer.Option(help="Stroke-wise k-fold estimate (0 = off).")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing model folder.")] = False,
) -> None:
    """Train a pixel classifier on painted pixels and save it as a model folder."""
    from biakit.cli._progress import track
    from biakit.evaluation import pair_files
    from biakit.io import list_images, read_image
    from biakit.pixel import PixelClassifier

    if output.exists() and not overwrite:
        raise FileExistsError(f"{output}: exists; pass --overwrite or choose another --output")
    pairs = pair_files(list_images(images), list_images(scribbles))
    imgs, labs, spacing, channel_axis = [], [], None, None
    for image_path, scribble_path in track(pairs, len(pairs), "reading"):
        image, meta, channel_axis = _load(image_path)
        scribble, _ = read_image(scribble_path, lazy=False)
        imgs.append(image)
        labs.append(np.asarray(scribble))
        spacing = spacing or _spacing(meta)
    clf = PixelClassifier(
        features, classifier=classifier, n_estimators=trees, max_depth=max_depth,
        class_weight="balanced" if balanced else None, seed=seed,
    )  # fmt: skip
    clf.fit(imgs, labs, spacing=spacing, channel_axis=channel_axis)
    _report_training(clf, cv)
    clf.save(output, overwrite=overwrite)
    _plot_importances(clf, output / "feature_importances.png")
    typer.echo(f"saved model to {output}")


def _report_training(clf: Any, cv: int) -> None:
    summary = clf.training_
    typer.echo(f"painted pixels per class: {summary['pixels_per_class']}")
    if summary.get("oob"):
        oob = summary["oob"]
        typer.echo(f"out-of-bag: accuracy {oob['accuracy']:.4f}, macro F1 {oob['f1']:.4f}")
    if cv:
        folds = clf.cross_validate(cv)
        f1 = np.array([f["f1"] for f in folds])
        std = f1.std(ddof=1) if f1.size > 1 else 0.0
        typer.echo(f"{cv}-fold (by stroke) macro F1: {f1.mean():.4f} ± {std:.4f}")


def _plot_importances(clf: Any, path: Path) -> None:
    try:
        importances = clf.feature_importances_
    except AttributeError:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from biakit._atomic import atomic_path

    top = importances.iloc[:25][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.25 * len(top) + 1))
    ax.barh(top.index, top.values, color="#4a7ab5")
    ax.set_xlabel("impurity importance")
    ax.set_title("most important features")
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


@pixel_app.command("predict")
def predict(
    model: Annotated[Path, typer.Argument(help="Model folder from `biakit pixel train`.")],
    input: Annotated[str, typer.Option("--input", "-i", help="Image folder, file or glob.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    probabilities: Annotated[bool, typer.Option(help="Also write class probabilities.")] = False,
    uncertainty: Annotated[bool, typer.Option(help="Also write the uncertainty map.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
) -> None:
    """Classify every pixel; write <name>_labels.tif (+ probabilities, uncertainty, overlay)."""
    from biakit.cli._progress import track
    from biakit.io import ImageMeta, list_images, write_image
    from biakit.pipeline import output_paths
    from biakit.pixel import PixelClassifier, uncertainty_from_proba
    from biakit.visualize import overlay_labels

    clf = PixelClassifier.load(model)
    inputs = list_images(input)
    for path in track(inputs, len(inputs), "predicting"):
        image, meta, channel_axis = _load(path)
        spacing = _spacing(meta) if clf.spacing_ is not None else None
        proba = clf.predict_proba(image, spacing=spacing, channel_axis=channel_axis)
        labels = clf.classes_.astype(np.uint16)[np.argmax(proba, axis=-1)]
        names = output_paths(path, output)
        axes = meta.spatial_axes
        spatial_meta = ImageMeta(axes, meta.spatial_spacing, unit=meta.unit)
        write_image(names["labels"], labels, spatial_meta, overwrite=overwrite)
        if probabilities:
            target = names["labels"].with_name(
                names["labels"].name.replace("_labels", "_probabilities")
            )
            proba_meta = ImageMeta("C" + axes, (1.0, *meta.spatial_spacing), unit=meta.unit)
            write_image(target, np.moveaxis(proba, -1, 0), proba_meta, overwrite=overwrite)
        if uncertainty:
            target = names["labels"].with_name(
                names["labels"].name.replace("_labels", "_uncertainty")
            )
            write_image(target, uncertainty_from_proba(proba), spatial_meta, overwrite=overwrite)
        shown = image[0] if channel_axis is not None else image
        rgb = overlay_labels(shown, labels.astype(np.int64), alpha=0.3)
        write_image(names["overlay"], rgb, ImageMeta("YXC", unit="pixel"), overwrite=overwrite)
    typer.echo(f"{len(inputs)} image(s) classified; results in {output}")
