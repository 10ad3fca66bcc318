"""Write a trained biakit workflow as a bioimage.io model package (RDF 0.5 zip)."""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biakit.bioimageio._tasks import TaskSpec, space_axes
from biakit.errors import ParameterError

WEIGHT_FORMATS = ("pytorch_state_dict", "torchscript", "onnx")

# citations by architecture / algorithm (DOIs only: URLs would be checked online)
_CITES = {
    "unet": ("Ronneberger, Fischer, Brox. U-Net: convolutional networks for biomedical image "
             "segmentation. MICCAI 2015.", "10.1007/978-3-319-24574-4_28"),
    "edsr_lite": ("Lim et al. Enhanced deep residual networks for single image "
                  "super-resolution. CVPRW 2017.", "10.1109/CVPRW.2017.151"),
    "rcan_lite": ("Zhang et al. Image super-resolution using very deep residual channel "
                  "attention networks. ECCV 2018.", "10.1007/978-3-030-01234-2_18"),
    "n2v": ("Krull, Buchholz, Jug. Noise2Void - learning denoising from single noisy images. "
            "CVPR 2019.", "10.1109/CVPR.2019.00223"),
    "simvp": ("Gao, Tan, Wu, Li. SimVP: simpler yet better video prediction. CVPR 2022.",
              "10.48550/arXiv.2206.05099"),
    "convlstm": ("Shi et al. Convolutional LSTM network: a machine learning approach for "
                 "precipitation nowcasting. NeurIPS 2015.", "10.48550/arXiv.1506.04214"),
}  # fmt: skip


def _check_weights(weights: Sequence[str]) -> tuple[str, ...]:
    formats = (weights,) if isinstance(weights, str) else tuple(weights)
    bad = [w for w in formats if w not in WEIGHT_FORMATS]
    if bad or not formats or "pytorch_state_dict" not in formats:
        raise ParameterError(
            f"weights must be a non-empty subset of {WEIGHT_FORMATS} including "
            f"'pytorch_state_dict' (the parent of the others), got {formats!r}"
        )
    return formats


def geometry(net_cfg: Any, scale: tuple[int, ...], fixed: tuple[int, ...] = ()
             ) -> tuple[list[int], list[int], list[int]]:  # fmt: skip
    """Per spatial axis ``(min, step, halo)`` of the input.

    ``fixed`` (a fixed input size, e.g. a classifier's): ``(fixed, 0, 0)``. A
    network config without ``halo`` (frames predicted whole, e.g. SimVP): halo 0,
    ``min = step``.

    ``step`` is the network's divisor; ``halo`` its receptive field rounded up so
    that ``2 * halo`` is a multiple of ``step`` (bioimageio.core pads by the halo
    and the padded image must stay a valid size); ``min`` the smallest valid size
    larger than ``2 * halo``.
    """
    if fixed:
        return [int(n) for n in fixed], [0] * len(fixed), [0] * len(fixed)
    steps = [int(d) for d in net_cfg.divisor]
    halos, mins = [], []
    for h, s in zip(getattr(net_cfg, "halo", (0,) * len(steps)), steps):
        unit = s // 2 if s % 2 == 0 else s
        halo = int(math.ceil(float(h) / unit) * unit)
        halos.append(halo)
        mins.append(s * (2 * halo // s + 1))
    return mins, steps, halos


def _valid_size(n: int, lo: int, step: int) -> int:
    """Return the largest valid size ``lo + k * step`` not above ``n`` (``lo`` when ``n < lo``).

    ``step`` 0 (a fixed size): ``lo``.
    """
    if step == 0:
        return lo
    return lo + max(0, (n - lo) // step) * step


def test_input(workflow: Any, sample: Any, mins: list[int], steps: list[int],
               fit: Any = None) -> np.ndarray:  # fmt: skip
    """``(1, C, *spatial)`` float32 test input: ``sample`` cropped / padded to a valid size.

    ``fit`` (``(C, *spatial) -> (C, *fixed)``) first brings it to a fixed input size.
    """
    ndim = int(workflow.network_config.ndim)
    if sample is None:
        from scipy import ndimage as ndi

        rng = np.random.default_rng(0)
        shape = [m if s == 0 else max(m, 64 if ndim == 2 else 24) for m, s in zip(mins, steps)]
        noise = rng.random((workflow.in_channels, *shape))
        sample = np.stack([ndi.gaussian_filter(c, 2.0) for c in noise]) * 1000
    from biakit.workflows._base import channels_first

    array = channels_first(sample, ndim, name="sample").astype(np.float32)
    if fit is not None:
        array = np.asarray(fit(array), dtype=np.float32)
    if array.shape[0] != workflow.in_channels:
        raise ParameterError(
            f"sample has {array.shape[0]} channel(s); the model takes {workflow.in_channels}"
        )
    sizes = [_valid_size(n, lo, s) for n, lo, s in zip(array.shape[1:], mins, steps)]
    pad = [(0, 0)] + [(0, max(0, t - n)) for n, t in zip(array.shape[1:], sizes)]
    array = np.pad(array, pad, mode="reflect")
    return np.ascontiguousarray(array[(slice(None), *(slice(0, t) for t in sizes))][None])


def _axes(spec: TaskSpec, mins: list[int], steps: list[int], halos: list[int], ndim: int) -> tuple:
    from bioimageio.spec.model import v0_5

    scale = spec.scale or (1,) * ndim
    ins: list[Any] = [v0_5.BatchAxis()]
    outs: list[Any] = [v0_5.BatchAxis()]
    if spec.frames:  # (frames in, frames out): whole time axes before the channels
        ins.append(v0_5.TimeInputAxis(size=int(spec.frames[0])))
        outs.append(v0_5.TimeOutputAxis(size=int(spec.frames[1])))
    ins.append(v0_5.ChannelAxis(channel_names=[v0_5.Identifier(c) for c in spec.in_channels]))
    outs.append(v0_5.ChannelAxis(channel_names=[v0_5.Identifier(c) for c in spec.out_channels]))
    for a, lo, s, h, f in zip(space_axes(ndim), mins, steps, halos, scale):
        size = v0_5.ParameterizedSize(min=lo, step=s) if s else int(lo)
        ins.append(v0_5.SpaceInputAxis(id=v0_5.AxisId(a), size=size, scale=float(f)))
        if not spec.output_space:  # e.g. class probabilities: (batch, channel)
            continue
        ref = v0_5.SizeReference(tensor_id=v0_5.TensorId("input"), axis_id=v0_5.AxisId(a))
        if h * f >= 1:
            outs.append(v0_5.SpaceOutputAxisWithHalo(id=v0_5.AxisId(a), size=ref, halo=h * f))
        else:
            outs.append(v0_5.SpaceOutputAxis(id=v0_5.AxisId(a), size=ref))
    return ins, outs


@dataclass
class NetworkSource:
    """The network a package ships and how its ``pytorch_state_dict`` entry rebuilds it.

    Attributes
    ----------
    model : torch.nn.Module
        The module whose weights are saved (and traced for TorchScript / ONNX).
    source : str
        Self-contained architecture file (see :mod:`biakit.bioimageio._vendor`).
    callable_name : str
        Function of ``source`` that builds ``model`` from ``kwargs``.
    kwargs : dict
        Its keyword arguments (JSON values).
    comment : str
        One line for the weights entry.
    """

    model: Any
    source: str
    callable_name: str
    kwargs: dict[str, Any]
    comment: str


def workflow_network(workflow: Any) -> NetworkSource:
    """Return the workflow's own network, built by its frozen, versioned architecture file."""
    from biakit.bioimageio._vendor import architecture_file
    from biakit.nn.models import get_architecture

    arch = get_architecture(workflow.architecture)
    source, callable_name = architecture_file(arch.id, arch.version, arch.builder, arch.summary,
                                              _config_class(arch))  # fmt: skip
    return NetworkSource(
        workflow.model.eval().to("cpu"), source, callable_name,
        workflow.network_config.model_dump(mode="json"),
        f"biakit architecture {arch.id!r} version {arch.version}",
    )  # fmt: skip


def write_weights(network: NetworkSource, folder: Path, formats: tuple[str, ...],
                  example: np.ndarray, onnx_dynamic: dict[int, str] | None = None
                  ) -> dict[str, Any]:  # fmt: skip
    """Write the weight files; return the ``WeightsDescr`` fields.

    ``onnx_dynamic``: the ONNX graph's dynamic input / output axes (index -> name);
    default batch and every spatial axis (a fully convolutional ``(B, C, *S)`` network).
    """
    import torch
    from bioimageio.spec.model import v0_5

    arch_file = folder / f"{network.callable_name}.py"
    arch_file.write_text(network.source)
    model = network.model.eval().to("cpu")
    torch.save(model.state_dict(), folder / "weights.pt")
    version = v0_5.Version(torch.__version__.split("+")[0])
    entries: dict[str, Any] = {
        "pytorch_state_dict": v0_5.PytorchStateDictWeightsDescr(
            source=folder / "weights.pt", pytorch_version=version,
            architecture=v0_5.ArchitectureFromFileDescr(
                source=arch_file, callable=v0_5.Identifier(network.callable_name),
                kwargs=network.kwargs),
            comment=network.comment,
        )
    }  # fmt: skip
    x = torch.from_numpy(example)
    if "torchscript" in formats:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python-side shape logic
            traced = torch.jit.trace(model, x, check_trace=False)
        traced.save(str(folder / "weights_torchscript.pt"))
        entries["torchscript"] = v0_5.TorchscriptWeightsDescr(
            source=folder / "weights_torchscript.pt", pytorch_version=version,
            parent="pytorch_state_dict")  # fmt: skip
    if "onnx" in formats:
        from biakit.nn.infer import export_onnx

        (folder / "onnx").mkdir()

        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # torch.onnx deprecation / tracer warnings
            if onnx_dynamic is not None:
                _export_onnx_fixed(model, folder / "onnx" / "weights.onnx", x, onnx_dynamic)
            else:
                export_onnx(model, folder / "onnx" / "weights.onnx", example.shape, opset=18)
        import onnx

        # one self-contained file: the exporter may keep the tensors in a side file
        onnx.save_model(onnx.load(str(folder / "onnx" / "weights.onnx")),
                        str(folder / "weights.onnx"), save_as_external_data=False)  # fmt: skip
        entries["onnx"] = v0_5.OnnxWeightsDescr(source=folder / "weights.onnx", opset_version=18,
                                                parent="pytorch_state_dict")  # fmt: skip
    return entries


def _export_onnx_fixed(model: Any, path: Path, x: Any, dynamic: dict[int, str]) -> None:
    """ONNX export with the given dynamic axes (e.g. only the batch of a ``(B, n)`` output)."""
    import torch

    torch.onnx.export(model.eval(), (x,), str(path), input_names=["input"],
                      output_names=["output"], opset_version=18,
                      dynamic_axes={"input": dynamic, "output": dynamic})  # fmt: skip


def _config_class(arch: Any) -> str | None:
    """``"module:Class"`` of the config when the network class takes no mapping, else ``None``."""
    import importlib
    import inspect

    module, name = arch.builder.split(":")
    init = getattr(importlib.import_module(module), name).__init__
    params = list(inspect.signature(init).parameters.values())[1:2]
    if params and "Mapping" in str(params[0].annotation):
        return None
    return f"{arch.config_class.__module__}:{arch.config_class.__qualname__}"
