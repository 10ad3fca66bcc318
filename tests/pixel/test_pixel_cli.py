import numpy as np

from biakit.cli import main
from biakit.data import synthetic_nuclei, synthetic_scribbles
from biakit.io import ImageMeta, read_image, write_image


def test_pixel_train_and_predict(tmp_path, capsys):
    for seed in (0, 1):
        s = synthetic_nuclei((96, 96), n_objects=8, seed=seed)
        write_image(tmp_path / "img" / f"a{seed}.tif", s.image, ImageMeta("YX"))
        scribbles = synthetic_scribbles(s.mask, fraction=0.02, seed=seed)
        write_image(tmp_path / "scr" / f"a{seed}_scribbles.tif", scribbles, ImageMeta("YX"))
    model = tmp_path / "model"
    images, scribbles = str(tmp_path / "img"), str(tmp_path / "scr")
    args = ["pixel", "train", "--images", images, "--scribbles", scribbles]
    assert main([*args, "-o", str(model), "--trees", "20", "--cv", "2"]) == 0
    out = capsys.readouterr().out
    assert "out-of-bag" in out and "2-fold" in out
    assert (model / "feature_importances.png").exists()
    assert main([*args, "-o", str(model)]) == 2  # exists
    pred = tmp_path / "pred"
    code = main(["pixel", "predict", str(model), "-i", str(tmp_path / "img"), "-o", str(pred),
                 "--probabilities", "--uncertainty"])  # fmt: skip
    assert code == 0
    labels, _ = read_image(pred / "a0_labels.tif")
    s = synthetic_nuclei((96, 96), n_objects=8, seed=0)
    assert np.mean((np.asarray(labels) == 2) == s.mask) > 0.95
    proba, meta = read_image(pred / "a0_probabilities.tif")
    assert meta.axes == "CYX" and proba.shape == (2, 96, 96)
    assert (pred / "a0_uncertainty.tif").exists() and (pred / "a0_overlay.png").exists()
