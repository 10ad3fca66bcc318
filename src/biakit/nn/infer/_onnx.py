"""Optional ONNX export and ONNX Runtime inference (needs ``onnx`` / ``onnxruntime``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def export_onnx(
    model: Any, path: str | Path, example_shape: Sequence[int], *, opset: int = 18
) -> Path:
    """Export a fully convolutional network to ONNX with dynamic batch and spatial sizes.

    Parameters
    ----------
    model : torch.nn.Module
        Network ``(B, C, *spatial) -> (B, out, *spatial)``; exported in ``eval()`` mode.
    path : str or Path
        Output ``.onnx`` file.
    example_shape : sequence of int
        ``(B, C, *spatial)`` of an example input (spatial sizes multiples of the divisor).
    opset : int
        ONNX opset version.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ImportError
        When the ``onnx`` package (needed by ``torch.onnx``) is not installed.

    Examples
    --------
    >>> export_onnx(net, "unet.onnx", (1, 1, 256, 256))  # doctest: +SKIP
    >>> import onnxruntime as ort  # doctest: +SKIP
    >>> predict_tiled(net, image, session=ort.InferenceSession("unet.onnx"))  # doctest: +SKIP

    """
    import torch

    try:
        import onnx  # noqa: F401
    except ImportError as err:
        raise ImportError("export_onnx needs the 'onnx' package: pip install onnx") from err
    shape = tuple(int(s) for s in example_shape)
    if len(shape) < 3:
        raise ValueError(f"example_shape must be (B, C, *spatial), got {shape}")
    names = ["batch", "channels", "z", "y", "x"][-len(shape) :]
    names[0] = "batch"
    dynamic = {i: n for i, n in enumerate(names) if i != 1}
    was_training = model.training
    try:
        torch.onnx.export(
            model.eval(),
            (torch.zeros(shape),),
            str(path),
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": dynamic, "output": dynamic},
            opset_version=opset,
        )
    finally:
        model.train(was_training)
    return Path(path)


def session_forward(session: Any) -> Callable[[Any], Any]:
    """Wrap an ``onnxruntime.InferenceSession`` as a CPU tensor -> tensor function."""
    import torch

    name = session.get_inputs()[0].name

    def forward(x: Any) -> Any:
        array = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(np.asarray(session.run(None, {name: array})[0]))

    return forward
