import os

import pytest

from biakit._atomic import atomic_path, atomic_write_text


def test_atomic_write_and_refuse(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "one")
    assert target.read_text() == "one"
    with pytest.raises(FileExistsError, match=r"a\.txt: already exists"):
        atomic_write_text(target, "two")
    atomic_write_text(target, "two", overwrite=True)
    assert target.read_text() == "two"
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~umask


def test_failure_leaves_nothing(tmp_path):
    target = tmp_path / "b.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_directory_mode_replaces_folder(tmp_path):
    target = tmp_path / "store.zarr"
    with atomic_path(target, directory=True) as tmp:
        (tmp / "x").write_text("1")
    with atomic_path(target, directory=True, overwrite=True) as tmp:
        (tmp / "y").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["y"]


def test_lazy_top_level_names():
    import biakit

    for name in biakit.__all__:
        if name not in (
            "nn",
            "workflows",
            "SemanticSegmenter",
            "InstanceSegmenter",
            "Detector",
        ):  # need torch; tested in tests/nn
            assert getattr(biakit, name) is not None, name
    with pytest.raises(AttributeError, match=r"has no attribute 'nope'"):
        biakit.nope  # noqa: B018
