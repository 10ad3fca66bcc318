"""Trainer mixin: reduced precision that never spoils a step (non-finite batches redone).

Under bf16 / fp16 autocast a batch can overflow where float32 does not; bf16 3D
convolutions once gave intermittent NaNs on the CPU. The :class:`~biakit.nn.train.Trainer`
redoes such a batch in float32 (a non-finite loss in ``_batch_loss``, non-finite bf16
gradients here), skips an accumulated group it cannot redo, and after
``FLOAT32_AFTER`` such batches goes on in float32.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

FLOAT32_AFTER = 3  # non-finite bf16 / fp16 batches after which a run goes on in float32


class PrecisionGuard:
    """Trainer mixin: the float32 redo of non-finite reduced-precision batches.

    Uses the trainer's ``amp_dtype``, ``model``, ``optimizer``, ``_batch_loss`` and
    the counters ``float32_retries``, ``skipped_steps`` and ``_non_finite_autocast``.
    """

    amp_dtype: Any
    model: torch.nn.Module
    optimizer: Any
    float32_retries: int
    skipped_steps: int
    _non_finite_autocast: int

    def _finite_gradients(self) -> bool:
        """Whether the bf16 gradients are finite (always True in float32 / under fp16's scaler).

        Under torchrun the gradients are already averaged: every rank answers alike.
        """
        if self.amp_dtype != torch.bfloat16:
            return True
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        sums = [g.detach().float().sum() for g in grads]  # NaN / inf anywhere: not finite
        return not sums or bool(torch.isfinite(torch.stack(sums)).all())

    def _redo_in_float32(
        self, x: torch.Tensor, y: torch.Tensor, i: int, group: int, done: tuple[float, int]
    ) -> tuple[float, int]:
        """Redo a step with non-finite bf16 gradients in float32; return its loss and samples.

        A single batch is recomputed; an accumulated group cannot be (its earlier
        micro-batches are gone), so its gradients are dropped and the optimiser skips
        it (parameters without a gradient are left alone), as PyTorch's gradient
        scaler does for fp16. ``done``: the batch's bf16 loss and samples, kept then.
        """
        self.optimizer.zero_grad(set_to_none=True)
        if group > 1:
            self.skipped_steps += 1
            self._note_non_finite(redone=False)
            return done
        amp, self.amp_dtype = self.amp_dtype, None
        try:
            loss, value, n = self._batch_loss(x, y, i)
            loss.backward()
        finally:
            self.amp_dtype = amp
        self._note_non_finite(redone=True)
        return value, n

    def _note_non_finite(self, redone: bool) -> None:
        """Count a non-finite autocast batch (``redone`` in float32, else skipped).

        After ``FLOAT32_AFTER`` of them the run goes on in float32.
        """
        self.float32_retries += int(redone)
        self._non_finite_autocast += 1
        if self._non_finite_autocast >= FLOAT32_AFTER and self.amp_dtype is not None:
            logging.getLogger(__name__).warning(
                "%d batches were not finite in %s autocast: training goes on in float32",
                self._non_finite_autocast, self.amp_dtype,
            )  # fmt: skip
            self.amp_dtype = None
