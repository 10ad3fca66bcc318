"""Run a package's network through biakit's tiler: tensors folded to ``(C, *space)`` and back.

Tiles cut space only. Each input ``([T,] C, *space)`` is folded to
``(T * C, *space)`` and the inputs are stacked on that axis, so
:func:`biakit.nn.infer.predict_tiled` sees one image; the wrapper network
unfolds a tile into the package's tensors, runs bioimageio.core's adapter (no
processing) and folds the outputs back the same way.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from biakit.bioimageio._geometry import PackageGeometry, TensorLayout
from biakit.errors import DataError

#: leading (non-spatial, non-batch) shape of a tensor: ``(T, C)`` or ``(C,)``
Lead = tuple[int, ...]


def to_tensor(array: np.ndarray, layout: TensorLayout, space: bool = True) -> Any:
    """``(B, [T,] C, *space)`` (or without space) -> a Tensor with the package's axis ids."""
    from bioimageio.core import Tensor

    dims = layout.dims(space)
    if layout.channel is None:  # biakit's single channel is no axis of the package
        c = dims.index("channel")
        array, dims = np.take(array, 0, axis=c), dims[:c] + dims[c + 1 :]
    return Tensor(array, dims=dims)


def from_tensor(tensor: Any, layout: TensorLayout, space: bool = True) -> np.ndarray:
    """Return the package's tensor as ``(B, [T,] C, *space)`` (or ``(B, [T,] C)``) float32."""
    return np.asarray(tensor.transpose(layout.dims(space)).data, dtype=np.float32)


def run_network(pipeline: Any, geo: PackageGeometry, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Run the package's network alone on ``(B, [T,] C, *space)`` inputs; return its outputs."""
    from bioimageio.core import Sample

    members = {lay.id: to_tensor(a, lay) for lay, a in zip(geo.inputs, arrays)}
    out = pipeline.predict_sample_without_blocking(
        Sample(members=members, stat={}, id="tile"), skip_preprocessing=True,
        skip_postprocessing=True, skip_input_padding=True, skip_output_cropping=True,
    )  # fmt: skip
    return [from_tensor(out.members[lay.id], lay, bool(lay.space)) for lay in geo.outputs]


def fold(arrays: list[np.ndarray], ndim: int) -> np.ndarray:
    """Stack ``([T,] C, *space)`` arrays (no batch) as ``(sum T * C, *space)``."""
    return np.concatenate([a.reshape(-1, *a.shape[a.ndim - ndim :]) for a in arrays])


def unfold(array: np.ndarray, leads: list[Lead]) -> list[np.ndarray]:
    """Split ``(B, sum prod(lead), *space)`` into ``(B, *lead, *space)`` arrays."""
    sizes = np.cumsum([int(np.prod(lead)) for lead in leads])[:-1]
    parts = np.split(array, sizes, axis=1)
    space = array.shape[2:]
    return [p.reshape(array.shape[0], *lead, *space) for p, lead in zip(parts, leads)]


def _forward_module(pipeline: Any, geo: PackageGeometry, in_leads: list[Lead],
                    out_leads: list[Lead]) -> Any:  # fmt: skip
    """Wrap the package's network as a ``torch.nn.Module`` on folded tiles ``(B, sum T*C, *S)``."""
    import torch

    class PackageNetwork(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            out_channels = sum(int(np.prod(lead)) for lead in out_leads)
            self.config = SimpleNamespace(ndim=geo.ndim, divisor=geo.divisor, halo=geo.halo,
                                          out_channels=out_channels)  # fmt: skip

        def forward(self, x: Any) -> Any:
            batch = x.detach().cpu().numpy().astype(np.float32)
            shape = batch.shape[2:]
            valid = tuple(geo.valid(n, i) for i, n in enumerate(shape))
            if valid != shape:  # a size the network does not take: pad, run, crop
                pad = [(0, 0), (0, 0)] + [(0, v - n) for n, v in zip(shape, valid)]
                batch = np.pad(batch, pad, mode="symmetric")
            outs = run_network(pipeline, geo, unfold(batch, in_leads))
            y = np.concatenate([o.reshape(o.shape[0], -1, *o.shape[o.ndim - geo.ndim :])
                                for o in outs], axis=1)  # fmt: skip
            crop = (slice(None), slice(None), *(slice(0, n) for n in shape))
            return torch.from_numpy(np.ascontiguousarray(y[crop]))

    return PackageNetwork()


def output_leads(pipeline: Any, geo: PackageGeometry, in_leads: list[Lead]) -> list[Lead]:
    """Leading shapes of the outputs: declared, or from one run on a smallest tile."""
    known = all(o.channels > 0 and not o.time for o in geo.outputs)
    if known:
        return [(o.channels,) for o in geo.outputs]
    probe = [np.zeros((1, *lead, *geo.minimum), np.float32) for lead in in_leads]
    return [tuple(o.shape[1 : o.ndim - len(lay.space)])
            for o, lay in zip(run_network(pipeline, geo, probe), geo.outputs)]  # fmt: skip


def predict_arrays(model: Any, arrays: list[np.ndarray], tile_shape: Any, batch_size: int,
                   target: int) -> list[np.ndarray]:  # fmt: skip
    """Return the processed outputs ``([T,] C, *space)`` of inputs ``([T,] C, *space)``."""
    from bioimageio.core import Sample
    from bioimageio.spec.model import v0_5

    from biakit.nn.infer import predict_tiled

    geo, pipeline = model.geometry, model.pipeline
    if not geo.out_space:
        check_fixed(geo, arrays[0].shape[arrays[0].ndim - geo.ndim :])
    pad = geo.halo if isinstance(model.descr, v0_5.ModelDescr) else (0,) * geo.ndim
    members = {lay.id: to_tensor(a[None], lay) for lay, a in zip(geo.inputs, arrays)}
    sample = Sample(members=members, stat={}, id="image")
    if any(pad):
        widths = {a: (h, h) for a, h in zip(geo.space, pad)}
        sample = sample.pad({lay.id: widths for lay in geo.inputs}, mode=pipeline.pad_mode)
    pipeline.apply_preprocessing(sample)
    xs = [from_tensor(sample.members[lay.id], lay)[0] for lay in geo.inputs]
    if geo.same_size:
        in_leads = [x.shape[: x.ndim - geo.ndim] for x in xs]
        out_leads = output_leads(pipeline, geo, in_leads)
        net = _forward_module(pipeline, geo, in_leads, out_leads)
        space = xs[0].shape[xs[0].ndim - geo.ndim :]
        tiles = geo.tile_shape(space, target) if tile_shape is None else tile_shape
        y = predict_tiled(net, fold(xs, geo.ndim), tile_shape=tiles, overlap=geo.halo,
                          blending="none", device="cpu", batch_size=batch_size)  # fmt: skip
        ys = [o[0] for o in unfold(y[None], out_leads)]
    else:  # e.g. super-resolution, class probabilities: the whole image at once
        ys = [o[0] for o in run_network(pipeline, geo, [x[None] for x in xs])]
    out = Sample(members={lay.id: to_tensor(y[None], lay, bool(lay.space))
                          for lay, y in zip(geo.outputs, ys)},
                 stat=sample.stat, id=sample.id)  # fmt: skip
    pipeline.apply_postprocessing(out)
    results = []
    for lay, halo in zip(geo.outputs, geo.out_halo):
        r = from_tensor(out.members[lay.id], lay, bool(lay.space))[0]
        if lay.space and any(pad):
            crop = tuple(slice(h, n - h) for h, n in zip(halo, r.shape[r.ndim - geo.ndim :]))
            r = r[(Ellipsis, *crop)]
        results.append(np.ascontiguousarray(r))
    return results


def check_fixed(geo: PackageGeometry, shape: tuple[int, ...]) -> None:
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
