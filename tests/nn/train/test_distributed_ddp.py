"""DDP on the CPU (gloo, 2 processes) against single-process training with twice the batch.

One pair of forked processes runs every scenario (process start-up dominates); the
single-process references run in the test process.
"""

import os
import socket
from datetime import timedelta

import numpy as np
import pytest
import torch

from biakit.errors import ParameterError
from biakit.nn.datasets import PatchDataset
from biakit.nn.models import UNet, UNetConfig
from biakit.nn.train import Trainer, load_checkpoint
from biakit.nn.train import _distributed as dd

pytestmark = pytest.mark.slow

B = 2  # batch per process
TOL = 1e-5


def _data(n_samples, seed=0):
    rng = np.random.default_rng(seed)
    images = [rng.random((40, 44)).astype(np.float32) for _ in range(2)]
    labels = [(im > 0.6).astype(np.int32) for im in images]
    return PatchDataset(images, labels, (16, 16), samples_per_epoch=n_samples, seed=seed)


def _net(norm="none", dropout=0.0):
    torch.manual_seed(0)
    cfg = UNetConfig(ndim=2, in_channels=1, out_channels=2, depth=1, base_filters=4,
                     norm=norm, dropout=dropout)  # fmt: skip
    return UNet(cfg)


def _acc(logits, target):
    return {"acc": float((logits.argmax(1) == target).float().mean())}


def _cfg(batch, **kw):
    base = {"epochs": 2, "batch_size": batch, "device": "cpu", "plot_every": 0, "amp": "none",
            "num_workers": 0}  # fmt: skip
    return {**base, **kw}


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def run_sgd(batch, out):
    """Plain U-Net, SGD with momentum, 11 samples: the last global batch splits 2 + 1."""
    cfg = _cfg(batch, optimizer="sgd", lr=0.05, schedule="none", loss="ce")
    trainer = Trainer(_net(), cfg, _data(11), output_dir=out, plots=False)
    history = trainer.fit(progress=False)
    return {"params": _params(trainer.model), "loss": list(history["train_loss"])}


def run_accumulate(batch, out):
    """Gradient accumulation (DDP's no_sync for the first micro-batch of each step)."""
    cfg = _cfg(batch, optimizer="sgd", lr=0.05, schedule="none", loss="ce", accumulate=2)
    trainer = Trainer(_net(), cfg, _data(11), output_dir=out, plots=False)
    trainer.fit(progress=False)
    return {"params": _params(trainer.model), "steps": trainer.steps}


def run_bn_adam(batch, out):
    """U-Net with batch norm (synchronised), Adam, cosine schedule, sharded validation."""
    cfg = _cfg(batch, optimizer="adam", lr=1e-3, loss="ce", warmup_epochs=1, monitor="val_acc")
    trainer = Trainer(
        _net("batch"), cfg, _data(8), _data(5, seed=3), output_dir=out, metrics=_acc, plots=False
    )
    history = trainer.fit(progress=False)
    return {
        "params": _params(trainer.model),
        "loss": list(history["train_loss"]),
        "val_loss": list(history["val_loss"]),
        "val_acc": list(history["val_acc"]),
        "best_epoch": trainer.best_epoch,
    }


def run_resume(batch, out):
    """Batch norm + dropout (per-rank random states): straight 3 epochs vs 1 + resume."""
    cfg = _cfg(batch, epochs=3, optimizer="adamw", lr=1e-3, loss="ce")
    straight = Trainer(_net("batch", 0.3), cfg, _data(8), output_dir=out / "a", plots=False)
    straight.fit(progress=False)
    first = Trainer(_net("batch", 0.3), cfg, _data(8), output_dir=out / "b", plots=False)
    run = first.iter_fit()
    next(run)  # epoch 1 done and checkpointed: "interrupt"
    run.close()
    torch.rand(5)  # the random states move on
    resumed = Trainer.resume(_net("batch", 0.3), None, _data(8), output_dir=out / "b", plots=False)
    resumed.fit(progress=False)
    return {"straight": _params(straight.model), "resumed": _params(resumed.model)}


def run_budget(batch, out):
    """A time budget stops every rank after the same step."""
    cfg = _cfg(batch, epochs=50, max_time=0.3, optimizer="sgd", lr=0.01)
    trainer = Trainer(_net(), cfg, _data(40), output_dir=out, plots=False)
    trainer.fit(progress=False)
    return {"steps": trainer.steps, "epochs": trainer.epoch, "reason": trainer.stop_reason}


class _OneRankNaN(torch.nn.Module):
    """In autocast on rank ``rank`` only, the output is inf (``"output"``) or its gradient
    NaN (``"grads"``); the other ranks' batches are finite."""

    def __init__(self, net, where, rank):
        super().__init__()
        self.net, self.where, self.rank = net, where, rank

    def forward(self, x):
        out = self.net(x)
        if not torch.is_autocast_enabled("cpu") or dd.distributed_context().rank != self.rank:
            return out
        if self.where == "output":
            return out * float("inf")
        out = out * 1.0
        out.register_hook(lambda grad: grad * float("nan"))
        return out


def run_bf16_redo(batch, out):
    """bf16 batches that are not finite on one rank: every rank redoes them in float32."""
    from biakit.nn.train import _precision

    _precision.cpu_bf16_native = lambda: True  # in the forked worker only
    results = {}
    for where, rank in (("grads", 0), ("output", 1)):
        cfg = _cfg(batch, optimizer="sgd", lr=0.05, schedule="none", loss="ce", amp="bf16")
        net = _net()
        trainer = Trainer(_OneRankNaN(net, where, rank), cfg, _data(11), output_dir=out / where,
                          plots=False)  # fmt: skip
        trainer.fit(progress=False)
        results[where] = {"params": _params(net), "retries": trainer.float32_retries,
                          "float32_after": trainer.amp_dtype is None}  # fmt: skip
    return results


SCENARIOS = {
    "sgd": run_sgd,
    "bf16_redo": run_bf16_redo,
    "accumulate": run_accumulate,
    "bn_adam": run_bn_adam,
    "resume": run_resume,
    "budget": run_budget,
}


def _worker(rank, port, root):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2",
                      RANK=str(rank), LOCAL_RANK=str(rank))  # fmt: skip
    torch.set_num_threads(1)
    dd.TIMEOUT = timedelta(seconds=120)  # a broken collective fails the test instead of hanging
    results = {name: fn(B, root / name) for name, fn in SCENARIOS.items()}
    results["world_size"] = dd.distributed_context().world_size
    torch.save(results, root / f"rank{rank}.pt")
    dd.shutdown_distributed()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ddp(tmp_path_factory):
    """Every scenario on 2 forked gloo processes; rank -> results."""
    import torch.multiprocessing as mp

    root = tmp_path_factory.mktemp("ddp")
    torch.optim.SGD([torch.zeros(1, requires_grad=True)])  # imports torch._dynamo once, pre-fork
    mp.start_processes(_worker, args=(_free_port(), root), nprocs=2, start_method="fork")
    return [torch.load(root / f"rank{r}.pt", weights_only=True) for r in range(2)], root


def _close(a, b, tol=TOL):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].double(), b[key].double(), atol=tol, rtol=0), key


def test_two_processes_equal_one_with_twice_the_batch(ddp, tmp_path):
    """MUST-SHOW: B per process on 2 ranks == 2B in one process within 1e-5 (SGD)."""
    (rank0, rank1), _ = ddp
    assert rank0["world_size"] == 2
    single = run_sgd(2 * B, tmp_path)
    _close(rank0["sgd"]["params"], single["params"])
    _close(rank1["sgd"]["params"], single["params"])
    assert np.allclose(rank0["sgd"]["loss"], single["loss"], atol=TOL)


def test_gradient_accumulation_matches_one_process(ddp, tmp_path):
    (rank0, _), _ = ddp
    single = run_accumulate(2 * B, tmp_path)
    assert rank0["accumulate"]["steps"] == single["steps"] == 4  # 3 batches, 2 steps per epoch
    _close(rank0["accumulate"]["params"], single["params"])


def test_sync_batchnorm_and_sharded_validation_match_one_process(ddp, tmp_path):
    """Batch norm statistics of the global batch (running averages too), Adam, validation."""
    (rank0, rank1), _ = ddp
    single = run_bn_adam(2 * B, tmp_path)
    _close(rank0["bn_adam"]["params"], single["params"])
    _close(rank1["bn_adam"]["params"], rank0["bn_adam"]["params"], tol=0)
    for key in ("loss", "val_loss", "val_acc"):
        assert np.allclose(rank0["bn_adam"][key], single[key], atol=TOL), key
    assert rank0["bn_adam"]["best_epoch"] == single["best_epoch"]


def test_bf16_redo_on_one_rank_keeps_the_ranks_together(ddp, tmp_path):
    """A non-finite bf16 loss or gradient on one rank only is redone in float32 by every
    rank (the loss and the gradients are reduced first): no hang, equal weights, and after
    three such batches float32, so the run equals a float32 run of one process."""
    (rank0, rank1), _ = ddp
    single = run_sgd(2 * B, tmp_path)
    for where in ("grads", "output"):
        for rank in (rank0, rank1):
            got = rank["bf16_redo"][where]
            assert got["retries"] == 3 and got["float32_after"], where
            _close(got["params"], single["params"])


def test_checkpoint_of_rank_0_resumes_exactly(ddp):
    (rank0, rank1), root = ddp
    for rank in (rank0, rank1):
        _close(rank["resume"]["straight"], rank["resume"]["resumed"], tol=0)
    state = load_checkpoint(root / "resume" / "b" / "last.pt")
    assert state["world_size"] == 2 and len(state["rng_ranks"]) == 2
    assert not any(p.name.startswith("rank") for p in (root / "resume" / "b").iterdir())


def test_time_budget_stops_all_ranks_together(ddp):
    (rank0, rank1), _ = ddp
    assert rank0["budget"] == rank1["budget"]
    assert rank0["budget"]["reason"] == "max_time"


def test_resume_with_another_number_of_processes_is_refused(ddp):
    _, root = ddp
    with pytest.raises(ParameterError, match=r"written by 2 training process.*this run has 1"):
        Trainer.resume(_net("batch", 0.3), None, _data(8), output_dir=root / "resume" / "b")
