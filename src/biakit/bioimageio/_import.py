"""Run any bioimage.io model package through biakit's tiled prediction."""

from __future__ import annotations

import shutil
import tempfile
import weakref
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from biakit.bioimageio._geometry import PackageGeometry, package_geometry
from biakit.errors import DataError, ModelFileError
from biakit.workflows._base import Workflow, channels_first


def _forward_module(pipeline: Any, geo: PackageGeometry) -> Any:
    """Wrap as a ``torch.nn.Module`` running the package's network (no processing) on tiles."""
    import torch
    from bioimageio.core import Sample, Tensor

    class PackageNetwork(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = geo

        def forward(self, x: Any) -> Any:
            batch = x.detach().cpu().numpy().astype(np.float32)
            shape = batch.shape[2:]
            valid = tuple(geo.valid(n, i) for i, n in enumerate(shape))
            if valid != shape:  # a size the network does not take: pad, run, crop
                pad = [(0, 0), (0, 0)] + [(0, v - n) for n, v in zip(shape, valid)]
                batch = np.pad(batch, pad, mode="symmetric")
            out = run_network(pipeline, geo, batch)
            crop = (slice(None), slice(None), *(slice(0, n) for n in shape))
            return torch.from_numpy(np.ascontiguousarray(out[crop]))

    del Sample, Tensor
    return PackageNetwork()


def _dims(geo: PackageGeometry, channel: bool, space: bool = True) -> tuple[str, ...]:
    return ("batch", *(("channel",) if channel else ()), *(geo.space if space else ()))


def to_tensor(array: np.ndarray, geo: PackageGeometry) -> Any:
    """``(B, C, *spatial)`` -> a bioimageio Tensor with the package's input axes."""
    from bioimageio.core import Tensor

    if not geo.in_channel_axis:
        array = array[:, 0]
    return Tensor(array, dims=_dims(geo, geo.in_channel_axis))


def from_tensor(tensor: Any, geo: PackageGeometry) -> np.ndarray:
    """Convert the package's output tensor to ``(B, C, *spatial)`` (or ``(B, C)``) float32."""
    dims = _dims(geo, geo.out_channel_axis, geo.out_space)
    array = np.asarray(tensor.transpose(dims).data, dtype=np.float32)
    return array if geo.out_channel_axis else array[:, None]


def run_network(pipeline: Any, geo: PackageGeometry, batch: np.ndarray) -> np.ndarray:
    """Run the package's network alone on ``(B, C, *spatial)`` (bioimageio.core's adapter)."""
    from bioimageio.core import Sample

    sample = Sample(members={geo.input_id: to_tensor(batch, geo)}, stat={}, id="tile")
    out = pipeline.predict_sample_without_blocking(
        sample, skip_preprocessing=True, skip_postprocessing=True, skip_input_padding=True,
        skip_output_cropping=True,
    )  # fmt: skip
    return from_tensor(out.members[geo.output_id], geo)


class BioimageioModel(Workflow):
    """A bioimage.io model package behind biakit's workflow verbs.

    ``predict_maps`` runs the package's own preprocessing on the whole image, its
    network tile by tile (:func:`biakit.nn.infer.predict_tiled`, tiles of the
    declared valid sizes, overlap = the declared halo) and its postprocessing, as
    ``bioimageio.core.predict`` does for a whole image (format 0.5: padded by the
    halo first). ``postprocess`` reproduces labels / points for packages biakit
    exported (``config.biakit``); otherwise it returns the maps.

    Use :func:`load_package` to open one.
    """

    task = "bioimageio"

    def __init__(self, source: Any, descr: Any, latest: Any, pipeline: Any,
                 weight_format: str) -> None:  # fmt: skip
        super().__init__(config=descr)
        self.source, self.descr, self.latest = source, descr, latest
        self.pipeline, self.weight_format = pipeline, weight_format
        self.geometry = package_geometry(latest)
        self.biakit = _biakit_config(latest)
        self._inner: Any = None

    def __repr__(self) -> str:
        return f"BioimageioModel({self.descr.name!r}, {self.weight_format})"

    @property
    def input_ndim(self) -> int:
        """Spatial dimensions of the input."""
        return self.geometry.ndim

    @property
    def is_trained(self) -> bool:
        """A package is always ready to predict."""
        return True

    def predict_maps(self, image: Any, *, tile_shape: Any = None, tta: bool = False,
                     batch_size: int = 1, target: int = 256) -> np.ndarray:  # fmt: skip
        """Return the processed output ``(C, *spatial)`` of the package for one image.

        Parameters
        ----------
        image : array_like
            ``(*spatial)`` or ``(C, *spatial)`` in biakit's axis order (``ZYX``).
        tile_shape : int or sequence of int, optional
            Tiles (valid sizes of the package); default about ``target`` per side.
        tta : bool
            Not supported for packages (their processing may not commute with flips).
        batch_size : int
            Tiles per forward pass.
        target : int
            Tile side aimed at when ``tile_shape`` is not given.
        """
        if tta:
            raise DataError("tta is not supported for bioimage.io packages; use tta=False")
        geo = self.geometry
        array = channels_first(image, geo.ndim).astype(np.float32)
        if array.shape[0] != geo.in_channels:
            raise DataError(
                f"image has {array.shape[0]} channel(s) (shape {array.shape}); the package "
                f"takes {geo.in_channels}"
            )
        return _predict(self, array, tile_shape, batch_size, target)

    def postprocess(self, maps: np.ndarray) -> Any:
        """Labels / points / class id for biakit packages (``config.biakit``); else the maps."""
        if self.biakit.get("task") == "classification":
            return int(np.argmax(maps))
        inner = self._biakit_workflow()
        return maps if inner is None else inner.postprocess(maps)

    def _biakit_workflow(self) -> Any:
        if self._inner is None and self.biakit.get("task") in ("semantic", "instance", "detection"):
            from biakit.workflows import WORKFLOWS, parse_workflow_config

            cfg = parse_workflow_config(self.biakit["config"], source=str(self.source))
            self._inner = WORKFLOWS[self.biakit["task"]](cfg)
            self._inner.thresholds = self.biakit.get("thresholds")
            self._inner.training = dict(self.biakit.get("training") or {})
        return self._inner

    def _output_names(self, stem: str, out: Path, *, maps: bool, overlay: bool) -> dict:
        inner = self._biakit_workflow()
        if inner is not None:
            return inner._output_names(stem, out, maps=maps, overlay=overlay)
        return {"maps": out / f"{stem}_prediction.tif"}

    def _write_outputs(self, names: dict, *, image: np.ndarray, meta: Any, raw: Any, result: Any,
                       overwrite: bool) -> list[Path]:  # fmt: skip
        inner = self._biakit_workflow()
        if inner is not None:
            return inner._write_outputs(names, image=image, meta=meta, raw=raw, result=result,
                                        overwrite=overwrite)  # fmt: skip
        from biakit.io import ImageMeta, write_image

        axes = "C" + "".join(self.geometry.space).upper()
        write_image(names["maps"], np.asarray(raw, np.float32), ImageMeta(axes),
                    overwrite=overwrite)  # fmt: skip
        return [names["maps"]]

    def _count(self, result: Any) -> int:
        inner = self._biakit_workflow()
        return 0 if inner is None else inner._count(result)


def _biakit_config(descr: Any) -> dict[str, Any]:
    config = getattr(descr, "config", None)
    extra = getattr(config, "model_extra", None) or {}
    value = extra.get("biakit")
    return dict(value) if isinstance(value, dict) else {}


def _predict(model: BioimageioModel, array: np.ndarray, tile_shape: Any, batch_size: int,
             target: int) -> np.ndarray:  # fmt: skip
    from bioimageio.core import Sample
    from bioimageio.spec.model import v0_5

    from biakit.nn.infer import predict_tiled

    geo, pipeline = model.geometry, model.pipeline
    if not geo.out_space:
        _check_fixed(geo, array.shape[1:])
    pad = geo.halo if isinstance(model.descr, v0_5.ModelDescr) else (0,) * geo.ndim
    sample = Sample(members={geo.input_id: to_tensor(array[None], geo)}, stat={}, id="image")
    if any(pad):
        widths = {a: (h, h) for a, h in zip(geo.space, pad)}
        sample = sample.pad({geo.input_id: widths}, mode=pipeline.pad_mode)
    pipeline.apply_preprocessing(sample)
    x = from_tensor(sample.members[geo.input_id], _as_input(geo))[0]
    if geo.out_channels < 1:  # not declared (converted format 0.4): ask the network once
        from dataclasses import replace

        probe = np.zeros((1, x.shape[0], *geo.minimum), np.float32)
        geo = replace(geo, out_channels=int(run_network(pipeline, geo, probe).shape[1]))
        model.geometry = geo
    if geo.same_size:
        net = _forward_module(pipeline, geo)
        tiles = geo.tile_shape(x.shape[1:], target) if tile_shape is None else tile_shape
        y = predict_tiled(net, x, tile_shape=tiles, overlap=geo.halo, blending="none",
                          device="cpu", batch_size=batch_size)  # fmt: skip
    else:  # e.g. super-resolution: the whole image at once
        y = run_network(pipeline, geo, x[None])[0]
    out = _output_sample(y, geo, sample)
    pipeline.apply_postprocessing(out)
    result = from_tensor(out.members[geo.output_id], geo)[0]
    if not geo.out_space:  # e.g. class probabilities (C,)
        return np.ascontiguousarray(result)
    out_pad = geo.out_halo if any(pad) else (0,) * geo.ndim
    crop = tuple(slice(h, n - h) for h, n in zip(out_pad, result.shape[1:]))
    return np.ascontiguousarray(result[(slice(None), *crop)])


def _check_fixed(geo: PackageGeometry, shape: tuple[int, ...]) -> None:
    """Raise unless ``shape`` is a valid whole-image size (output without spatial axes)."""
    valid = tuple(geo.valid(n, i) for i, n in enumerate(shape))
    if valid != tuple(shape):
        sizes = ", ".join(f"{lo}" + (f" + k*{st}" if st else "")
                          for lo, st in zip(geo.minimum, geo.step))  # fmt: skip
        raise DataError(
            f"image has spatial shape {tuple(shape)}; this package's output has no spatial "
            f"axes, so the whole image must have a valid input size ({sizes}); resize or pad "
            "it first"
        )


def _as_input(geo: PackageGeometry) -> PackageGeometry:
    from dataclasses import replace

    return replace(geo, out_channel_axis=geo.in_channel_axis, out_space=True)


def _output_sample(y: np.ndarray, geo: PackageGeometry, sample: Any) -> Any:
    from bioimageio.core import Sample, Tensor

    array = y[None] if geo.out_channel_axis else y[None, 0]
    tensor = Tensor(array, dims=_dims(geo, geo.out_channel_axis, geo.out_space))
    return Sample(members={geo.output_id: tensor}, stat=sample.stat, id=sample.id)


def load_package(source: str | Path, *, weight_format: str | None = None,
                 device: str = "cpu") -> BioimageioModel:  # fmt: skip
    """Open a bioimage.io model package (``.zip``, folder or ``rdf.yaml``; format 0.4 / 0.5).

    Parameters
    ----------
    source : str or Path
        The package.
    weight_format : {"pytorch_state_dict", "torchscript", "onnx"}, optional
        Weights to run; default: the first the package has of these.
    device : str
        ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    BioimageioModel
        ``predict_maps``, ``predict``, ``predict_to_disk`` as every biakit workflow.

    Raises
    ------
    ModelFileError
        Not a valid model package, or one biakit cannot run.

    Examples
    --------
    >>> model = load_package("model.zip")  # doctest: +SKIP
    >>> maps = model.predict_maps(image)  # doctest: +SKIP
    """
    from biakit.bioimageio._quiet import quiet_bioimageio

    with quiet_bioimageio():
        return _load(source, weight_format, device)


def _load(source: Any, weight_format: str | None, device: str) -> BioimageioModel:
    from bioimageio.core import create_prediction_pipeline
    from bioimageio.spec import InvalidDescr, load_model_description

    folder = None
    if zipfile.is_zipfile(source):  # unpacked: a package held open would leak its handle
        folder = Path(tempfile.mkdtemp(prefix="biakit-package-"))
        with zipfile.ZipFile(source) as z:
            z.extractall(folder)
        names = [n for n in ("rdf.yaml", "bioimageio.yaml") if (folder / n).is_file()]
        names += sorted(p.name for p in folder.glob("*.bioimageio.yaml"))
        if not names:
            shutil.rmtree(folder, ignore_errors=True)
            raise ModelFileError(f"{source}: no rdf.yaml in the package")
        rdf = folder / names[0]
    else:
        rdf = Path(source)
    try:
        descr = load_model_description(rdf)
        latest = load_model_description(rdf, format_version="latest")
    except ValueError as err:
        first = " ".join(str(err).split())[:300]
        raise ModelFileError(f"{source}: not a valid bioimage.io model package ({first})") from None
    if isinstance(descr, InvalidDescr) or isinstance(latest, InvalidDescr):
        raise ModelFileError(f"{source}: not a valid bioimage.io model package")
    formats = [f for f in ("pytorch_state_dict", "torchscript", "onnx")
               if getattr(descr.weights, f, None) is not None]  # fmt: skip
    if weight_format is None:
        if not formats:
            raise ModelFileError(f"{source}: no pytorch_state_dict, torchscript or onnx weights")
        weight_format = formats[0]
    elif weight_format not in formats:
        raise ModelFileError(
            f"{source}: has no {weight_format!r} weights; it has {', '.join(formats) or 'none'}"
        )
    try:
        pipeline = create_prediction_pipeline(descr, weight_format=weight_format, devices=[device])
    except Exception as err:  # any backend failure, as one readable line
        causes = getattr(err, "exceptions", None) or [err]
        first = " ".join(f"{type(c).__name__}: {c}" for c in causes[:1]).split("\n")[0][:300]
        raise ModelFileError(
            f"{source}: cannot build its {weight_format} network ({first}); a package whose "
            "architecture comes from a library needs that library installed"
        ) from None
    model = BioimageioModel(source, descr, latest, pipeline, weight_format)
    if folder is not None:
        weakref.finalize(model, shutil.rmtree, folder, ignore_errors=True)
    return model
