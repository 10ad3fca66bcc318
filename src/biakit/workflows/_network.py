"""Workflows around one network from the architecture registry.

Training with exact resume, tiled prediction, weights in the model folder;
:meth:`NetworkWorkflow.iter_train` follows training epoch by epoch.
"""

from __future__ import annotations

import contextlib
import contextvars
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import numpy as np

from biakit.cancel import cancellable, is_cancelled
from biakit.errors import DataError
from biakit.workflows import _folder
from biakit.workflows._base import Workflow, channels_first


class NetworkWorkflow(Workflow):
    """A :class:`Workflow` whose maps come from a network built by architecture id.

    ``self.model`` is the ``torch.nn.Module``; ``self.network_config`` its
    resolved config (``in_channels`` from the training images), recorded in
    ``model.json`` with ``config.architecture`` and the registry's version.
    """

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.model: Any = None
        self.network_config: Any = None

    @property
    def is_trained(self) -> bool:
        """Whether a network is present (trained or loaded)."""
        return self.model is not None

    @property
    def in_channels(self) -> int:
        """Channels the network expects (1 before training)."""
        return 1 if self.network_config is None else int(self.network_config.in_channels)

    # ------------------------------------------------------------------ training
    def iter_train(self, *args: Any, **kwargs: Any) -> Generator[dict[str, Any], None, Any]:
        """Train as :meth:`train` does (same arguments), yielding each epoch's record.

        The records are the trainer's (:meth:`biakit.nn.train.Trainer.iter_fit`:
        ``epoch``, ``train_loss``, ``val_loss``, ``val_<metric>``, ``lr``, ...,
        the rows of the run's ``metrics.csv``) plus ``epochs``, the planned
        number of epochs; each comes once its checkpoint is written. When the
        generator is exhausted, training is finished exactly as by :meth:`train`
        (tuning, post-training fits, reports, the model folder), and its return
        value (``StopIteration.value``) is what :meth:`train` returns.

        ``train`` runs in a helper thread (in a copy of the caller's context, so
        an enclosing :func:`biakit.cancel.cancellable` token still applies).
        Closing the generator early stops training at its next batch, as an
        interruption of :meth:`train` does: no model is swapped in, no model
        folder is written, and ``NAME.partial`` keeps the last finished epoch
        for ``resume=True`` (closed after the last epoch, finishing steps that
        do not check cancellation, such as tuning, still complete). An error of
        ``train`` (:class:`biakit.cancel.Cancelled` too) is raised here.

        Examples
        --------
        >>> import numpy as np
        >>> from biakit.workflows import SemanticConfig, SemanticSegmenter
        >>> image = np.random.default_rng(0).random((16, 16), np.float32)
        >>> seg = SemanticSegmenter(SemanticConfig(patch_shape=(16, 16), samples_per_epoch=2,
        ...     model={"depth": 1, "base_filters": 2},
        ...     train={"epochs": 2, "batch_size": 2, "device": "cpu"}))
        >>> [(r["epoch"], r["epochs"]) for r in seg.iter_train([image], [image > 0.5])]
        [(1, 2), (2, 2)]
        >>> seg.is_trained, len(seg.history)
        (True, 2)
        """
        stop = threading.Event()
        events: queue.Queue = queue.Queue()
        token = _StopToken(stop, contextvars.copy_context())

        def work() -> None:
            try:
                with cancellable(token), epoch_listener(lambda r: events.put(("epoch", r))):
                    events.put(("done", self.train(*args, **kwargs)))
            except BaseException as exc:  # handed to the caller's thread
                events.put(("error", exc))

        thread = threading.Thread(
            target=contextvars.copy_context().run, args=(work,), name="biakit-train", daemon=True
        )
        thread.start()
        try:
            while True:
                kind, value = events.get()
                if kind == "epoch":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return value
        finally:
            stop.set()  # the run ended already, or is left early: stop at the next batch
            thread.join()

    def _fit(
        self,
        images: list[np.ndarray],
        targets: list[np.ndarray],
        *,
        target_kind: str,
        output_dir: str | Path | None,
        val: tuple[list[np.ndarray], list[np.ndarray]] | None,
        loss_fn: Callable[..., Any] | None = None,
        metrics: Callable[..., dict[str, float]] | None = None,
        resume: bool = False,
        overwrite: bool = False,
        progress: bool = False,
    ) -> Path | None:
        """Train the network; return the unfinished model folder (``NAME.partial``) or None.

        With ``output_dir`` the checkpoints go to ``NAME.partial/training`` so an
        interrupted run continues exactly with ``resume=True``; the caller
        finishes the folder with :meth:`_finish`.
        """
        from biakit.nn.augment import Augmenter
        from biakit.nn.datasets import PatchDataset

        cfg = self.config
        for i, im in enumerate(images):
            _check_finite(im, f"images[{i}]")
        self._set_network_config(images)
        augmenter = Augmenter(cfg.augment, ndim=cfg.ndim)

        def dataset(ims: list, ts: list, samples: int, aug: Any) -> Any:
            return PatchDataset(
                ims, ts, cfg.patch_shape, samples_per_epoch=samples,
                foreground_fraction=cfg.foreground_fraction, augmenter=aug,
                normalizer=cfg.normalizer, target_kind=target_kind, seed=cfg.seed,
            )  # fmt: skip

        train_ds = dataset(images, targets, cfg.samples_per_epoch, augmenter)
        val_ds = dataset(*val, max(cfg.samples_per_epoch // 4, 4), None) if val else None
        return self._train_network(
            train_ds, val_ds, n_images=len(images), output_dir=output_dir, loss_fn=loss_fn,
            metrics=metrics, resume=resume, overwrite=overwrite, progress=progress,
        )  # fmt: skip

    def _set_network_config(self, images: list[np.ndarray]) -> None:
        """Resolve the network's config from the (channel-first) training images."""
        self.network_config = self.config.network_config(images[0].shape[0])
        for i, im in enumerate(images[1:], 1):
            if im.shape[0] != self.in_channels:
                raise DataError(
                    f"images[{i}] has {im.shape[0]} channel(s), images[0] has "
                    f"{self.in_channels}; all images need the same channels"
                )

    @property
    def architecture(self) -> str:
        """Registry id of the network (the model config's, else the task config's)."""
        return getattr(self.config.model, "architecture", None) or self.config.architecture

    def _train_network(
        self,
        train_ds: Any,
        val_ds: Any,
        *,
        n_images: int,
        output_dir: str | Path | None,
        loss_fn: Callable[..., Any] | None,
        metrics: Callable[..., dict[str, float]] | None,
        resume: bool,
        overwrite: bool,
        progress: bool,
    ) -> Path | None:
        """Build the network from ``self.network_config`` and train it on the datasets."""
        import torch

        from biakit.nn.models import build_network
        from biakit.nn.train import Trainer
        from biakit.nn.train import _distributed as dd

        cfg = self.config
        ctx = dd.init_distributed(cfg.train.device)  # one process unless under torchrun
        work = _prepare_output(output_dir, resume=resume, overwrite=overwrite, ctx=ctx)
        torch.manual_seed(cfg.seed)
        network = build_network(self.architecture, self.network_config)
        model = self._training_model(network)
        kwargs = {"metrics": metrics, "loss_fn": loss_fn}
        with contextlib.ExitStack() as stack:
            if work is None:  # checkpoints still need a place; it is removed afterwards
                ckpt = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="biakit-")))
            else:
                ckpt = work / "training"
            if resume:
                trainer = Trainer.resume(model, cfg.train, train_ds, val_ds, output_dir=ckpt,
                                         plots=work is not None, **kwargs)  # fmt: skip
            else:
                trainer = Trainer(model, cfg.train, train_ds, val_ds, output_dir=ckpt,
                                  plots=work is not None, **kwargs)  # fmt: skip
            self.history = _run_epochs(trainer, progress=progress)
        trained = dd.revert_sync_batchnorm(trainer.model)  # the same module, trained in place
        self.model = (trained if model is network else network).eval()
        self.training = {
            **self.training,
            "epochs": len(self.history),
            "planned_epochs": cfg.train.epochs,
            "stop_reason": trainer.stop_reason,
            "best_epoch": trainer.best_epoch,
            "n_images": n_images,
            "summary": trainer.summary,
            "float32_retries": trainer.float32_retries,  # non-finite reduced-precision batches
            "skipped_steps": trainer.skipped_steps,
        }
        return work

    def _training_model(self, network: Any) -> Any:
        """Return the module the trainer optimises for ``network`` (default: ``network``).

        A workflow may wrap the built network here (frame prediction trains it
        rolled out over several passes); the wrapper must hold ``network`` as a
        submodule, so training updates it in place. The trainer (loss,
        checkpoints, resume) sees the wrapper; the workflow keeps ``network``.
        """
        return network

    def _finish(self, work: Path | None, output_dir: str | Path | None, *, overwrite: bool) -> None:
        """Write the model files into ``work`` and rename it to ``output_dir`` (rank 0 only)."""
        from biakit.nn.train import _distributed as dd

        if work is None or output_dir is None:
            return
        ctx = dd.distributed_context()
        if ctx.is_main:
            self._write_folder(work)
            _folder.commit_folder(work, Path(output_dir), overwrite=overwrite)
        dd.barrier(ctx)  # every rank returns once the model folder exists

    # ---------------------------------------------------------------- prediction
    def _checked_input(self, image: Any) -> np.ndarray:
        """``image`` channel first, with the channels the network was trained on, finite."""
        self._require_trained()
        array = channels_first(image, self.config.ndim)
        if array.shape[0] != self.in_channels:
            hint = ""
            if self.in_channels == 1 and np.ndim(image) == self.config.ndim + 1:
                hint = (
                    "; a stack or time-lapse of single-channel images? predict each frame "
                    "([model.predict(f) for f in stack]) or predict_to_disk the file"
                )
            raise DataError(
                f"image has {array.shape[0]} channel(s) (shape {array.shape}); the model was "
                f"trained on {self.in_channels}{hint}"
            )
        _check_finite(array, "image")
        return array

    def _raw(self, image: Any, *, activation: str | None, tta: bool, **kwargs: Any) -> np.ndarray:
        """Normalised tiled prediction ``(out_channels, *spatial)``."""
        from biakit.nn.infer import predict_tiled

        normalized = self.config.normalizer(self._checked_input(image))
        kwargs.setdefault("amp", self.config.train.amp)  # as trained: bf16 where fast
        return predict_tiled(self.model, normalized, activation=activation, tta=tta, **kwargs)

    # ---------------------------------------------------------------- persistence
    def _manifest_extra(self) -> dict[str, Any]:
        from biakit.nn.models import get_architecture

        arch = get_architecture(self.architecture)
        return {
            "architecture": {"id": arch.id, "version": arch.version},
            "network": self.network_config.model_dump(mode="json"),
        }

    def _write_state(self, folder: Path) -> None:
        import torch

        torch.save(self.model.state_dict(), folder / _folder.WEIGHTS)

    def _read_state(self, path: Path, manifest: dict[str, Any]) -> None:
        from biakit.nn.models import get_architecture

        arch_info = manifest.get("architecture") or {}
        arch = get_architecture(arch_info.get("id", "unet"), arch_info.get("version"))
        try:
            self.network_config = arch.config_class.model_validate(manifest["network"])
        except (KeyError, ValueError) as err:
            raise _folder.ModelFileError(
                f"{path / _folder.MANIFEST}: invalid network config ({' '.join(str(err).split())})"
            ) from None
        self.model = arch.build(self.network_config)
        state = _folder.load_weights(path / _folder.WEIGHTS)
        _folder.check_state(self.model, state, path / _folder.WEIGHTS)
        self.model.eval()


# where _train_network hands each epoch's record (set by iter_train in its helper thread)
_EPOCH_SINK: contextvars.ContextVar[Callable[[dict[str, Any]], None] | None] = (
    contextvars.ContextVar("biakit_epoch_sink", default=None)
)


@contextlib.contextmanager
def epoch_listener(callback: Callable[[dict[str, Any]], Any]) -> Any:
    """Within the block, every network training calls ``callback(record)`` after each epoch.

    The records are those :meth:`NetworkWorkflow.iter_train` yields (``epoch``,
    ``epochs``, ``train_loss``, ...); the listener is per thread (a context variable).

    Examples
    --------
    >>> with epoch_listener(print):
    ...     pass
    """
    token = _EPOCH_SINK.set(callback)
    try:
        yield
    finally:
        _EPOCH_SINK.reset(token)


class _StopToken:
    """Cancel token of :meth:`NetworkWorkflow.iter_train`: its own flag or the caller's token."""

    def __init__(self, stop: threading.Event, caller: contextvars.Context) -> None:
        self.stop, self.caller = stop, caller

    def is_set(self) -> bool:
        return self.stop.is_set() or self.caller.run(is_cancelled)


def _run_epochs(trainer: Any, *, progress: bool) -> Any:
    """``trainer.fit``, handing each epoch's record (plus ``epochs``) to the epoch sink."""
    sink = _EPOCH_SINK.get()
    if sink is None:
        return trainer.fit(progress=progress)
    epochs = trainer.cfg.epochs
    return trainer.fit(progress=progress, on_epoch=lambda r: sink({**r, "epochs": epochs}))


def _check_finite(image: np.ndarray, name: str) -> None:
    from biakit.validation import check_finite

    check_finite(image, name=name)


def _prepare_output(
    output_dir: str | Path | None, *, resume: bool, overwrite: bool, ctx: Any = None
) -> Path | None:
    """Check the model folder and return its ``.partial`` working folder (None: in memory).

    Under torchrun (``ctx`` of several ranks) every rank checks, then rank 0
    alone clears and creates the working folder while the others wait.
    """
    from biakit.nn.train import _distributed as dd

    ctx = ctx or dd.DistContext()
    if output_dir is None:
        if resume:
            raise DataError("resume=True needs the output_dir of the interrupted run")
        return None
    target = Path(output_dir)
    work = _folder.partial_dir(target)
    if _folder.is_occupied(target) and not overwrite:
        raise FileExistsError(
            f"{target}: holds a model or other files already; pass --overwrite "
            "(overwrite=True) to train afresh and replace it, or choose another output"
        )
    checkpoint = work / "training" / "last.pt"
    if resume:
        if not checkpoint.is_file():
            raise FileNotFoundError(
                f"{work}: no interrupted run to resume (no training/last.pt); "
                "start without --resume"
            )
        return work
    if work.exists() and not overwrite:
        raise FileExistsError(
            f"{work}: holds an interrupted run; continue it with --resume "
            "(resume=True) or start afresh with --overwrite (overwrite=True)"
        )
    dd.barrier(ctx)  # all ranks checked before rank 0 changes anything
    if ctx.is_main:
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
    dd.barrier(ctx)
    return work
