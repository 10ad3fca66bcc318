"""``biakit train`` and ``biakit predict``: the network workflows from YAML configs.

Both are thin: ``train`` reads the data the config names and calls the
workflow's ``train`` (which writes the model folder as a whole, keeping
checkpoints in ``NAME.partial`` so ``--resume`` can continue); ``predict`` calls
``iter_predict_to_disk`` (each image read once, predicted once, written atomically).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from biakit.cli._batch import AxesOption, Failure, finish_batch
from biakit.cli._pipeline import ResumeOption, check_resume


def _read_pairs(
    images: str, masks: str, ndim: int, axes: str | None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Images (channel first) and their masks / label images, paired by file name."""
    from biakit.io import list_images, pair_files, read_channel_first, read_image
    from biakit.validation import check_labels

    xs, ys = [], []
    for image_path, mask_path in pair_files(list_images(images), list_images(masks)):
        image, _ = read_channel_first(image_path, ndim=ndim, axes=axes)
        mask, _ = read_image(mask_path, lazy=False)
        mask = check_labels(np.asarray(mask), name="label image", source=mask_path)
        if mask.shape != image.shape[1:]:
            raise ValueError(
                f"{mask_path}: shape {mask.shape}, but its image {image_path} has spatial "
                f"shape {image.shape[1:]}"
            )
        xs.append(image)
        ys.append(mask)
    return xs, ys


def train(
    config: Annotated[Path, typer.Argument(help="YAML training config (task, data, output, ...).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Model folder (overrides the config).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted run exactly (checkpoints in OUT.partial).")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option(help="Start afresh: discard an interrupted run, replace the model.")
    ] = False,
    axes: AxesOption = None,
    nproc: Annotated[
        int | None,
        typer.Option(
            "--nproc",
            help="Train with N processes (DistributedDataParallel, via torchrun): one per GPU, "
            "or N CPU processes when train.device is cpu. train.batch_size is per process.",
        ),
    ] = None,
) -> None:
    """Train a network from a YAML config (semantic, instance, detection, denoise, ...).

    ``--nproc N`` (or ``torchrun --nproc_per_node N -m biakit train CONFIG``) trains
    data-parallel on one node; see :mod:`biakit.nn.train._distributed`.
    """
    from biakit.nn.train import _distributed as dd
    from biakit.workflows import load_workflow_config, workflow_for

    check_resume(resume, overwrite)
    cfg = load_workflow_config(config)
    if cfg.data is None:
        raise ValueError(f"{config}: no 'data' section (images and masks folders)")
    target = output or (Path(cfg.output) if cfg.output else None)
    if target is None:
        raise ValueError(f"{config}: no output folder; set 'output' or pass --output")
    if nproc is not None:
        args = [str(config), *_train_flags(output, resume, overwrite, axes)]
        if _launched(cfg, nproc, args):
            return
    main = dd.env_rank() == 0  # under torchrun only rank 0 talks and writes
    echo = typer.echo if main else _quiet
    if cfg.task == "tracking":
        from biakit.cli._track import train_tracker

        return train_tracker(cfg, target, overwrite=overwrite)
    workflow = workflow_for(cfg)
    extra: dict[str, Any] = {}
    if cfg.task == "detection":
        data, test = _detection_data(cfg, axes)
    elif cfg.task == "denoise":
        data, test = _denoise_data(cfg, axes)
    elif cfg.task == "frame_prediction":
        data, test = (_read_movies(cfg.data.movies, axes),), None
        if cfg.data.test_movies:  # scored by the workflow's train (report in the model folder)
            extra["test_movies"] = _read_movies(cfg.data.test_movies, axes)
    elif cfg.task == "classification":
        from biakit.workflows.classification import classification_training_data

        data, test = classification_training_data(cfg, axes)
    elif cfg.task in ("super_resolution", "isotropic"):
        data, test = _scaled_data(cfg, workflow.input_ndim, axes)
    else:
        data = _read_pairs(cfg.data.images, cfg.data.masks, cfg.ndim, axes)
        test = None
        if cfg.data.test_images:
            test = _read_pairs(cfg.data.test_images, cfg.data.test_masks, cfg.ndim, axes)
    verb = "resuming" if resume else "training"
    echo(f"{cfg.task}: {verb} on {len(data[0])} image(s), patches {cfg.patch_shape}")
    if cfg.task == "isotropic":
        where = f"spacing {tuple(cfg.spacing)}" if cfg.spacing else "the config's factor"
        echo(f"axial factor {cfg.factor} (from {where})")
    history = workflow.train(*data, output_dir=target, resume=resume, overwrite=overwrite,
                             progress=main, **extra)  # fmt: skip
    echo(_stopped(workflow.training, len(history)) + f"; model saved to {target}")
    if getattr(workflow, "test_evaluation", None) is not None:
        echo(f"test set: {workflow.test_evaluation.headline()}")
    if test is not None and main:
        _report_test(workflow, test, target)
    dd.shutdown_distributed()


def _quiet(*args: Any, **kwargs: Any) -> None:
    """``typer.echo`` of the ranks other than 0: nothing."""


def _train_flags(output: Path | None, resume: bool, overwrite: bool, axes: str | None) -> list[str]:
    """Repeat the options of ``biakit train`` for the processes ``--nproc`` starts."""
    flags = [] if output is None else ["--output", str(output)]
    flags += ["--resume"] * resume + ["--overwrite"] * overwrite
    return flags + ([] if axes is None else ["--axes", axes])


def _launched(cfg: Any, nproc: int, args: list[str]) -> bool:
    """Check ``--nproc``; with N > 1 run ``biakit train ARGS`` in N processes (torchrun).

    Returns True when the processes ran (exits with the first failure's status),
    False for ``--nproc 1`` (train here).
    """
    from biakit.errors import ParameterError
    from biakit.nn.train import _distributed as dd

    if dd.env_world_size() > 1:
        raise ParameterError(
            f"--nproc {nproc}: this process was started by torchrun already "
            f"(WORLD_SIZE={dd.env_world_size()}); leave --nproc out under torchrun"
        )
    if cfg.task == "tracking":
        raise ParameterError(
            f"--nproc {nproc}: task 'tracking' trains no network; leave --nproc out"
        )
    dd.check_nproc(nproc, cfg.train.device)
    if nproc == 1:
        return False
    typer.echo(f"{cfg.task}: starting {nproc} training processes (torchrun)")
    code = dd.launch(["train", *args], nproc)
    if code:
        raise typer.Exit(code)
    return True


def _read_movies(source: str, axes: str | None) -> list[np.ndarray]:
    """Every time-lapse (``TYX`` / ``TZYX`` file, or a folder of per-frame files) of ``source``."""
    from biakit.io import list_images, read_timelapse

    path = Path(source)
    if path.is_dir() and not any(p.is_dir() for p in path.iterdir()) and not list_images(source):
        raise ValueError(f"{source}: no movies found (TYX / TZYX files)")
    return [read_timelapse(p, axes=axes)[0] for p in list_images(source)]


def _detection_data(cfg: Any, axes: str | None) -> tuple[tuple, tuple | None]:
    from biakit.workflows import load_point_pairs

    images, points, classes, _ = load_point_pairs(cfg.data.images, cfg.data.points, axes=axes)
    test = None
    if cfg.data.test_images:
        tx, tp, tc, _ = load_point_pairs(cfg.data.test_images, cfg.data.test_points, axes=axes)
        test = (tx, tp, tc)
    return (images, points, classes), test


def _frames(path: Any, ndim: int, axes: str | None, planes: bool = False) -> list[np.ndarray]:
    """Read the ``(C, *spatial)`` images of a file: one, or every frame of a time-lapse.

    With ``planes`` (a 2-D restoration model) a Z-stack gives its planes, said on stderr.
    """
    from biakit.io import read_channel_first

    image, meta = read_channel_first(path, ndim=ndim, axes=axes, time=True, planes=planes)
    frames = list(image) if meta.axes.startswith("T") else [image]
    if len(meta.spatial_axes) == ndim:
        return frames
    depth = image.shape[-3]
    typer.echo(f"{path}: a Z-stack of {depth} planes; the 2-D model trains on its planes "
               "(a 3-D patch_shape, e.g. [16, 64, 64], trains a 3-D model)", err=True)  # fmt: skip
    return [frame[:, z] for frame in frames for z in range(depth)]


def _image_sets(folder: str, ndim: int, axes: str | None, planes: bool = False) -> list[np.ndarray]:
    """Every image of ``folder``, time-lapses split into their frames (stacks into planes)."""
    from biakit.io import list_images

    return [frame for path in list_images(folder) for frame in _frames(path, ndim, axes, planes)]


def _image_pairs(
    inputs: str, targets: str, ndim: int, axes: str | None, planes: bool = False,
    match: Callable[[np.ndarray, np.ndarray, str], np.ndarray] | None = None,
) -> tuple[list, list]:  # fmt: skip
    """Images paired by file name; paired time-lapses (stacks) give one pair per frame (plane).

    ``match(input, target, target_name)`` returns the target fitted to its input (e.g.
    a high-resolution image cropped to the scale times its low one) or raises.
    """
    from biakit.io import list_images, pair_files

    xs, ys = [], []
    for a, b in pair_files(list_images(inputs), list_images(targets)):
        fa, fb = _frames(a, ndim, axes, planes), _frames(b, ndim, axes, planes)
        if len(fa) != len(fb):
            raise ValueError(f"{b}: {len(fb)} frame(s), but its input {a} has {len(fa)}")
        if match is not None:
            fb = [match(x, y, f"{b}") for x, y in zip(fa, fb)]
        xs += fa
        ys += fb
    return xs, ys


def _denoise_data(cfg: Any, axes: str | None) -> tuple[tuple, tuple | None]:
    """Noisy images (and CARE / N2N targets, paired by name); test images with clean ones.

    A time-lapse file counts as one image per frame (N2V on a movie trains on its frames),
    a Z-stack for a 2-D model as one image per plane.
    """
    data, planes = cfg.data, cfg.ndim == 2  # a 2-D model takes Z-stacks plane by plane
    if data.targets is None:
        train: tuple = (_image_sets(data.images, cfg.ndim, axes, planes),)
    else:
        train = _image_pairs(data.images, data.targets, cfg.ndim, axes, planes)
    test = None
    if data.test_images:
        test = _image_pairs(data.test_images, data.test_targets, cfg.ndim, axes, planes)
    return train, test


def _scaled_data(cfg: Any, ndim: int, axes: str | None) -> tuple[tuple, tuple | None]:
    """High-resolution images (with their low-resolution versions when given); the test set.

    Without ``low`` the workflow degrades the high-resolution images itself; a test
    set needs both ``test_low`` and ``test_high`` (the truth of those inputs). A
    time-lapse file counts as one image per frame.
    """
    from biakit.workflows.super_resolution import match_high

    data, factors = cfg.data, cfg.model.factors

    def match(low: np.ndarray, high: np.ndarray, name: str) -> np.ndarray:
        if cfg.task != "super_resolution":  # isotropic: no low images in its data
            return high
        return match_high(low, high, factors, name)  # a remainder under one low pixel: cut

    if data.low is None:
        train: tuple = (_image_sets(data.high, ndim, axes),)
    else:
        train = _image_pairs(data.low, data.high, ndim, axes, match=match)
    if (data.test_low is None) != (data.test_high is None):
        raise ValueError("data: give both test_low and test_high (its truth), or neither")
    test = None
    if data.test_low:
        test = _image_pairs(data.test_low, data.test_high, ndim, axes, match=match)
    return train, test


def _stopped(training: dict[str, Any], epochs: int) -> str:
    """``"12 of 30 epoch(s), stopped by the time budget"`` and the like."""
    planned = training.get("planned_epochs", epochs)
    reason = training.get("stop_reason")
    why = {"max_time": ", stopped by the time budget (train.max_time)",
           "early_stopping": ", stopped early (no improvement)"}.get(reason, "")  # fmt: skip
    return f"{epochs} of {planned} epoch(s){why}"


def _report_test(workflow: Any, test: tuple, target: Path) -> None:
    """Score the test set; write test_metrics.csv and test_per_image.csv into the model."""
    from biakit.measure import write_table

    evaluation = workflow.evaluate(*test)
    write_table(evaluation.summary, target / "test_metrics.csv", overwrite=True)
    write_table(evaluation.per_image, target / "test_per_image.csv", overwrite=True)
    if workflow.task == "classification":  # per-class report, confusion matrix, ROC, Grad-CAM
        from biakit.workflows.classification import write_classification_report

        images, labels = test
        write_classification_report(evaluation, target, overwrite=True, classifier=workflow,
                                    images=images, labels=labels)  # fmt: skip
    typer.echo(f"test set: {evaluation.headline()}")


def predict(
    model: Annotated[
        Path,
        typer.Argument(
            help="Model folder written by `biakit train`, or a bioimage.io package (.zip, "
            "folder or rdf.yaml) with one input tensor; for a package with a time axis the "
            "inputs are movies (--axes TYX for files without metadata)."
        ),
    ],
    input: Annotated[str, typer.Option("--input", "-i", help="Image file, folder or glob.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    tta: Annotated[
        bool | None,
        typer.Option(
            "--tta/--no-tta",
            help="Average over flips (and 90-degree turns for denoising): --tta all of them "
            "(8 in 2D); default: the model's own (the four turns for 2D N2V / N2V2, off "
            "otherwise).",
        ),
    ] = None,
    blend: Annotated[
        bool | None,
        typer.Option(
            "--blend/--no-blend",
            help="N2V / N2V2 denoisers: give each pixel's own noisy value back to the "
            "blind-spot prediction, weighted by the noise measured on the image; default: "
            "the model's own (on for N2V / N2V2).",
        ),
    ] = None,
    maps: Annotated[
        bool,
        typer.Option(
            "--maps/--no-maps",
            "--probabilities",
            help="Also write the network's raw output maps (NAME_maps.tif).",
        ),
    ] = False,
    overlay: Annotated[bool, typer.Option(help="Write an RGB overlay per image.")] = True,
    overwrite: Annotated[
        bool, typer.Option(help="Replace outputs of an earlier run (never inputs).")
    ] = False,
    axes: AxesOption = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Run block-wise on Dask: local, threads or tcp://HOST:PORT (default: local "
            "for Zarr / OME-Zarr / HDF5 inputs and files over 1 GiB, in memory otherwise).",
        ),
    ] = None,
    block_size: Annotated[
        int | None, typer.Option("--block-size", help="Block edge in pixels (default: auto).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Worker processes of --scheduler local.")
    ] = None,
    memory_limit: Annotated[
        str | None, typer.Option("--memory-limit", help="Memory per local worker, e.g. 2GiB.")
    ] = None,
    object_halo: Annotated[
        int | None,
        typer.Option(
            "--object-halo",
            help="Instance models, block-wise: voxels read around each block when decoding "
            "(at least the largest object; default: 3 median object diameters).",
        ),
    ] = None,
    resume: ResumeOption = False,
) -> None:
    """Apply a trained network: labels (or points), overlays, measurements per image.

    Block-wise runs (``--scheduler``, or Zarr / HDF5 / large inputs) write the maps
    (probabilities, heat maps, restored image) as ``OUTPUT/NAME.ome.zarr``, chunk by
    chunk (semantic segmentation also ``labels/classes``, instance segmentation its
    labels in ``labels/<name>``, detection ``NAME_points.csv`` beside it); time-lapses
    (``TYX``, ``TZYX``) frame by frame, Z-stacks under a 2-D denoising model plane by
    plane (``CZYX`` maps); an interrupted run continues with ``--resume``.
    """
    from biakit.cli._pipeline import check_resume, require_blockwise, timelapse_hint, use_blockwise
    from biakit.cli._pixel import predict_inputs_blockwise
    from biakit.cli._progress import track
    from biakit.io import list_images
    from biakit.workflows import load_model

    check_resume(resume, overwrite)
    workflow = load_model(model)
    if blend is not None:
        _choose_blend(workflow, blend, model)
    inputs = list_images(input)
    blockwise = use_blockwise(scheduler, inputs)
    require_blockwise(resume, blockwise)
    if blockwise:
        opts = {
            "scheduler": scheduler,
            "workers": workers,
            "memory_limit": memory_limit,
            "block_shape": block_size,
            "axes": axes,
            "overwrite": overwrite,
            "resume": resume,
            "tta": tta
            if tta is not None
            else getattr(getattr(workflow, "config", None), "resolved_tta", False),
        }
        if object_halo is not None:
            opts["object_halo"] = object_halo
        predict_inputs_blockwise(workflow, inputs, output, opts)
        return
    chosen = {} if tta is None else {"tta": tta}  # None: the model's default
    outcomes = workflow.iter_predict_to_disk(inputs, output, overwrite=overwrite, maps=maps,
                                             overlay=overlay, axes=axes, **chosen)  # fmt: skip
    failures, found = [], 0
    for outcome in track(outcomes, len(inputs), f"predicting ({workflow.task})"):
        for warning in outcome.warnings:
            typer.echo(f"biakit: warning: {warning}", err=True)
        if outcome.error is not None:
            why = timelapse_hint(_without_path(outcome.error, outcome.path))
            failures.append(Failure(outcome.path, why))
        found += outcome.n_objects
    done = len(inputs) - len(failures)
    what = {"instance": "object(s)", "detection": "point(s)"}.get(workflow.task)
    count = f", {found} {what}" if what else ""
    typer.echo(f"{done} of {len(inputs)} image(s) predicted{count}; results in {output}")
    finish_batch(failures, len(inputs))


def _choose_blend(workflow: Any, blend: bool, model: Path) -> None:
    """Set a loaded denoiser's ``blend_input`` for this run (the model on disk is unchanged)."""
    from biakit.errors import ParameterError
    from biakit.workflows._denoise_config import BLIND_SPOT_BLEND

    config = getattr(workflow, "config", None)
    algorithm = getattr(config, "algorithm", None)
    if getattr(workflow, "task", None) != "denoise" or config is None:
        raise ParameterError(
            f"{model}: --blend/--no-blend applies to biakit denoisers (N2V / N2V2), not to a "
            f"{getattr(workflow, 'task', 'bioimage.io')} model; leave it out"
        )
    if blend and algorithm not in BLIND_SPOT_BLEND:
        raise ParameterError(
            f"{model}: --blend needs a blind-spot denoiser (algorithm n2v or n2v2); this one "
            f"is {algorithm!r}; leave it out"
        )
    workflow.config = config.model_copy(update={"blend_input": blend})


def _without_path(message: str, path: Path) -> str:
    for prefix in (f"{path}: ", f"{path.name}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message
