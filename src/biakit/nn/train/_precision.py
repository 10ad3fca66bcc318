"""Mixed precision and deterministic-algorithm settings for training."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch


def cpu_bf16_native() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX tiles).

    Only then is CPU autocast to bfloat16 faster than float32 (about 2x for
    U-Net training on an AVX512-BF16 core); elsewhere oneDNN emulates it.
    """
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    for name in probes:
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and bool(probe()):
                return True
        except RuntimeError:  # pragma: no cover - exotic builds
            continue
    return False


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for ``amp`` on ``device`` (``None``: float32).

    CUDA: bf16 where the GPU supports it, else fp16. CPU: bf16 where the CPU
    computes it natively (:func:`cpu_bf16_native`), else float32; fp16 needs CUDA.
    MPS: float32. 2D and 3D networks alike: a 3D U-Net trains 1.6-1.9x faster in
    bf16 on an AVX512-BF16 core. Reduced precision is guarded where it is used:
    a training batch whose loss or gradients are not finite is redone in float32
    (:class:`~biakit.nn.train.Trainer`), and so is a prediction batch with a
    non-finite output from a finite input (:func:`~biakit.nn.infer.predict_tiled`);
    bf16 3D convolutions once gave intermittent NaNs on the CPU (oneDNN).
    """
    if device.type == "cpu" and amp in ("auto", "bf16"):
        if cpu_bf16_native():
            return torch.bfloat16
        if amp == "bf16":
            raise ValueError(
                "amp='bf16' on the CPU needs native bfloat16 (AVX512-BF16 or AMX), which this "
                "CPU lacks; use amp='auto' or amp='none'"
            )
        return None
    if device.type != "cuda":
        if amp in ("fp16", "bf16"):
            raise ValueError(
                f"amp={amp!r} needs a CUDA device, but training runs on {device.type!r}; "
                "use amp='auto' or amp='none'"
            )
        return None
    if amp == "none":
        return None
    bf16_ok = torch.cuda.is_bf16_supported()
    if amp == "bf16" and not bf16_ok:
        raise ValueError("amp='bf16' is not supported by this GPU; use amp='fp16' or 'auto'")
    if amp == "fp16" or (amp == "auto" and not bf16_ok):
        return torch.float16
    return torch.bfloat16


@contextlib.contextmanager
def determinism(enabled: bool, device: torch.device) -> Iterator[None]:
    """Within the block: deterministic algorithms (warn-only) and cuDNN flags; restored after."""
    cudnn = torch.backends.cudnn
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn.deterministic,
        cudnn.benchmark,
    )
    if enabled:
        if device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        cudnn.deterministic, cudnn.benchmark = True, False
    else:
        cudnn.benchmark = device.type == "cuda"
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        cudnn.deterministic, cudnn.benchmark = before[2], before[3]
