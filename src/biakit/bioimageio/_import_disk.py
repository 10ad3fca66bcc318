"""What an imported package writes per input file (``predict_to_disk``, ``biakit predict``).

* biakit's semantic / instance / detection packages: what the task's workflow writes;
* outputs without spatial axes (classifiers): ``predictions.csv`` after the last
  image, as :class:`~biakit.workflows.ImageClassifier` writes it;
* one output: ``NAME_prediction.tif``; several: ``NAME_OUTPUTID.tif`` each;
* inputs with a time axis: movies read as ``(T, C, *spatial)``, each output written
  as a stack ``NAME_predicted.tif`` (``T[C]YX``; ``NAME_predicted_OUTPUTID.tif``
  for several outputs).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from biakit._outputs import check_outputs, record_outputs
from biakit.errors import DataError, UserError
from biakit.workflows._disk import FileOutcome, _input_paths


class DiskOutputs:
    """``predict_to_disk`` hooks of :class:`~biakit.bioimageio.BioimageioModel` (a mixin)."""

    geometry: Any
    biakit: dict[str, Any]
    latest: Any
    _last_probs: np.ndarray | None

    def _biakit_workflow(self) -> Any:  # pragma: no cover - defined by the model
        raise NotImplementedError

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names of a classifier package: ``config.biakit`` or the channel names."""
        names = self.biakit.get("class_names")
        if names:
            return tuple(str(n) for n in names)
        axes = self.latest.outputs[0].axes
        channel = next((a for a in axes if hasattr(a, "channel_names")), None)
        if channel is None:
            return ("class0",)
        return tuple(str(n) for n in channel.channel_names)

    def _output_names(self, stem: str, out: Path, *, maps: bool, overlay: bool) -> dict:
        inner = self._biakit_workflow()
        if inner is not None:
            return inner._output_names(stem, out, maps=maps, overlay=overlay)
        if not self.geometry.out_space:
            return {}
        ids = [t.id for t in self.geometry.outputs]
        if len(ids) == 1:
            return {"maps": out / f"{stem}_prediction.tif"}
        return {i: out / f"{stem}_{i}.tif" for i in ids}

    def _batch_outputs(self, out: Path) -> list[Path]:
        return [] if self.geometry.out_space else [out / "predictions.csv"]

    def _write_outputs(self, names: dict, *, image: np.ndarray, meta: Any, raw: Any, result: Any,
                       overwrite: bool) -> list[Path]:  # fmt: skip
        inner = self._biakit_workflow()
        if inner is not None:
            return inner._write_outputs(names, image=image, meta=meta, raw=raw, result=result,
                                        overwrite=overwrite)  # fmt: skip
        if not self.geometry.out_space:
            self._last_probs = np.asarray(raw, dtype=np.float64).ravel()
            return []
        from biakit.io import ImageMeta, write_image

        raws = raw if isinstance(raw, dict) else {"maps": raw}
        written = []
        for key, path in names.items():
            array = np.asarray(raws[key], np.float32)
            axes = "C" + "".join(self.geometry.space).upper()
            write_image(path, array, ImageMeta(axes), overwrite=overwrite)
            written.append(path)
        return written

    def _table(self, result: Any, image: np.ndarray, meta: Any, path: Path) -> Any:
        if self.geometry.out_space or self._last_probs is None:
            return None
        names = self.class_names
        if len(names) != len(self._last_probs):
            names = tuple(f"class{i}" for i in range(len(self._last_probs)))
        row: dict[str, Any] = {"file": str(path), "class_id": int(result),
                               "class": names[int(result)]}  # fmt: skip
        row.update({f"p_{n}": float(p) for n, p in zip(names, self._last_probs)})
        return row

    def _write_batch(self, tables: list, out: Path, *, overwrite: bool) -> None:
        if self.geometry.out_space or not tables:
            return
        import os

        import pandas as pd

        from biakit.measure import write_table

        paths = [Path(t["file"]) for t in tables]  # relative to the inputs' common folder
        root = Path(os.path.commonpath([str(p.resolve().parent) for p in paths]))
        rows = [{**t, "file": str(p.resolve().relative_to(root))} for t, p in zip(tables, paths)]
        write_table(pd.DataFrame(rows), out / "predictions.csv", overwrite=True)

    def _count(self, result: Any) -> int:
        inner = self._biakit_workflow()
        if inner is not None:
            return inner._count(result)
        return 0 if self.geometry.out_space else 1


def _movie_outputs(model: Any, stem: str, out: Path) -> dict[str, Path]:
    ids = [t.id for t in model.geometry.outputs]
    if len(ids) == 1:
        return {ids[0]: out / f"{stem}_predicted.tif"}
    return {i: out / f"{stem}_predicted_{i}.tif" for i in ids}


def iter_movies_to_disk(model: Any, inputs: Any, output_dir: str | Path, *, overwrite: bool,
                        axes: str | None) -> Iterator[FileOutcome]:  # fmt: skip
    """Predict every movie with a time-axis package; yield one outcome per movie."""
    from biakit.io import file_key, list_images

    paths = _input_paths(inputs, list_images)
    out = Path(output_dir)
    plans = {p: _movie_outputs(model, file_key(p), out) for p in paths}
    check_outputs(paths, [f for plan in plans.values() for f in plan.values()], overwrite=overwrite)
    return _movies(model, paths, plans, out, overwrite=overwrite, axes=axes)


def _movies(model: Any, paths: list[Path], plans: dict, out: Path, *, overwrite: bool,
            axes: str | None) -> Iterator[FileOutcome]:  # fmt: skip
    from biakit.cancel import check_cancelled

    for path in paths:
        check_cancelled()
        try:
            out.mkdir(parents=True, exist_ok=True)
            record_outputs(out, plans[path].values())
            yield _movie_one(model, path, plans[path], overwrite=overwrite, axes=axes)
        except (UserError, OSError) as err:
            yield FileOutcome(path, error=" ".join(str(err).split()))


def _movie_one(model: Any, path: Path, names: dict[str, Path], *, overwrite: bool,
               axes: str | None) -> FileOutcome:  # fmt: skip
    from biakit.io import read_channel_first

    ndim = model.input_ndim
    movie, meta = read_channel_first(path, ndim=ndim, axes=axes, time=True)
    if movie.ndim != ndim + 2:
        raise DataError(f"{path}: expected a time-lapse (axes with T), got axes {meta.axes!r}")
    result = model.predict_maps(movie)
    results = result if isinstance(result, dict) else {next(iter(names)): result}
    written: list[Path] = []
    try:
        for key, target in names.items():
            lay = next(t for t in model.geometry.outputs if t.id == key)
            written.append(_write_stack(target, np.asarray(results[key]), meta, bool(lay.time),
                                        overwrite=overwrite))  # fmt: skip
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise
    frames = int(np.asarray(results[next(iter(names))]).shape[0])
    return FileOutcome(path, tuple(written), n_objects=frames)


def _write_stack(path: Path, array: np.ndarray, meta: Any, time: bool, *,
                 overwrite: bool) -> Path:  # fmt: skip
    """Write ``([T,] C, *spatial)``; a channel axis of length 1 is dropped."""
    from biakit.io import ImageMeta, write_image

    spatial, spacing = meta.spatial_axes, tuple(meta.spatial_spacing)
    lead = ("T" if time else "") + "C"
    if array.shape[len(lead) - 1] == 1:
        array, lead = np.take(array, 0, axis=len(lead) - 1), lead[:-1]
    write_image(path, array.astype(np.float32),
                ImageMeta(lead + spatial, (1.0,) * len(lead) + spacing, unit=meta.unit),
                overwrite=overwrite)  # fmt: skip
    return path
