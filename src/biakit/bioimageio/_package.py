"""Assemble and save the package: description, test tensors, cover, README."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biakit.bioimageio._export import (
    _CITES,
    WEIGHT_FORMATS,
    _axes,
    _check_weights,
    geometry,
    test_input,
    workflow_network,
    write_weights,
)
from biakit.bioimageio._tasks import TaskSpec, task_spec


def _describe(workflow: Any, spec: TaskSpec, folder: Path, weights: dict, files: dict,
              meta: dict) -> Any:  # fmt: skip
    """Build the ``ModelDescr`` (v0.5) from the files in ``folder``."""
    from bioimageio.spec.model import v0_5

    ndim = int(workflow.network_config.ndim)
    ins, outs = _axes(spec, *files["geometry"], ndim)
    tensor_in = v0_5.InputTensorDescr(
        id=v0_5.TensorId("input"), axes=ins, test_tensor=v0_5.FileDescr(source=files["in"]),
        data=v0_5.IntervalOrRatioDataDescr(type="float32"), preprocessing=spec.preprocessing,
        description=(f"the last {spec.frames[0]} frames of a movie, time then channels"
                     if spec.frames else "raw image, channels first"),
    )  # fmt: skip
    tensor_out = v0_5.OutputTensorDescr(
        id=v0_5.TensorId(spec.output_id), axes=outs,
        test_tensor=v0_5.FileDescr(source=files["out"]),
        data=v0_5.IntervalOrRatioDataDescr(type="float32"), postprocessing=spec.postprocessing,
        description=spec.output_description,
    )  # fmt: skip
    cites = [v0_5.CiteEntry(text=text, doi=v0_5.Doi(doi)) for text, doi in meta["cite"]]
    return v0_5.ModelDescr(
        name=meta["name"], description=meta["description"],
        authors=[v0_5.Author(name=a) for a in meta["authors"]], cite=cites,
        license=v0_5.LicenseId(meta["license"]),
        documentation=v0_5.FileDescr(source=files["readme"]),
        covers=[v0_5.FileDescr(source=files["cover"])] if files.get("cover") else [],
        inputs=[tensor_in], outputs=[tensor_out], weights=v0_5.WeightsDescr(**weights),
        tags=["biakit", workflow.task, f"{ndim}d", *spec.tags],
        attachments=[v0_5.FileDescr(source=files["biakit"])],
        config=v0_5.Config(**{"biakit": meta["config"]}),
    )  # fmt: skip


def _predict_package(descr: Any, test_in: np.ndarray, output_id: str,
                     dims: tuple[str, ...]) -> np.ndarray:  # fmt: skip
    """Predict the test input with the package itself, as ``test_model`` does.

    bioimageio.core's state-dict backend, whole image, no halo padding (the
    reproducibility test runs the test input as it is).
    """
    from bioimageio.core import Sample, Tensor, create_prediction_pipeline

    pipeline = create_prediction_pipeline(descr, weight_format="pytorch_state_dict")
    sample = Sample(members={"input": Tensor(test_in, dims=dims)}, stat={}, id="test")
    out = pipeline.predict_sample_without_blocking(
        sample, skip_input_padding=True, skip_output_cropping=True
    )
    return np.asarray(out.members[output_id].data, dtype=np.float32)


def _cover(path: Path, image: np.ndarray, out: np.ndarray) -> None:
    """Input beside the model's prediction (first channel, middle slice), 8-bit PNG."""
    from PIL import Image

    def plane(a: np.ndarray) -> np.ndarray:
        a = a[0, -1 if a.shape[1] > 1 else 0].astype(np.float64)
        while a.ndim > 2:
            a = a[a.shape[0] // 2]
        lo, hi = np.percentile(a, [1, 99.8])
        return np.clip((a - lo) / (hi - lo + 1e-12) * 255, 0, 255).astype(np.uint8)

    left = plane(image)
    right = plane(out) if out.ndim > 2 else _bars(out[0])
    side = max(left.shape[0], right.shape[0], 128)
    tiles = [
        np.asarray(Image.fromarray(p).resize((side, side), Image.NEAREST)) for p in (left, right)
    ]
    Image.fromarray(np.concatenate(tiles, axis=1)).save(path)


def _bars(probs: np.ndarray, side: int = 128) -> np.ndarray:
    """One bar per class, its height the probability (8-bit image ``side x side``)."""
    chart = np.zeros((side, side), np.uint8)
    width = max(1, side // max(1, len(probs)))
    for k, p in enumerate(np.clip(probs, 0, 1)):
        height = round(float(p) * side)
        chart[side - height :, k * width + 1 : (k + 1) * width - 1] = 255
    return chart


def _readme(workflow: Any, spec: TaskSpec, meta: dict, formats: Sequence[str], check: dict) -> str:
    training = workflow.training or {}
    summary = training.get("summary") or {}
    lines = [
        f"# {meta['name']}", "", meta["description"], "",
        f"Exported by biakit from a trained `{type(workflow).__name__}` ({workflow.task}), "
        f"architecture `{workflow.architecture}`; weights: {', '.join(formats)}.", "",
        "## Input and output", "",
        ("- input: raw frames `(batch, time, channel, " if spec.frames
         else "- input: raw image `(batch, channel, ") + ", ".join(spec_axes(workflow)) + ")`, "
        "normalised by the package's own preprocessing"
        + (f". {spec.note}" if spec.note else ""),
        f"- output `{spec.output_id}`" + ("" if spec.output_space else " `(batch, channel)`")
        + f": {spec.output_description}", "",
        "## Training data", "",
        f"- {'movies' if spec.frames else 'images'}: {training.get('n_images', 'unknown')}, "
        f"epochs: "
        f"{training.get('epochs', 'unknown')} (best epoch {training.get('best_epoch')})",
        f"- stop reason: {training.get('stop_reason', 'unknown')}", "",
        "# Validation", "",
        "Metrics recorded by biakit during training (validation split where one was given):", "",
    ]  # fmt: skip
    metrics = {k: v for k, v in summary.items() if isinstance(v, int | float)}
    lines += [f"- {k}: {v:.4g}" for k, v in sorted(metrics.items())] or ["- (none recorded)"]
    lines += [
        "", "Reproducibility: the test output is this package's own prediction of the test "
        f"input (bioimageio.core, pytorch_state_dict); the maximum difference of biakit's "
        f"own prediction on it is {check['max_abs_diff']:.3g}.", "",
        "Post-processing parameters (thresholds, decoding) for biakit are in "
        "`config.biakit`; other tools get the maps.", "",
        "## Licence", "", f"{meta['license']}", "",
    ]  # fmt: skip
    return "\n".join(lines)


def spec_axes(workflow: Any) -> list[str]:
    """Spatial axis ids of the workflow's network."""
    from biakit.bioimageio._tasks import space_axes

    return space_axes(int(workflow.network_config.ndim))


def export_package(
    workflow: Any,
    path: str | Path,
    *,
    weights: Sequence[str] = WEIGHT_FORMATS,
    sample: Any = None,
    name: str | None = None,
    description: str | None = None,
    authors: Sequence[str] = ("biakit user",),
    license: str = "MIT",
    overwrite: bool = False,
) -> Path:
    """Write a trained workflow as a bioimage.io model package (format 0.5, a ``.zip``).

    Parameters
    ----------
    workflow : NetworkWorkflow
        A trained (or loaded) biakit workflow whose task has an exporter.
    path : str or Path
        Output ``.zip``.
    weights : sequence of {"pytorch_state_dict", "torchscript", "onnx"}
        Weight formats; the state dict (with the architecture source) is always written.
    sample : array_like, optional
        Image the test tensors and the cover are made from (cropped or padded to a
        valid size); default a smooth random image.
    name, description, authors, license : str
        Package metadata (no GitHub user names: they would be looked up online).
    overwrite : bool
        Replace an existing ``path``.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> workflow.export_bioimageio("model.zip")  # doctest: +SKIP
    """
    from biakit.bioimageio._quiet import quiet_bioimageio

    with quiet_bioimageio():
        return _export(workflow, Path(path), weights=weights, sample=sample, name=name,
                       description=description, authors=authors, license=license,
                       overwrite=overwrite)  # fmt: skip


def _export(
    workflow: Any,
    target: Path,
    *,
    weights: Sequence[str],
    sample: Any,
    name: Any,
    description: Any,
    authors: Sequence[str],
    license: str,
    overwrite: bool,
) -> Path:
    from bioimageio.spec import save_bioimageio_package

    formats = _check_weights(weights)
    workflow._require_trained()
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target}: exists already; pass overwrite=True to replace it")
    spec = task_spec(workflow)
    mins, steps, halos = geometry(workflow.network_config, spec.scale, spec.fixed_shape)
    folder = Path(tempfile.mkdtemp(prefix="biakit-bioimageio-"))
    try:
        if spec.make_test_input is not None:
            test_in = spec.make_test_input(workflow, sample, mins, steps)
        else:
            test_in = test_input(workflow, sample, mins, steps, spec.fit_sample)
        network = (spec.network or workflow_network)(workflow)
        weights_d = write_weights(network, folder, formats, test_in, _onnx_dynamic(test_in, spec))
        meta = _meta(workflow, spec, name, description, authors, license)
        files = {"geometry": (mins, steps, halos), "in": folder / "test_input.npy",
                 "out": folder / "test_output.npy", "readme": folder / "README.md",
                 "biakit": folder / "biakit_model.json"}  # fmt: skip
        np.save(files["in"], test_in)
        np.save(files["out"], np.ones(_out_shape(test_in, spec)))
        files["readme"].write_text("# Validation\n")
        _write_biakit(workflow, files["biakit"])
        descr = _describe(workflow, spec, folder, weights_d, files, meta)
        test_out = _predict_package(descr, test_in, spec.output_id, _in_dims(test_in, spec))
        np.save(files["out"], test_out)
        check = {"max_abs_diff": _biakit_difference(workflow, spec, test_in, test_out)}
        files["cover"] = folder / "cover.png"
        _cover(files["cover"], test_in, test_out)
        files["readme"].write_text(_readme(workflow, spec, meta, formats, check))
        descr = _describe(workflow, spec, folder, weights_d, files, meta)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp_zip = folder / "package.zip"
        save_bioimageio_package(descr, output_path=tmp_zip)
        shutil.move(tmp_zip, target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return target


def _out_shape(test_in: np.ndarray, spec: TaskSpec) -> tuple[int, ...]:
    """Shape of the test output: ``(1, [frames,] channels, *spatial)``."""
    lead = (1, *spec.frames[1:], len(spec.out_channels))
    if not spec.output_space:
        return lead
    spatial = test_in.shape[len(lead) :]
    scale = spec.scale or (1,) * len(spatial)
    return (*lead, *(n * f for n, f in zip(spatial, scale)))


def _onnx_dynamic(test_in: np.ndarray, spec: TaskSpec) -> dict[int, str] | None:
    """Dynamic ONNX axes: None (batch and space of ``(B, C, *S)``), else index -> name."""
    if not spec.output_space:
        return {0: "batch"}
    if not spec.frames:
        return None
    dims = _in_dims(test_in, spec)
    return {0: "batch", **{i: d for i, d in enumerate(dims) if i >= 3}}  # (B, T, C, *S)


def _in_dims(test_in: np.ndarray, spec: TaskSpec) -> tuple[str, ...]:
    """Axis ids of the test input."""
    lead = ("batch", "time", "channel") if spec.frames else ("batch", "channel")
    return (*lead, *("z", "y", "x")[-(test_in.ndim - len(lead)) :])


def _biakit_difference(workflow: Any, spec: TaskSpec, test_in: np.ndarray,
                       test_out: np.ndarray) -> float:  # fmt: skip
    """Largest difference between biakit's maps and the package's (same-size outputs)."""
    if spec.reference is not None:
        return float(np.abs(np.asarray(spec.reference(test_in[0])) - test_out[0]).max())
    if not spec.output_space:  # e.g. class probabilities of an image of the input size
        maps = workflow.predict_maps(test_in[0], amp="none")
        return float(np.abs(np.asarray(maps) - test_out[0]).max())
    if workflow.task not in ("semantic", "instance", "detection", "denoise"):
        return float("nan")
    maps = workflow.predict_maps(test_in[0], blending="none", device="cpu", amp="none",
                                 tile_shape=test_in.shape[2:], tta=False)  # fmt: skip
    return float(np.abs(maps - test_out[0]).max())


def _meta(workflow: Any, spec: TaskSpec, name: Any, description: Any, authors: Any,
          license: str) -> dict:  # fmt: skip
    algorithm = getattr(workflow.config, "algorithm", None)
    cite = [_CITES[k] for k in (workflow.architecture, algorithm) if k in _CITES]
    return {
        "name": name or f"biakit {workflow.task} {workflow.architecture}",
        "description": description or f"biakit {workflow.task} model "
        f"({workflow.architecture}, {int(workflow.network_config.ndim)}D)"
        + (f". {spec.note}" if spec.note else ""),
        "authors": list(authors), "license": license, "cite": cite,
        "config": _biakit_config(workflow),
    }  # fmt: skip


def _biakit_config(workflow: Any) -> dict[str, Any]:
    from biakit.nn.models import get_architecture
    from biakit.workflows._versions import versions

    spec = task_spec(workflow)
    arch = get_architecture(workflow.architecture)
    return json.loads(json.dumps({
        "task": workflow.task, "workflow": type(workflow).__name__,
        "architecture": {"id": arch.id, "version": arch.version},
        "network": workflow.network_config.model_dump(mode="json"),
        "config": workflow.config.model_dump(mode="json"),
        "thresholds": workflow.thresholds, "training": workflow.training,
        "versions": versions(), **spec.config,
    }, default=_plain))  # fmt: skip


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _write_biakit(workflow: Any, file: Path) -> None:
    """Write the biakit model folder's manifest, so ``biakit`` can rebuild the workflow exactly."""
    file.write_text(json.dumps(_biakit_config(workflow), indent=2, default=_plain) + "\n")
