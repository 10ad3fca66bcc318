"""Recognise and summarise bioimage.io packages (for ``load_model`` and ``biakit info``)."""

from __future__ import annotations

import zipfile
from pathlib import Path

_YAMLS = ("rdf.yaml", "bioimageio.yaml")


def is_package(path: str | Path) -> bool:
    """Whether ``path`` is a bioimage.io package: a zip or folder with ``rdf.yaml``, or the YAML.

    Examples
    --------
    >>> is_package("no/such/model.zip")
    False
    """
    path = Path(path)
    if path.is_file() and (path.name in _YAMLS or path.name.endswith(".bioimageio.yaml")):
        return True
    if path.is_dir():
        return any((path / n).is_file() for n in _YAMLS)
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
        return any(n in names for n in _YAMLS)
    return False


def describe_package(path: str | Path) -> list[str]:
    """Lines for ``biakit info``: name, format, tensors with axes, weights, biakit task."""
    from biakit.bioimageio._quiet import quiet_bioimageio

    with quiet_bioimageio():
        return _describe(path)


def _describe(path: str | Path) -> list[str]:
    from bioimageio.spec import InvalidDescr, load_model_description

    descr = load_model_description(path)
    if isinstance(descr, InvalidDescr):
        return [f"file:    {path}", "invalid bioimage.io model package"]
    latest = load_model_description(path, format_version="latest")
    lines = [f"file:    {path}", f"model:   {descr.name} (bioimage.io format "
             f"{descr.format_version})"]  # fmt: skip
    for kind, tensors in (("input", latest.inputs), ("output", latest.outputs)):
        for t in tensors:
            axes = ", ".join(f"{a.id}={_size(a)}" for a in t.axes)
            lines.append(f"{kind}:  {t.id} ({axes})")
    names = ("pytorch_state_dict", "torchscript", "onnx", "keras_hdf5", "keras_v3",
             "tensorflow_saved_model_bundle", "tensorflow_js")  # fmt: skip
    formats = [f for f in names if getattr(latest.weights, f, None) is not None]
    lines.append(f"weights: {', '.join(formats)}")
    extra = getattr(latest.config, "model_extra", None) or {}
    if isinstance(extra.get("biakit"), dict):
        lines.append(f"biakit:  task {extra['biakit'].get('task')!r}")
    return lines


def _size(axis: object) -> str:
    size = getattr(axis, "size", None)
    if size is None:
        return str(len(getattr(axis, "channel_names", []) or [])) if hasattr(
            axis, "channel_names") else "*"  # fmt: skip
    if isinstance(size, int):
        return str(size)
    if hasattr(size, "step"):
        return f"{size.min}+k*{size.step}"
    return f"{size.tensor_id}.{size.axis_id}"
