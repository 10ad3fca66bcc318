from pathlib import Path

import numpy as np
import pytest

from biakit.bioimageio import BioimageioModel, load_package
from biakit.bioimageio._quiet import quiet_bioimageio
from biakit.errors import DataError, ModelFileError

from .conftest import smooth_image

PLAIN = Path(__file__).parents[1] / "data" / "bioimageio" / "plain_unet" / "rdf.yaml"


def core_predict(source, image, weight_format="pytorch_state_dict"):
    """bioimageio.core's own whole-image prediction (its halo padding included)."""
    with quiet_bioimageio():  # its description keeps the zip open: freed inside the block
        return _core_predict(source, image, weight_format)


def _core_predict(source, image, weight_format):
    from bioimageio.core import create_prediction_pipeline, load_description, predict

    pipeline = create_prediction_pipeline(load_description(source), weight_format=weight_format)
    sample = predict(model=pipeline, inputs=image[None])
    return np.asarray(next(iter(sample.members.values())).data)[0]


@pytest.fixture(scope="module")
def plain():
    return load_package(PLAIN)


def test_hand_written_package_equals_bioimageio_core(plain):
    assert isinstance(plain, BioimageioModel) and plain.input_ndim == 2
    geo = plain.geometry
    assert (geo.minimum, geo.step, geo.halo) == ((32, 32), (2, 2), (12, 12))
    test_in = np.load(PLAIN.parent / "test_input.npy")
    np.testing.assert_allclose(plain.predict_maps(test_in[0]), core_predict(PLAIN, test_in[0]),
                               atol=1e-4)  # fmt: skip
    # a larger image, in many tiles (overlap = halo = receptive field: exact)
    big = smooth_image((1, 100, 130), seed=3) + 50
    ours = plain.predict_maps(big, target=32)
    assert ours.shape == (1, 100, 130)
    np.testing.assert_allclose(ours, core_predict(PLAIN, big), atol=1e-4)
    # an image of a size the network does not take: padded inside, no error
    assert plain.predict(big[0, :37, :45]).shape == (1, 37, 45)


@pytest.mark.parametrize("fmt", ["pytorch_state_dict", "torchscript", "onnx"])
def test_biakit_package_equals_core_for_every_weight_format(fmt, exported):
    wf, path = exported("instance")
    model = load_package(path, weight_format=fmt)
    big = smooth_image((1, 70, 90), seed=5)
    ours = model.predict_maps(big, target=24)
    np.testing.assert_allclose(ours, core_predict(path, big, fmt), atol=1e-4)
    # config.biakit brings back the instance decoding: labels as the workflow makes them
    np.testing.assert_array_equal(model.predict(big), wf.postprocess(ours))


def test_super_resolution_package_runs_whole(exported):
    _, path = exported("super_resolution")
    model = load_package(path)
    assert not model.geometry.same_size
    image = smooth_image((1, 30, 34), seed=2)
    ours = model.predict_maps(image)
    assert ours.shape == (1, 60, 68)
    np.testing.assert_allclose(ours, core_predict(path, image), atol=1e-4)


def test_predict_to_disk_writes_the_prediction(plain, tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "a.tif", smooth_image((40, 48), seed=1))
    report = plain.predict_to_disk(tmp_path / "a.tif", tmp_path / "out")
    assert not report.failures
    written = tifffile.imread(tmp_path / "out" / "a_prediction.tif")
    assert written.squeeze().shape == (40, 48)


def test_import_errors(plain, tmp_path, exported):
    with pytest.raises(ModelFileError, match="has no 'onnx' weights"):
        load_package(PLAIN, weight_format="onnx")
    with pytest.raises(DataError, match="tta is not supported"):
        plain.predict_maps(np.zeros((32, 32), np.float32), tta=True)
    with pytest.raises(DataError, match="takes 1"):
        plain.predict_maps(np.zeros((2, 32, 32), np.float32))
    bad = tmp_path / "rdf.yaml"
    bad.write_text("type: model\nformat_version: 0.5.4\nname: x\n")
    with pytest.raises(ModelFileError, match=r"not a valid bioimage\.io model package"):
        load_package(bad)


def test_format_0_4_package_equals_bioimageio_core():
    v04 = PLAIN.parent / "v0_4.bioimageio.yaml"
    model = load_package(v04)
    assert str(model.descr.format_version).startswith("0.4")
    test_in = np.load(PLAIN.parent / "test_input.npy")
    np.testing.assert_allclose(model.predict_maps(test_in[0]), np.load(PLAIN.parent /
                               "test_output.npy")[0], atol=1e-4)  # fmt: skip
    big = smooth_image((1, 96, 120), seed=4)
    np.testing.assert_allclose(model.predict_maps(big, target=32), core_predict(v04, big),
                               atol=1e-4)  # fmt: skip


def test_geometry_errors(tmp_path):
    import zipfile
    from types import SimpleNamespace

    from bioimageio.spec.model import v0_5

    from biakit.bioimageio._geometry import package_geometry

    one = SimpleNamespace(id="t", axes=[v0_5.BatchAxis()])
    with pytest.raises(ModelFileError, match=r"spatial axes \[\]; biakit runs 2D or 3D"):
        package_geometry(SimpleNamespace(name="m", inputs=[one, one], outputs=[one]))
    index = SimpleNamespace(id="t", axes=[v0_5.BatchAxis(), v0_5.IndexInputAxis(size=5)])
    with pytest.raises(ModelFileError, match="biakit runs batch / time / channel axes"):
        package_geometry(SimpleNamespace(name="m", inputs=[index], outputs=[index]))
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as z:
        z.writestr("readme.txt", "no description")
    with pytest.raises(ModelFileError, match=r"no rdf\.yaml"):
        load_package(tmp_path / "empty.zip")


CAREAMICS = PLAIN.parents[1] / "careamics_n2v.zip"


def test_careamics_export_is_read_and_needs_careamics_to_run():
    """CAREamics exports a state dict whose architecture is careamics' own U-Net."""
    import importlib.util

    from bioimageio.spec import load_model_description

    from biakit.bioimageio import describe_package, is_package
    from biakit.bioimageio._geometry import package_geometry

    assert is_package(CAREAMICS)
    with quiet_bioimageio():
        geo = package_geometry(load_model_description(CAREAMICS, format_version="latest"))
        lines = describe_package(CAREAMICS)
    assert geo.space == ("y", "x") and geo.in_channels == geo.out_channels == 1
    assert any(line.startswith("weights: pytorch_state_dict") for line in lines)
    if importlib.util.find_spec("careamics") is None:
        with pytest.raises(ModelFileError, match="needs that library installed"):
            load_package(CAREAMICS)
    else:  # pragma: no cover - only where CAREamics is installed
        model = load_package(CAREAMICS)
        image = smooth_image((1, 64, 64), seed=6)
        np.testing.assert_allclose(model.predict_maps(image), core_predict(CAREAMICS, image),
                                   atol=1e-4)  # fmt: skip
