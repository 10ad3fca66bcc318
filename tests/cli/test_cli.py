import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from biakit.cli import main
from biakit.data import synthetic_nuclei
from biakit.io import ImageMeta, write_image

CONFIG = """\
name: test
steps:
  - step: gaussian
    sigma: 1.0
  - step: threshold
    method: otsu
  - step: fill_holes
  - step: split_touching
  - step: remove_small_objects
    min_size: 2.0  # square micrometres: the images have 0.3 um pixels
"""


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "images"
    for seed in (0, 1, 2):
        s = synthetic_nuclei((80, 80), n_objects=5, touching=0.0, seed=seed)
        write_image(d / f"n{seed}.tif", s.image, ImageMeta("YX", (0.3, 0.3)))
    return d


def _bk(*args):
    """Run the real console entry point in a subprocess."""
    code = "import sys; from biakit.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)


def test_help_lists_every_verb(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for verb in ("demo", "pipeline", "info", "convert"):
        assert verb in out


def test_pipeline_run_end_to_end(tmp_path, folder, capsys):
    config = tmp_path / "p.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    assert main(["pipeline", "run", str(config), "--input", str(folder), "--output", str(out)]) == 0
    assert "3 image(s), 15 object(s)" in capsys.readouterr().out
    table = pd.read_csv(out / "measurements.csv", comment="#")
    assert len(table) == 15
    for seed in (0, 1, 2):
        assert (out / f"n{seed}_labels.tif").exists() and (out / f"n{seed}_overlay.png").exists()


def test_pipeline_run_with_glob(tmp_path, folder):
    config = tmp_path / "p.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    pattern = str(folder / "n[01].tif")
    assert main(["pipeline", "run", str(config), "-i", pattern, "-o", str(out)]) == 0
    assert len(pd.read_csv(out / "summary.csv", comment="#")) == 2


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing_config", r"nope.yaml: config file not found"),
        ("bad_step", r"unknown step 'otsu'"),
        ("bad_param", r"no parameter 'radius'"),
        ("missing_input", r"missing"),
        ("corrupt_tiff", r"bad.tif"),
    ],
)
def test_user_errors_are_one_line_without_traceback(tmp_path, folder, setup, expected):
    config = tmp_path / "p.yaml"
    config.write_text(CONFIG)
    inputs = str(folder)
    if setup == "missing_config":
        config = tmp_path / "nope.yaml"
    elif setup == "bad_step":
        config.write_text("steps:\n  - step: otsu\n")
    elif setup == "bad_param":
        config.write_text("steps:\n  - step: gaussian\n    radius: 3\n")
    elif setup == "missing_input":
        inputs = str(tmp_path / "missing")
    elif setup == "corrupt_tiff":
        bad = tmp_path / "corrupt"
        bad.mkdir()
        (bad / "bad.tif").write_bytes(b"II*\x00" + bytes(range(256)) * 3)
        inputs = str(bad)
    proc = _bk("pipeline", "run", str(config), "-i", inputs, "-o", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("biakit: error: ")
    import re

    assert re.search(expected, lines[0]), lines[0]


def test_info_and_convert(tmp_path, capsys):
    src = tmp_path / "a.tif"
    write_image(
        src, np.arange(24, dtype=np.uint16).reshape(2, 3, 4), ImageMeta("ZYX", (2.0, 0.5, 0.5))
    )
    assert main(["info", str(src)]) == 0
    out = capsys.readouterr().out
    assert "axes: ZYX" in out and "Z=2" in out
    dst = tmp_path / "a.npy"
    assert main(["convert", str(src), str(dst)]) == 0
    assert np.array_equal(np.load(dst), np.arange(24).reshape(2, 3, 4))
    assert main(["convert", str(src), str(src)]) == 2


def test_info_reads_the_noise(tmp_path, capsys):
    """White noise reads as independent; a 2-channel time-lapse with stripes along X in its
    first channel and frame (the measured one) as correlated along X, with structN2V's line."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(0)
    write_image(tmp_path / "white.tif", rng.normal(100, 5, (96, 96)).astype("f4"), ImageMeta("YX"))
    movie = rng.normal(100, 5, (3, 2, 96, 96))
    movie[0, 0] = 100 + ndi.uniform_filter1d(rng.normal(size=(96, 96)), 3, axis=-1)
    write_image(tmp_path / "striped.tif", movie.astype("f4"), ImageMeta("TCYX"))
    assert main(["info", str(tmp_path / "white.tif")]) == 0
    assert "pixel-wise independent (Noise2Void suits it)" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "striped.tif")]) == 0
    out = capsys.readouterr().out
    assert "correlated along X (structN2V: struct_axis: -1, struct_length: 5)" in out


def test_pipeline_steps_and_template(tmp_path, capsys):
    assert main(["pipeline", "steps"]) == 0
    out = capsys.readouterr().out
    assert "gaussian" in out and "sigma=" in out
    target = tmp_path / "t.yaml"
    assert main(["pipeline", "template", str(target)]) == 0
    from biakit.pipeline import load_config

    assert load_config(target).steps[0].step == "gaussian"
    assert main(["pipeline", "template", str(target)]) == 2  # refuses to overwrite
