"""``biakit pixel``: train and apply pixel classifiers from scribbles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from biakit.cli._batch import AxesOption
from biakit.cli._pipeline import (
    BlockSizeOption,
    MemoryLimitOption,
    ResumeOption,
    SchedulerOption,
    WorkersOption,
)

pixel_app = typer.Typer(
    help="Pixel classification from scribbles (Trainable Weka Segmentation / ilastik style).",
    no_args_is_help=True,
)


def _load(path: Path, axes: str | None = None) -> tuple[np.ndarray, Any, int | None]:
    """Read an image (:func:`biakit.io.read_channel_first`); return it with its channel axis.

    A single channel is dropped (``channel_axis`` None). NaN or infinite pixels are
    refused (a classifier would turn them into garbage), and so are time-lapses.
    """
    from biakit.cli._pipeline import timelapse_hint
    from biakit.errors import DataError
    from biakit.io import read_channel_first
    from biakit.pipeline._files import check_pixels

    try:
        image, meta = read_channel_first(path, axes=axes)
    except DataError as err:
        raise DataError(timelapse_hint(str(err))) from None
    check_pixels(image, path)
    if image.shape[0] == 1:
        return image[0], meta, None
    return image, meta, 0


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
    trees: Annotated[int, typer.Option(help="Number of trees (forests).")] = 24,
    max_depth: Annotated[int | None, typer.Option(help="Maximum tree depth.")] = None,
    balanced: Annotated[bool, typer.Option(help="Balance classes by painted pixels.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    cv: Annotated[int, typer.Option(help="Stroke-wise k-fold estimate (0 = off).")] = 0,
    axes: AxesOption = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace an existing pixel-classifier model folder.")
    ] = False,
) -> None:
    """Train a pixel classifier on painted pixels and save it as a model folder."""
    from biakit.cli._progress import track
    from biakit.evaluation import pair_files
    from biakit.io import list_images
    from biakit.pixel import PixelClassifier

    if trees < 1:
        raise ValueError(f"--trees must be at least 1, got {trees}")
    if max_depth is not None and max_depth < 1:
        raise ValueError(f"--max-depth must be at least 1, got {max_depth}")
    if cv < 0 or cv == 1:
        raise ValueError(f"--cv must be 0 (off) or at least 2 folds, got {cv}")
    image_files, scribble_files = list_images(images), list_images(scribbles)
    _check_model_output(output, [*image_files, *scribble_files], overwrite=overwrite)
    pairs = pair_files(image_files, scribble_files)
    imgs, labs, spacing, channel_axis = [], [], None, None
    for image_path, scribble_path in track(pairs, len(pairs), "reading"):
        image, meta, channel_axis = _load(image_path, axes)
        imgs.append(image)
        labs.append(_read_scribbles(scribble_path, image, channel_axis))
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


def _read_scribbles(path: Path, image: np.ndarray, channel_axis: int | None) -> np.ndarray:
    """Read a scribble image: integer labels (0 = unpainted) of the image's spatial shape."""
    from biakit.io import read_image
    from biakit.validation import check_labels

    scribble, _ = read_image(path, lazy=False)
    scribble = check_labels(np.asarray(scribble), name="scribbles", source=path)
    shape = image.shape[1:] if channel_axis is not None else image.shape
    if scribble.shape != shape:
        raise ValueError(
            f"{path}: scribbles have shape {scribble.shape} but the image has spatial shape "
            f"{shape}; expected the same shape"
        )
    return scribble


def _check_model_output(output: Path, inputs: list[Path], *, overwrite: bool) -> None:
    """Refuse to replace anything but a pixel-classifier model folder, never an input."""
    from biakit._outputs import is_inside

    real = output.resolve()
    for path in inputs:
        if path.resolve() == real or is_inside(path.resolve(), real):
            raise FileExistsError(
                f"{output}: the model folder would replace the input {path}; "
                "choose another --output"
            )
    if not output.exists():
        return
    if not overwrite:
        raise FileExistsError(f"{output}: exists; pass --overwrite or choose another --output")
    from biakit.pixel._persist import FORMAT

    try:
        is_model = json.loads((output / "config.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        is_model = False
    if not is_model:
        raise FileExistsError(
            f"{output}: exists and is not a pixel-classifier model folder; --overwrite replaces "
            f"only a model folder: choose another --output"
        )


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
    axes: AxesOption = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace outputs of an earlier biakit run (never inputs).")
    ] = False,
    scheduler: SchedulerOption = None,
    block_size: BlockSizeOption = None,
    workers: WorkersOption = None,
    memory_limit: MemoryLimitOption = None,
    resume: ResumeOption = False,
) -> None:
    """Classify every pixel; write <name>_labels.tif (+ probabilities, uncertainty, overlay).

    A file that cannot be read or classified is listed at the end (FAILED ...) and
    the others are still processed; the exit status is then 2. Block-wise runs
    (``--scheduler``, or Zarr / HDF5 / large inputs) write ``OUTPUT/NAME.ome.zarr``:
    probabilities as the image, ``labels/classes``, and ``uncertainty`` when asked;
    time-lapses frame by frame; an interrupted run continues with ``--resume``.
    """
    from biakit._outputs import check_outputs
    from biakit.cli._batch import finish_batch, run_batch
    from biakit.cli._pipeline import check_resume, require_blockwise, use_blockwise
    from biakit.io import list_images
    from biakit.pixel import PixelClassifier

    check_resume(resume, overwrite)
    clf = PixelClassifier.load(model)
    inputs = list_images(input)
    blockwise = use_blockwise(scheduler, inputs)
    require_blockwise(resume, blockwise)
    if blockwise:
        opts = {"scheduler": scheduler, "workers": workers, "memory_limit": memory_limit,
                "block_shape": block_size, "axes": axes, "overwrite": overwrite,
                "uncertainty": uncertainty, "resume": resume}  # fmt: skip
        predict_inputs_blockwise(clf, inputs, output, opts)
        return
    planned = [p for path in inputs for p in _outputs(path, output, probabilities, uncertainty)]
    check_outputs([*inputs, model], planned, overwrite=overwrite)

    def one(path: Path) -> None:
        _predict_one(clf, path, output, probabilities, uncertainty, axes, overwrite)

    failures = run_batch(inputs, one, "predicting")
    done = len(inputs) - len(failures)
    if done:
        typer.echo(f"{done} image(s) classified; results in {output}")
    finish_batch(failures, len(inputs))


def predict_inputs_blockwise(model: Any, inputs: list[Path], output: Path, opts: dict) -> None:
    """Predict each input block-wise into ``OUTPUT/NAME.ome.zarr`` (shared with ``predict``).

    Time-lapses are predicted frame by frame; ``opts["resume"]`` continues interrupted
    inputs and skips finished ones (see :func:`biakit.cli._pipeline.run_inputs`).
    """
    from biakit.cli._pipeline import block_progress, open_client, resume_modes, run_inputs
    from biakit.distributed import PredictReport, iter_predict_blockwise

    opts = dict(opts)
    resume = bool(opts.pop("resume", False))
    modes = resume_modes(inputs, output, resume, bool(opts.get("overwrite")))  # before any cluster
    client = open_client(opts.pop("scheduler"), opts.pop("workers"), opts.pop("memory_limit"),
                         inputs, opts.get("axes"), time=True)  # fmt: skip

    def one(path: Path, dest: Path, again: bool) -> None:
        gen = iter_predict_blockwise(model, path, dest, client=client, resume=again, **opts)
        for item in block_progress(gen):
            if isinstance(item, PredictReport):
                frames = f" in {item.n_frames} frame(s)" if item.n_frames else ""
                frames = f" in {item.n_planes} plane(s)" if item.n_planes else frames
                typer.echo(f"{path.name}: {item.n_blocks} block(s){frames}; wrote {item.dest}")

    with client:
        run_inputs(modes, output, one)


def _outputs(path: Path, output: Path, probabilities: bool, uncertainty: bool) -> list[Path]:
    from biakit.pipeline import output_paths

    names = output_paths(path, output)
    labels = names["labels"]
    extra = [labels.with_name(labels.name.replace("_labels", "_probabilities"))] * probabilities
    extra += [labels.with_name(labels.name.replace("_labels", "_uncertainty"))] * uncertainty
    return [labels, *extra, names["overlay"]]


def _predict_one(
    clf: Any, path: Path, output: Path, probabilities: bool, uncertainty: bool,
    axes: str | None, overwrite: bool,
) -> None:  # fmt: skip
    from biakit._outputs import record_outputs
    from biakit.io import ImageMeta
    from biakit.pipeline._files import write_all
    from biakit.pixel import uncertainty_from_proba
    from biakit.visualize import overlay_labels

    image, meta, channel_axis = _load(path, axes)
    spacing = _spacing(meta) if clf.spacing_ is not None else None
    proba = clf.predict_proba(image, spacing=spacing, channel_axis=channel_axis)
    labels = clf.classes_.astype(np.uint16)[np.argmax(proba, axis=-1)]
    targets = iter(_outputs(path, output, probabilities, uncertainty))
    spatial = ImageMeta(meta.spatial_axes, meta.spatial_spacing, unit=meta.unit)
    todo = [(next(targets), labels, spatial)]
    if probabilities:
        proba_meta = ImageMeta(
            "C" + meta.spatial_axes, (1.0, *meta.spatial_spacing), unit=meta.unit
        )
        todo.append((next(targets), np.moveaxis(proba, -1, 0), proba_meta))
    if uncertainty:
        todo.append((next(targets), uncertainty_from_proba(proba), spatial))
    shown = image[0] if channel_axis is not None else image
    rgb = overlay_labels(shown, labels.astype(np.int64), alpha=0.3)
    todo.append((next(targets), rgb, ImageMeta("YXC", unit="pixel")))
    record_outputs(output, [target for target, _, _ in todo])  # before writing
    write_all(todo, overwrite=overwrite)
