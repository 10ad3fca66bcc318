"""Remake the weights and test tensors of the hand-written test packages (run from anywhere).

``plain_unet/``, ``plain_video/`` (a time axis) and ``two_inputs/`` (two inputs, two
outputs): ``rdf.yaml``, the network's ``.py`` and ``README.md`` are written by hand;
this script writes ``weights.pt`` (random, seed 0), the test inputs (smooth random
images, seed 0) and the test outputs (bioimageio.core's prediction of them, as
``bioimageio.core.test_model`` computes it: no halo padding).
"""

import sys
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage as ndi

HERE = Path(__file__).parent


def plain_unet() -> None:
    from bioimageio.core import Sample, Tensor, create_prediction_pipeline
    from bioimageio.spec import load_model_description

    folder = HERE / "plain_unet"
    sys.path.insert(0, str(folder))
    from plain_unet import PlainUNet

    torch.manual_seed(0)
    torch.save(PlainUNet(1, 1, 4).state_dict(), folder / "weights.pt")
    rng = np.random.default_rng(0)
    image = ndi.gaussian_filter(rng.random((64, 64)), 2.0) * 1000 + 100
    test_in = image.astype(np.float32)[None, None]
    np.save(folder / "test_input.npy", test_in)
    np.save(folder / "test_output.npy", np.ones_like(test_in))  # placeholder to load the RDF
    descr = load_model_description(folder / "rdf.yaml", perform_io_checks=False)
    pipeline = create_prediction_pipeline(descr, weight_format="pytorch_state_dict")
    sample = Sample(members={"raw": Tensor(test_in, dims=("batch", "channel", "y", "x"))},
                    stat={}, id="test")  # fmt: skip
    out = pipeline.predict_sample_without_blocking(
        sample, skip_input_padding=True, skip_output_cropping=True
    )
    np.save(folder / "test_output.npy", np.asarray(out.members["foreground"].data, np.float32))


def _smooth(shape: tuple, seed: int, sigma: tuple | float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (ndi.gaussian_filter(rng.random(shape), sigma) * 1000 + 100).astype(np.float32)


def _core_outputs(folder: Path, inputs: dict, outputs: dict) -> None:
    """Save ``outputs`` (id -> file): bioimageio.core's prediction of ``inputs`` (id -> array)."""
    from bioimageio.core import Sample, Tensor, create_prediction_pipeline
    from bioimageio.spec import load_model_description

    for file in outputs.values():  # placeholders to load the RDF
        np.save(folder / file, np.ones((1,), np.float32))
    descr = load_model_description(folder / "rdf.yaml", perform_io_checks=False)
    pipeline = create_prediction_pipeline(descr, weight_format="pytorch_state_dict")
    members = {k: Tensor(a, dims=d) for k, (a, d) in inputs.items()}
    out = pipeline.predict_sample_without_blocking(
        Sample(members=members, stat={}, id="test"),
        skip_input_padding=True,
        skip_output_cropping=True,
    )
    for key, file in outputs.items():
        np.save(folder / file, np.asarray(out.members[key].data, np.float32))


def plain_video() -> None:
    folder = HERE / "plain_video"
    sys.path.insert(0, str(folder))
    from plain_video import PlainVideoNet

    torch.manual_seed(0)
    torch.save(PlainVideoNet(1, 4).state_dict(), folder / "weights.pt")
    test_in = _smooth((4, 24, 24), 0, (1.0, 2.0, 2.0))[None, None]  # (b, c, t, y, x)
    np.save(folder / "test_input.npy", test_in)
    _core_outputs(
        folder,
        {"movie": (test_in, ("batch", "channel", "time", "y", "x"))},
        {"restored": "test_output.npy"},
    )


def two_inputs() -> None:
    folder = HERE / "two_inputs"
    sys.path.insert(0, str(folder))
    from two_inputs import TwoInputNet

    torch.manual_seed(0)
    torch.save(TwoInputNet(4).state_dict(), folder / "weights.pt")
    raw, aux = (_smooth((24, 24), s)[None, None] for s in (0, 1))
    np.save(folder / "test_input_raw.npy", raw)
    np.save(folder / "test_input_aux.npy", aux)
    dims = ("batch", "channel", "y", "x")
    _core_outputs(
        folder,
        {"raw": (raw, dims), "aux": (aux, dims)},
        {"maps": "test_output_maps.npy", "gate": "test_output_gate.npy"},
    )


if __name__ == "__main__":
    which = sys.argv[1:] or ["plain_unet", "plain_video", "two_inputs"]
    for name in which:
        {"plain_unet": plain_unet, "plain_video": plain_video, "two_inputs": two_inputs}[name]()
