"""Lineage trees and tracked-object movies / montages."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from biakit.errors import DataError, ParameterError
from biakit.track import TrackGraph, from_ctc, to_ctc
from biakit.visualize import (
    lineage_layout,
    palette,
    plot_lineage,
    save_track_movie,
    track_overlay_frames,
)

# Two trees: 1 divides into 2 and 3; 3 divides into 4 and 5; 6 has no children;
# 7 continues 6 after a gap (one child: not a division).
TABLE = [[1, 0, 2, 0], [2, 3, 9, 1], [3, 3, 5, 1], [4, 6, 9, 3], [5, 6, 9, 3],
         [6, 1, 4, 0], [7, 6, 9, 6]]  # fmt: skip


def test_layout_by_hand():
    lay = lineage_layout(TABLE)
    # leaves left to right: 2 (x=0), 4 (1), 5 (2); gap; 7 (4)
    np.testing.assert_allclose(lay["x"], [(0 + 1.5) / 2, 0, 1.5, 1, 2, 4, 4])
    assert lay["lineage"].tolist() == [1, 1, 1, 1, 1, 6, 6]
    assert lay["roots"].tolist() == [1, 6]


def test_layout_orphan_parent_is_a_root():
    lay = lineage_layout([[5, 2, 3, 9]])  # parent 9 not in the table
    assert lay["roots"].tolist() == [5] and lay["x"].tolist() == [0.0]


def _count_lineage_texts(ax):
    return sum(t.get_gid() == "lineage" for t in ax.texts)


def test_plot_draws_one_tree_per_root_and_saves(tmp_path):
    ax = plot_lineage(TABLE, frame_interval=0.5, time_unit="h")
    assert _count_lineage_texts(ax) == 2
    assert ax.get_ylabel() == "time (h)" and ax.yaxis_inverted()
    # 7 segment lines, 5 parent links (2 division bars x 2 + 1 gap link), 1 gap drop, 2 dots
    assert len(ax.lines) == 7 + 5 + 1 + 2
    bottoms = sorted(max(line.get_ydata()) for line in ax.lines)
    assert bottoms[-1] == (9 + 1) * 0.5
    out = tmp_path / "tree.png"
    ax.figure.savefig(out)
    with Image.open(out) as png:
        assert png.size[0] > 0
    plt.close(ax.figure)


def test_plot_selected_lineages_on_given_axes():
    fig, ax = plt.subplots()
    assert plot_lineage(TABLE, ax=ax, lineages=[6], show_ids=False) is ax
    assert _count_lineage_texts(ax) == 1 and len(ax.texts) == 1
    assert ax.get_title() == "1 lineages"
    with pytest.raises(ParameterError, match=r"lineages: \[2\] are not root labels"):
        plot_lineage(TABLE, ax=ax, lineages=[2])
    with pytest.raises(ParameterError, match="frame_interval must be a positive"):
        plot_lineage(TABLE, ax=ax, frame_interval=0)
    with pytest.raises(DataError, match="table: expected CTC rows"):
        plot_lineage([[1, 2, 3]], ax=ax)
    plt.close(fig)


def _movie():
    """Square 3x3 objects: track 1 moves right and divides into 2 and 3 at frame 2."""
    masks = np.zeros((4, 24, 24), np.uint16)
    masks[0, 5:8, 3:6] = 1
    masks[1, 5:8, 7:10] = 1
    masks[2, 3:6, 11:14] = 2
    masks[2, 12:15, 11:14] = 3
    masks[3, 3:6, 15:18] = 2
    masks[3, 12:15, 15:18] = 3
    table = [[1, 0, 1, 0], [2, 2, 3, 1], [3, 2, 3, 1]]
    image = (masks > 0).astype(np.float32) * 10 + 1
    return image, masks, from_ctc(masks, table)


def test_overlay_frames_contours_tails_and_colours():
    image, masks, g = _movie()
    node_track, _ = to_ctc(g)
    rgb = track_overlay_frames(image, g, node_track, masks=masks, tail=3, show_ids=False)
    assert rgb.shape == (4, 24, 24, 3) and rgb.dtype == np.uint8
    colors = palette([0, 1, 2])  # labels 1, 2, 3
    assert np.array_equal(rgb[0, 5, 3], colors[0])  # contour of track 1 in frame 0
    assert np.array_equal(rgb[3, 12, 15], colors[2])  # contour of track 3 in frame 3
    # frame 3: track 3's tail runs back through frame 2 to its mother in frame 1 (6, 8)
    tail_pixels = np.all(rgb[3] == colors[2], axis=-1)
    assert tail_pixels[6:14, 8:13].sum() > 3
    # no tail when tail=0: only contours
    bare = track_overlay_frames(image, g, node_track, masks=masks, tail=0, show_ids=False)
    assert not np.all(bare[3, 9, 10] == colors[2])
    assert np.all(rgb[3, 0, 0] == rgb[3, 0, 0, 0])  # background stays grey


def test_overlay_points_without_masks_and_3d():
    g = TrackGraph(t=[0, 1, 1], coords=[[1, 8, 8], [1, 6, 12], [2, 12, 12]],
                   edges=[[0, 1], [0, 2]])  # fmt: skip
    node_track, _ = to_ctc(g)
    rgb = track_overlay_frames(np.zeros((2, 3, 20, 20)), g, node_track, radius=3)
    assert rgb.shape == (2, 20, 20, 3)
    assert np.array_equal(rgb[0, 8, 5], palette([0])[0])  # circle of radius 3 around (8, 8)
    one = track_overlay_frames(np.zeros((2, 3, 20, 20)), g, node_track, frames=[1])
    assert one.shape == (1, 20, 20, 3)


def test_gif_has_one_image_per_frame(tmp_path):
    image, masks, g = _movie()
    node_track, _ = to_ctc(g)
    out = save_track_movie(tmp_path / "sub" / "tracks.gif", image, g, node_track, masks=masks)
    with Image.open(out) as gif:
        assert gif.n_frames == 4 and gif.size == (24, 24)
        assert gif.info.get("loop") == 0 and gif.info.get("duration") == 200
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        save_track_movie(out, image, g, node_track)
    save_track_movie(out, image, g, node_track, frames=[0, 2], overwrite=True, fps=10)
    with Image.open(out) as gif:
        assert gif.n_frames == 2


def test_png_montage_grid(tmp_path):
    image, masks, g = _movie()
    node_track, _ = to_ctc(g)
    out = save_track_movie(tmp_path / "m.png", image, g, node_track, masks=masks)
    with Image.open(out) as png:
        assert png.size == (2 * 24 + 2, 2 * 24 + 2)  # 4 frames: 2 x 2
    out = save_track_movie(tmp_path / "row.png", image, g, node_track, masks=masks, columns=4)
    with Image.open(out) as png:
        montage = np.asarray(png)
    assert montage.shape == (24, 4 * 24 + 3 * 2, 3)
    assert np.all(montage[:, 24:26] == 255)  # white gap between frames
    single = track_overlay_frames(image, g, node_track, masks=masks)
    np.testing.assert_array_equal(montage[:, 26:50], single[1])


def test_movie_errors(tmp_path):
    image, masks, g = _movie()
    nt = np.ones(g.n_nodes, int)
    cases = [
        (dict(path=tmp_path / "a.mp4"), ParameterError, "expected a .gif or .png file"),
        (dict(fps=0), ParameterError, "fps must be a positive number"),
        (dict(columns=0), ParameterError, "columns must be an integer >= 1"),
        (dict(tail=-1), ParameterError, "tail must be an integer >= 0"),
        (dict(frames=[7]), ParameterError, "frames: 7 is outside the movie's 4 frames"),
        (dict(masks=masks[:2]), DataError, "masks: expected shape"),
        (dict(image=image[0]), DataError, r"image: expected a T\(Z\)YX movie"),
        (dict(node_track=nt[:2]), DataError, "node_track: expected one label per node"),
    ]
    for kwargs, error, match in cases:
        args = dict(path=tmp_path / "a.png", image=image, node_track=nt) | kwargs
        path, img, track = args.pop("path"), args.pop("image"), args.pop("node_track")
        with pytest.raises(error, match=match):
            save_track_movie(path, img, g, track, **args)


def test_many_trees_hide_their_labels():
    table = [[k, 0, 3, 0] for k in range(1, 61)]
    ax = plot_lineage(table, show_ids=False)
    labels = [t for t in ax.texts if t.get_gid() == "lineage"]
    assert len(labels) == 60 and not any(t.get_visible() for t in labels)
    assert ax.get_title() == "60 lineages"
    plt.close(ax.figure)
