import json

import networkx as nx
import numpy as np
import pytest
import zarr

from biakit.data import synthetic_lineage
from biakit.io import (
    ImageReadError,
    ImageWriteError,
    geff_track_ids,
    read_geff,
    read_geff_metadata,
    write_geff,
)
from biakit.track import TrackGraph, to_ctc


@pytest.fixture(scope="module")
def lineage():
    return synthetic_lineage(12, (64, 64), n_cells=5, radius=(4, 6), division_probability=0.1,
                             enter_rate=0.3, seed=0)  # fmt: skip


def _assert_same(a: TrackGraph, b: TrackGraph) -> None:
    np.testing.assert_array_equal(a.t, b.t)
    np.testing.assert_allclose(a.coords, b.coords, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.edges, b.edges)


def _check_spec(path):
    """The structural rules of the GEFF 1.x spec (as geff.validate_structure checks them)."""
    root = zarr.open_group(str(path), mode="r")
    meta = root.attrs["geff"]
    assert meta["directed"] is True and meta["geff_version"] == "1.3"
    ids = root["nodes/ids"][...]
    edges = root["edges/ids"][...]
    assert ids.dtype == np.uint64 and edges.dtype == np.uint64 and edges.shape[1:] == (2,)
    assert len(np.unique(ids)) == len(ids) and np.isin(edges, ids).all()
    assert not np.any(edges[:, 0] == edges[:, 1])
    assert len({tuple(e) for e in edges.tolist()}) == len(edges)
    for group, n, key in (("nodes", len(ids), "node_props_metadata"), ("edges", len(edges), None)):
        if f"{group}/props" not in root:
            continue
        props = root[f"{group}/props"]
        declared = meta[key or "edge_props_metadata"]
        assert set(props.group_keys()) == set(declared)
        for name in props.group_keys():
            values = props[name]["values"]
            assert values.shape[0] == n and declared[name]["identifier"] == name
            assert np.dtype(declared[name]["dtype"]) == values.dtype
    for axis in meta["axes"]:
        assert axis["type"] in ("time", "space") and axis["unit"] in ("frame", "pixel")
        values = root[f"nodes/props/{axis['name']}/values"]
        assert values.ndim == 1 and f"nodes/props/{axis['name']}/missing" not in root
    return root, meta


def test_round_trip_2d_and_3d(tmp_path, lineage):
    g3 = synthetic_lineage(6, (12, 40, 40), n_cells=4, radius=(3, 4), sigma=(1, 2, 2),
                           division_probability=0.15, seed=0).graph  # fmt: skip
    for k, g in enumerate((lineage.graph, g3)):
        for fmt in (2, 3):
            out = write_geff(tmp_path / f"g{k}_{fmt}.geff", g, zarr_format=fmt)
            back = read_geff(out)
            _assert_same(back, g)
            np.testing.assert_array_equal(back.features["area"], g.features["area"])
            _check_spec(out)
    assert (tmp_path / "g0_2.geff" / ".zattrs").exists()  # zarr v2, GEFF's default
    assert (tmp_path / "g0_3.geff" / "zarr.json").exists()


def test_layout_and_metadata(tmp_path, lineage):
    g = lineage.graph
    seg = to_ctc(g)[0]
    out = write_geff(tmp_path / "t.geff", g, spacing=(0.5, 0.25), unit="um", frame_interval=5,
                     time_unit="min", node_props={"ctc_label": seg},
                     edge_props={"score": np.linspace(0, 1, len(g.edges))})  # fmt: skip
    root, meta = _check_spec(out)
    attrs = json.loads((out / ".zattrs").read_text())["geff"]
    assert attrs == meta
    assert [(a["name"], a["unit"], a.get("scale"), a.get("scaled_unit")) for a in meta["axes"]] == [
        ("t", "frame", 5.0, "minute"),
        ("y", "pixel", 0.5, "micrometer"),
        ("x", "pixel", 0.25, "micrometer"),
    ]
    assert meta["axes"][0]["min"] == 0 and meta["axes"][0]["max"] == g.t.max()
    assert meta["track_node_props"] == {"tracklet": "tracklet_id", "lineage": "lineage_id"}
    assert meta["display_hints"]["display_horizontal"] == "x"
    props = root["nodes/props"]
    np.testing.assert_array_equal(root["nodes/ids"][...], np.arange(g.n_nodes))
    np.testing.assert_array_equal(root["edges/ids"][...], g.edges)
    np.testing.assert_array_equal(props["t/values"][...], g.t)
    np.testing.assert_array_equal(props["x/values"][...], g.coords[:, 1])  # pixels, scale aside
    np.testing.assert_array_equal(props["seg_id/values"][...], g.labels)
    np.testing.assert_array_equal(props["ctc_label/values"][...], seg)
    assert meta["node_props_metadata"]["area"]["dtype"] == "int64"
    np.testing.assert_array_equal(read_geff(out).features["ctc_label"], seg)
    assert read_geff_metadata(out)["edge_props_metadata"]["score"]["dtype"] == "float64"


def test_track_ids_follow_geff_definitions(lineage):
    # 0 -> 1 -> 2 ~gap~> 3 is one tracklet (two CTC segments); 4 -> 5 divides into 6 and 7
    g = TrackGraph(
        t=[0, 1, 2, 4, 1, 2, 3, 3],
        coords=np.zeros((8, 2)),
        edges=[[0, 1], [1, 2], [2, 3], [4, 5], [5, 6], [5, 7]],
    )
    tracklet, lineage_id = geff_track_ids(g)
    assert tracklet.tolist() == [1, 1, 1, 1, 2, 2, 3, 4]
    assert lineage_id.tolist() == [1, 1, 1, 1, 2, 2, 2, 2]
    assert to_ctc(g)[0][3] != to_ctc(g)[0][2]
    # against networkx on the synthetic lineage: lineages = weakly connected components
    big = lineage.graph
    tracklet, lineage_id = geff_track_ids(big)
    nxg = nx.DiGraph(big.edges.tolist())
    nxg.add_nodes_from(range(big.n_nodes))
    comps = {frozenset(c) for c in nx.weakly_connected_components(nxg)}
    assert {frozenset(np.flatnonzero(lineage_id == k)) for k in np.unique(lineage_id)} == comps
    # tracklets here are the CTC segments: no gaps in a synthetic ground truth
    seg = to_ctc(big)[0]
    pairs = set(zip(tracklet.tolist(), seg.tolist()))
    assert len(pairs) == len(set(seg.tolist())) == len(set(tracklet.tolist()))


def test_foreign_geff_with_other_ids(tmp_path):
    root = zarr.open_group(str(tmp_path / "f.zarr"), mode="w", zarr_format=2)
    ids = np.array([100, 107, 114, 121], np.uint64)
    root.create_array("nodes/ids", data=ids)
    root.create_array("edges/ids", data=np.array([[107, 121], [100, 107]], np.uint64))
    for name, values in {"t": [0, 1, 2, 2], "y": [1.0, 1.5, 2.0, 5.0], "x": [2.0, 2.5, 3, 6],
                         "score": [0.1, 0.2, 0.3, 0.4]}.items():  # fmt: skip
        root.create_array(f"nodes/props/{name}/values", data=np.asarray(values))
    root.attrs["geff"] = {"geff_version": "1.0", "directed": True}
    g = read_geff(tmp_path / "f.zarr", spacing=(0.5, 0.5))
    assert g.t.tolist() == [0, 1, 2, 2] and g.edges.tolist() == [[1, 3], [0, 1]]
    assert g.coords.tolist() == [[2, 4], [3, 5], [4, 6], [10, 12]]
    assert g.features["score"].tolist() == [0.1, 0.2, 0.3, 0.4] and not g.labels.any()


def test_empty_graph(tmp_path):
    out = write_geff(tmp_path / "e.geff", TrackGraph(np.zeros(0, int), np.zeros((0, 3))))
    _check_spec(out)
    back = read_geff(out)
    assert back.n_nodes == 0 and back.ndim == 3 and back.edges.shape == (0, 2)


def test_write_errors(tmp_path, lineage):
    g = lineage.graph
    out = write_geff(tmp_path / "a.geff", g)
    with pytest.raises(ImageWriteError, match="already exists"):
        write_geff(out, g)
    write_geff(out, g, overwrite=True, zarr_format=3)
    assert (out / "zarr.json").exists() and not (out / ".zattrs").exists()
    with pytest.raises(ValueError, match="zarr_format"):
        write_geff(tmp_path / "b.geff", g, zarr_format=4)
    with pytest.raises(ValueError, match="spacing"):
        write_geff(tmp_path / "b.geff", g, spacing=(1.0, 0.0))
    with pytest.raises(ValueError, match="frame_interval"):
        write_geff(tmp_path / "b.geff", g, frame_interval=-1)
    with pytest.raises(ValueError, match=r"node_props\['a'\]: expected"):
        write_geff(tmp_path / "b.geff", g, node_props={"a": [1, 2]})
    with pytest.raises(ValueError, match="not a GEFF dtype"):
        write_geff(tmp_path / "b.geff", g, edge_props={"c": np.zeros(len(g.edges), complex)})
    with pytest.raises(ValueError, match="property names"):
        write_geff(tmp_path / "b.geff", g, node_props={"a/b": np.zeros(g.n_nodes)})
    assert not (tmp_path / "b.geff").exists()


def test_read_errors(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(ImageReadError, match=r"plain.*no Zarr group with a 'geff' attribute"):
        read_geff(tmp_path / "plain")
    root = zarr.open_group(str(tmp_path / "bad.zarr"), mode="w", zarr_format=2)
    root.create_array("nodes/ids", data=np.array([1, 2], np.uint64))
    root.create_array("edges/ids", data=np.array([[1, 3]], np.uint64))
    root.create_array("nodes/props/t/values", data=np.array([0.0, 1.5]))
    root.create_array("nodes/props/y/values", data=np.zeros(2))
    root.attrs["geff"] = {"directed": True}
    with pytest.raises(ImageReadError, match=r"bad.zarr.*2 or 3 space axes"):
        read_geff(tmp_path / "bad.zarr")
    root.create_array("nodes/props/x/values", data=np.zeros(2))
    with pytest.raises(ImageReadError, match="frame indices"):
        read_geff(tmp_path / "bad.zarr")
    root["nodes/props/t/values"][...] = [0.0, 1.0]
    with pytest.raises(ImageReadError, match="node id not in nodes/ids"):
        read_geff(tmp_path / "bad.zarr")
