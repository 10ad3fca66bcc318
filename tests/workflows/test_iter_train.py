"""NetworkWorkflow.iter_train: the epoch records of train, early close, errors, subclasses."""

import threading

import numpy as np
import pandas as pd
import pytest

from biakit.cancel import Cancelled, cancellable
from biakit.data import synthetic_nuclei
from biakit.workflows import SemanticConfig, SemanticSegmenter

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {
    "patch_shape": (16, 16),
    "samples_per_epoch": 4,
    "val_fraction": 0.5,
    "model": {"depth": 1, "base_filters": 2},
    "train": {"epochs": 3, "batch_size": 2, "device": "cpu", "plot_every": 0, "amp": "none"},
}


def _data():
    samples = [synthetic_nuclei((32, 32), n_objects=3, seed=s) for s in range(2)]
    return [s.image for s in samples], [s.mask.astype(np.uint8) for s in samples]


def _segmenter(**train):
    return SemanticSegmenter(SemanticConfig(**{**TINY, "train": {**TINY["train"], **train}}))


def _run(gen):
    """All records of a generator and its return value."""
    records = []
    while True:
        try:
            records.append(next(gen))
        except StopIteration as stop:
            return records, stop.value


LOSSES = ["epoch", "train_loss", "val_loss", "val_iou"]


def test_records_equal_train_history_and_metrics_csv_and_resume_after_close(tmp_path):
    images, masks = _data()
    reference = _segmenter()
    history = reference.train(images, masks, output_dir=tmp_path / "ref")
    assert list(history["epoch"]) == [1, 2, 3]

    seg = _segmenter()
    records, returned = _run(seg.iter_train(images, masks, output_dir=tmp_path / "gen"))
    # same seed: identical losses, record by record, in the history and in metrics.csv
    assert [r["epochs"] for r in records] == [3, 3, 3]
    frame = pd.DataFrame(records)[LOSSES]
    pd.testing.assert_frame_equal(frame, history[LOSSES])
    pd.testing.assert_frame_equal(returned, seg.history)
    pd.testing.assert_frame_equal(returned[LOSSES], history[LOSSES])
    csv = pd.read_csv(tmp_path / "gen" / "training" / "metrics.csv")
    np.testing.assert_allclose(csv[LOSSES].to_numpy(), frame.to_numpy(), rtol=1e-6)
    # train's finishing steps ran: the model folder, the summary, equal weights
    assert (tmp_path / "gen" / "model.json").is_file()
    assert not (tmp_path / "gen.partial").exists()
    assert seg.training["summary"]["stop_reason"] == "epochs"
    for key, value in seg.model.state_dict().items():
        torch.testing.assert_close(value, reference.model.state_dict()[key])

    # closed after the first epoch: training stops, no model, the partial resumes exactly
    early = _segmenter()
    gen = early.iter_train(images, masks, output_dir=tmp_path / "cut")
    assert next(gen)["epoch"] == 1
    gen.close()
    assert not early.is_trained
    assert not (tmp_path / "cut").exists()
    assert (tmp_path / "cut.partial" / "training" / "last.pt").is_file()
    resumed = _segmenter()
    after = resumed.train(images, masks, output_dir=tmp_path / "cut", resume=True)
    pd.testing.assert_frame_equal(after[LOSSES], history[LOSSES])
    assert (tmp_path / "cut" / "model.json").is_file()


def test_errors_and_the_callers_cancel_token(tmp_path):
    images, masks = _data()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("x")
    gen = _segmenter().iter_train(images, masks, output_dir=tmp_path / "taken")
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        next(gen)
    # the caller's token stops training at its next batch; the error reaches the caller
    token = threading.Event()
    seg = _segmenter(epochs=50)
    records = []
    with cancellable(token), pytest.raises(Cancelled):
        for record in seg.iter_train(images, masks, output_dir=tmp_path / "m"):
            records.append(record)
            token.set()
    assert len(records) == 1 and not seg.is_trained
    assert (tmp_path / "m.partial" / "training" / "last.pt").is_file()


def test_subclasses_finish_their_training_steps():
    from biakit.workflows._frame_config import FramePredictionConfig
    from biakit.workflows.frame_prediction import FramePredictor

    rng = np.random.default_rng(0)
    movie = rng.normal(10.0, 1.0, size=(10, 16, 16)).astype(np.float32)
    for t in range(10):
        movie[t, 4:10, t : t + 6] += 50.0
    cfg = FramePredictionConfig(
        n_input=3, n_output=2, patch_shape=(16, 16), samples_per_epoch=4,
        model={"hid_s": 4, "hid_t": 8, "n_s": 2, "n_t": 1, "groups": 2},
        train={"epochs": 2, "batch_size": 2, "device": "cpu", "plot_every": 0, "amp": "none"},
    )  # fmt: skip
    fp, reference = FramePredictor(cfg), FramePredictor(cfg)
    records, history = _run(fp.iter_train([movie, movie[::-1].copy()]))
    expected = reference.train([movie, movie[::-1].copy()])
    assert [r["epoch"] for r in records] == [1, 2]
    pd.testing.assert_frame_equal(history[["train_loss"]], expected[["train_loss"]])
    # the post-training blend fit ran as in train
    assert fp.training["horizon_blend"] == reference.training["horizon_blend"]
    assert "blend_fit" in fp.training and fp.is_trained
    np.testing.assert_allclose(fp.predict(movie), reference.predict(movie), atol=1e-6)
