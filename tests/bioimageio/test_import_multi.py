"""Import of hand-written packages with a time axis, and with two inputs and two outputs."""

from pathlib import Path

import numpy as np
import pytest

from biakit.bioimageio import load_package
from biakit.bioimageio._quiet import quiet_bioimageio
from biakit.errors import DataError, ModelFileError

from .conftest import smooth_image

DATA = Path(__file__).parents[1] / "data" / "bioimageio"
VIDEO = DATA / "plain_video" / "rdf.yaml"
TWO = DATA / "two_inputs" / "rdf.yaml"
DIMS = ("batch", "channel", "y", "x")


def core_run(source, members, halo=0):
    """bioimageio.core's own pipeline on whole tensors (id -> (array, dims)), every input
    padded by ``halo`` (symmetric, as core pads an input referenced by an output halo) and
    the outputs cropped back; returns id -> array without the batch axis."""
    from bioimageio.core import Sample, Tensor, create_prediction_pipeline, load_description

    with quiet_bioimageio():
        pipeline = create_prediction_pipeline(load_description(source),
                                              weight_format="pytorch_state_dict")  # fmt: skip
        sample = Sample(members={k: Tensor(a, dims=d) for k, (a, d) in members.items()},
                        stat={}, id="x")  # fmt: skip
        if halo:
            width = {"y": (halo, halo), "x": (halo, halo)}
            sample = sample.pad({k: width for k in members}, mode="symmetric")
        out = pipeline.predict_sample_without_blocking(sample, skip_input_padding=True,
                                                       skip_output_cropping=True)  # fmt: skip
        crop = (Ellipsis, slice(halo, -halo or None), slice(halo, -halo or None))
        return {str(k): np.asarray(v.data)[0][crop] for k, v in out.members.items()}


def core_predict(source, members):
    """bioimageio.core's ``predict`` of one whole sample (its own halo padding)."""
    from bioimageio.core import Sample, Tensor, create_prediction_pipeline, load_description
    from bioimageio.core import predict as core

    with quiet_bioimageio():
        pipeline = create_prediction_pipeline(load_description(source),
                                              weight_format="pytorch_state_dict")  # fmt: skip
        sample = Sample(members={k: Tensor(a, dims=d) for k, (a, d) in members.items()},
                        stat={}, id="x")  # fmt: skip
        out = core(model=pipeline, inputs=sample)
        return {str(k): np.asarray(v.data)[0] for k, v in out.members.items()}


@pytest.fixture(scope="module")
def video():
    return load_package(VIDEO)


@pytest.fixture(scope="module")
def two():
    return load_package(TWO)


def _movie(shape, seed):
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    return (ndi.gaussian_filter(rng.random(shape), (1, 2, 2)) * 1000 + 50).astype(np.float32)


def test_time_axis_package_equals_bioimageio_core(video):
    geo = video.geometry
    assert geo.inputs[0].time == "time" and geo.inputs[0].frames == (3, 1)
    assert (geo.minimum, geo.step, geo.halo) == ((16, 16), (4, 4), (2, 2))
    # the package's test tensor (batch, channel, time, y, x) -> biakit's (T, C, Y, X)
    test_in = np.load(VIDEO.parent / "test_input.npy")
    ours = video.predict_maps(test_in[0].transpose(1, 0, 2, 3))
    ref = core_predict(VIDEO, {"movie": (test_in, ("batch", "channel", "time", "y", "x"))})
    np.testing.assert_allclose(ours, ref["restored"].transpose(1, 0, 2, 3), atol=1e-4)
    # a larger movie in many tiles (space only; the 5 frames travel whole), no channel axis
    movie = _movie((5, 50, 61), seed=1)
    ours = video.predict_maps(movie, target=16)
    assert ours.shape == (5, 1, 50, 61)
    ref = core_predict(VIDEO, {"movie": (movie[None, None], ("batch", "channel", "time", "y",
                                                             "x"))})  # fmt: skip
    np.testing.assert_allclose(ours, ref["restored"].transpose(1, 0, 2, 3), atol=1e-4)


def test_time_axis_package_errors(video):
    with pytest.raises(DataError, match=r"has 2 frame\(s\); the package takes 3 \+ k\*1"):
        video.predict_maps(_movie((2, 16, 16), seed=0))
    with pytest.raises(DataError, match=r"it has a time axis: expected \(T, \*spatial\)"):
        video.predict_maps(np.zeros((16, 16), np.float32))
    with pytest.raises(DataError, match=r"has 2 channel\(s\)"):
        video.predict_maps(np.zeros((3, 2, 16, 16), np.float32))


def test_time_axis_package_predict_to_disk(video, tmp_path):
    import tifffile

    from biakit.io import ImageMeta, write_image

    movie = _movie((4, 20, 24), seed=2)
    write_image(tmp_path / "m.tif", movie, ImageMeta("TYX"))
    report = video.predict_to_disk(tmp_path / "m.tif", tmp_path / "out")
    assert not report.failures and report.outcomes[0].n_objects == 4
    written = tifffile.imread(tmp_path / "out" / "m_predicted.tif")
    np.testing.assert_allclose(written, video.predict_maps(movie)[:, 0], atol=1e-6)
    # a file without a time axis fails alone, with a reason
    write_image(tmp_path / "still.tif", movie[0], ImageMeta("YX"))
    report = video.predict_to_disk(tmp_path / "still.tif", tmp_path / "out2")
    assert "expected a time-lapse" in report.failures[0].error


@pytest.mark.parametrize("as_dict", [True, False])
def test_two_input_package_equals_bioimageio_core(two, as_dict):
    assert two.input_ids == ("raw", "aux") and two.output_ids == ("maps", "gate")
    raw, aux = smooth_image((45, 57), seed=3), smooth_image((45, 57), seed=4) + 100
    inputs = {"aux": aux, "raw": raw} if as_dict else [raw, aux]
    ours = two.predict_maps(inputs, target=16)
    assert set(ours) == {"maps", "gate"}
    assert ours["maps"].shape == (2, 45, 57) and ours["gate"].shape == (1, 45, 57)
    np.testing.assert_allclose(ours["maps"].sum(axis=0), 1.0, atol=1e-5)  # softmax
    ref = core_run(TWO, {"raw": (raw[None, None], DIMS), "aux": (aux[None, None], DIMS)}, halo=2)
    np.testing.assert_allclose(ours["maps"], ref["maps"], atol=1e-4)
    np.testing.assert_allclose(ours["gate"][0], ref["gate"], atol=1e-4)
    assert two.postprocess(ours) is ours


def test_two_input_package_errors(two, tmp_path):
    raw = smooth_image((32, 32))
    with pytest.raises(DataError, match=r"has 2 inputs \['raw', 'aux'\]; give a list"):
        two.predict_maps(raw)
    with pytest.raises(DataError, match=r"missing \['aux'\], unknown \['mask'\]"):
        two.predict_maps({"raw": raw, "mask": raw})
    with pytest.raises(DataError, match="needs them of one size"):
        two.predict_maps([raw, raw[:28]])
    with pytest.raises(DataError, match="run packages with one input"):
        two.predict_to_disk(tmp_path, tmp_path / "out")


def test_cli_predict_of_a_two_input_package_exits_2(tmp_path, capsys):
    from biakit.cli import main
    from biakit.io import ImageMeta, write_image

    write_image(tmp_path / "a.tif", smooth_image((32, 32)), ImageMeta("YX"))
    code = main(["predict", str(TWO), "-i", str(tmp_path / "a.tif"), "-o", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert "has 2 inputs" in err and "predict_maps({id: array" in err


def test_geometry_refuses_unaligned_inputs():
    from types import SimpleNamespace

    from bioimageio.spec.model import v0_5

    from biakit.bioimageio._geometry import package_geometry

    def space(n, ref=None):
        return [v0_5.SpaceInputAxis(id=v0_5.AxisId(a), size=ref or n) for a in ("y", "x")]

    a = SimpleNamespace(id="a", axes=[v0_5.BatchAxis(), *space(16)])
    b = SimpleNamespace(id="b", axes=[v0_5.BatchAxis(), *space(20)])
    out = SimpleNamespace(id="o", axes=[v0_5.BatchAxis()])
    with pytest.raises(ModelFileError, match="only when they are spatially aligned"):
        package_geometry(SimpleNamespace(name="m", inputs=[a, b], outputs=[out]))
    geo = package_geometry(SimpleNamespace(name="m", inputs=[a, a], outputs=[out]))
    assert not geo.out_space and len(geo.inputs) == 2


@pytest.mark.slow
@pytest.mark.parametrize("rdf", [VIDEO, TWO])
def test_hand_written_packages_pass_test_model(rdf):
    from biakit.bioimageio import test_package

    assert test_package(rdf).status == "passed"
