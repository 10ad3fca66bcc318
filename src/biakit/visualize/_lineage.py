"""Pictures of tracking results: lineage trees, and movies / montages of tracked objects."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import DataError, ParameterError
from biakit.track._graph import TrackGraph, relabel_masks
from biakit.visualize._overlay import grey_rgb, outline_mask, palette, project


def _check_table(table: np.ndarray) -> np.ndarray:
    table = np.asarray(table, dtype=np.int64)
    table = table.reshape(0, 4) if table.size == 0 else table
    if table.ndim != 2 or table.shape[1] != 4:
        raise DataError(f"table: expected CTC rows 'L B E P' (shape (k, 4)), got {table.shape}")
    return table


def lineage_layout(table: np.ndarray) -> dict[str, np.ndarray]:
    """Place the segments of a CTC table as trees: one column per leaf, parents centred.

    Parameters
    ----------
    table : array-like of int, shape (k, 4)
        ``L B E P`` rows (a parent missing from the table makes a root).

    Returns
    -------
    dict
        ``"x"``: horizontal position of every row, ``"lineage"``: label of its root
        ancestor, ``"roots"``: root labels in drawing order (by first frame, then label).

    Examples
    --------
    >>> lay = lineage_layout([[1, 0, 4, 0], [2, 5, 9, 1], [3, 5, 9, 1], [4, 0, 9, 0]])
    >>> lay["x"].tolist(), lay["lineage"].tolist(), lay["roots"].tolist()
    ([0.5, 0.0, 1.0, 3.0], [1, 1, 1, 4], [1, 4])
    """
    table = _check_table(table)
    k = table.shape[0]
    index = {int(lab): i for i, lab in enumerate(table[:, 0])}
    children: list[list[int]] = [[] for _ in range(k)]
    roots = []
    for i, p in enumerate(table[:, 3].tolist()):
        if p > 0 and p in index and index[p] != i:
            children[index[p]].append(i)
        else:
            roots.append(i)
    key = lambda i: (table[i, 1], table[i, 0])  # noqa: E731
    roots.sort(key=key)
    x = np.full(k, np.nan)
    lineage = np.zeros(k, np.int64)
    next_leaf = 0.0
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            lineage[node] = table[root, 0]
            kids = sorted(children[node], key=key)
            if not kids:
                x[node], next_leaf = next_leaf, next_leaf + 1
            elif done:
                x[node] = float(np.mean(x[kids]))
            else:
                stack.append((node, True))
                stack.extend((kid, False) for kid in reversed(kids))
        next_leaf += 1  # a blank column between trees
    return {"x": x, "lineage": lineage, "roots": table[roots, 0] if roots else np.zeros(0, int)}


def plot_lineage(
    table: np.ndarray,
    *,
    ax: Any = None,
    frame_interval: float = 1.0,
    time_unit: str = "frame",
    lineages: Sequence[int] | None = None,
    show_ids: bool | None = None,
) -> Any:
    """Draw every lineage of a CTC table as a tree, time running down.

    Each segment is a vertical line from its first frame to the end of its last
    frame, in the colour of its label (the colours of :func:`save_track_movie`);
    divisions are dots joined to the daughters by a horizontal bar; a segment that
    continues its parent after a gap hangs from it by a dotted line.

    Parameters
    ----------
    table : array-like of int, shape (k, 4)
        ``L B E P`` rows, e.g. from :func:`biakit.track.to_ctc`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure otherwise.
    frame_interval, time_unit : float, str
        Scale and name of the time axis.
    lineages : sequence of int, optional
        Root labels to draw (default all).
    show_ids : bool, optional
        Write segment labels beside the lines (default: when at most 60 segments).

    Returns
    -------
    ax : matplotlib Axes
        One text per drawn tree, ``"L"`` of its root, with ``gid="lineage"``
        (hidden when there are more than 50 trees).

    Examples
    --------
    >>> ax = plot_lineage([[1, 0, 4, 0], [2, 5, 9, 1], [3, 5, 9, 1], [4, 0, 9, 0]])
    >>> sum(t.get_gid() == "lineage" for t in ax.texts)
    2
    """
    import matplotlib.pyplot as plt

    table = _check_table(table)
    if not (np.isfinite(frame_interval) and frame_interval > 0):
        raise ParameterError(f"frame_interval must be a positive number, got {frame_interval!r}")
    lay = lineage_layout(table)
    keep = np.ones(table.shape[0], bool)
    if lineages is not None:
        unknown = sorted(set(lineages) - set(lay["roots"].tolist()))
        if unknown:
            raise ParameterError(
                f"lineages: {unknown} are not root labels; roots are {lay['roots'].tolist()[:20]}"
            )
        keep = np.isin(lay["lineage"], list(lineages))
    if ax is None:
        n_cols = max(int(np.nanmax(lay["x"][keep], initial=0)) + 1, 1)
        _, ax = plt.subplots(figsize=(min(2 + 0.25 * n_cols, 30), 5))
    show = int(keep.sum()) <= 60 if show_ids is None else show_ids
    index = {int(lab): i for i, lab in enumerate(table[:, 0])}
    colors = palette(np.maximum(table[:, 0] - 1, 0)) / 255.0
    n_children = np.bincount([index[p] for p in table[:, 3] if p in index], minlength=len(table))
    dt = float(frame_interval)
    for i in np.flatnonzero(keep):
        lab, begin, end, parent = table[i].tolist()
        x = lay["x"][i]
        ax.plot([x, x], [begin * dt, (end + 1) * dt], color=colors[i], lw=2, solid_capstyle="butt")
        if show:
            ax.text(x, (begin + 0.2) * dt, f" {lab}", fontsize=7, va="top", color="0.2")
        if parent in index:
            j = index[parent]
            joint = (table[j, 2] + 1) * dt
            style = "-" if n_children[j] >= 2 else ":"
            ax.plot([lay["x"][j], x], [joint, joint], color="0.3", lw=1, ls=style)
            if begin * dt > joint:
                ax.plot([x, x], [joint, begin * dt], color=colors[i], lw=1, ls=":")
        if n_children[i] >= 2:
            ax.plot([x], [(end + 1) * dt], "o", color="0.2", ms=4)
    drawn = [index[int(root)] for root in lay["roots"] if keep[index[int(root)]]]
    for i in drawn:  # root labels are hidden (but kept) when they would overlap
        ax.text(lay["x"][i], table[i, 1] * dt, str(table[i, 0]), ha="center", va="bottom",
                fontsize=8, fontweight="bold", gid="lineage", visible=len(drawn) <= 50)  # fmt: skip
    ax.invert_yaxis() if not ax.yaxis_inverted() else None
    ax.set_xticks([])
    ax.set_ylabel(f"time ({time_unit})")
    ax.set_title(f"{len(drawn)} lineages")
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    return ax


def _predecessors(graph: TrackGraph) -> np.ndarray:
    """Return the latest source linking into each node (-1 for none)."""
    pred = np.full(graph.n_nodes, -1, np.int64)
    if len(graph.edges):
        order = np.argsort(graph.t[graph.edges[:, 0]], kind="stable")
        pred[graph.edges[order, 1]] = graph.edges[order, 0]
    return pred


def track_overlay_frames(
    image: np.ndarray,
    graph: TrackGraph,
    node_track: np.ndarray,
    *,
    masks: np.ndarray | None = None,
    tail: int = 5,
    frames: Sequence[int] | None = None,
    show_ids: bool = True,
    radius: float = 4.0,
) -> np.ndarray:
    """Render tracked objects on every frame: coloured contours, track ids and tails.

    Parameters
    ----------
    image : ndarray
        Movie ``T(Z)YX`` (3D frames are shown as maximum projections).
    graph : TrackGraph
        Detections and links; ``graph.labels`` name the objects of ``masks``.
    node_track : ndarray of int
        Track label of every node (from :func:`biakit.track.to_ctc`); it sets the colour
        (that of label ``L`` in :func:`biakit.visualize.overlay_labels`) and the text.
    masks : ndarray, optional
        Label movie of the same shape; its objects are outlined. Without it, every
        detection is drawn as a circle of ``radius`` pixels.
    tail : int
        Number of earlier positions joined to each detection (following links back
        through gaps and divisions); 0 for none.
    frames : sequence of int, optional
        Frames to render (default all).
    show_ids : bool
        Write the track label beside each detection.
    radius : float
        Circle radius (pixels) for detections without masks.

    Returns
    -------
    ndarray of uint8, shape (n_frames, Y, X, 3)

    Examples
    --------
    >>> from biakit.track import TrackGraph
    >>> g = TrackGraph(t=[0, 1], coords=[[4, 4], [5, 6]], edges=[[0, 1]])
    >>> track_overlay_frames(np.zeros((2, 12, 12)), g, np.array([1, 1])).shape
    (2, 12, 12, 3)
    """
    from PIL import Image, ImageDraw

    image = np.asarray(image)
    node_track = np.asarray(node_track, dtype=np.int64).reshape(-1)
    _check_movie(image, masks, graph, node_track, tail)
    frames = range(image.shape[0]) if frames is None else [int(f) for f in frames]
    ids = relabel_masks(masks, graph, node_track) if masks is not None else None
    pred = _predecessors(graph)
    colors = palette(np.maximum(np.arange(int(node_track.max(initial=0)) + 1) - 1, 0))
    yx = graph.coords[:, -2:]
    out = []
    for f in frames:
        if not 0 <= f < image.shape[0]:
            raise ParameterError(f"frames: {f} is outside the movie's {image.shape[0]} frames")
        lab = ids[f] if ids is not None else np.zeros(image.shape[1:], np.int64)
        grey, lab = project(image[f], lab)
        rgb = grey_rgb(grey)
        edge = outline_mask(lab)
        rgb[edge] = colors[lab[edge]]
        canvas = Image.fromarray(rgb.astype(np.uint8))
        draw = ImageDraw.Draw(canvas)
        for node in np.flatnonzero(graph.t == f):
            color = tuple(int(c) for c in colors[node_track[node]])
            path = [node]
            while len(path) <= tail and pred[path[-1]] >= 0:
                path.append(int(pred[path[-1]]))
            if len(path) > 1:
                draw.line([(yx[n, 1], yx[n, 0]) for n in path], fill=color, width=1)
            y, x = yx[node]
            if ids is None:
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=color)
            if show_ids:
                draw.text((x + radius, y - radius - 4), str(node_track[node]), fill=color)
        out.append(np.asarray(canvas))
    return np.stack(out) if out else np.zeros((0, *image.shape[-2:], 3), np.uint8)


def _check_movie(
    image: np.ndarray,
    masks: np.ndarray | None,
    graph: TrackGraph,
    node_track: np.ndarray,
    tail: int,
) -> None:
    if image.ndim != graph.ndim + 1:
        raise DataError(
            f"image: expected a T(Z)YX movie with {graph.ndim} spatial axes like the "
            f"detections, got shape {image.shape}"
        )
    if masks is not None and np.shape(masks) != image.shape:
        raise DataError(f"masks: expected shape {image.shape} like the image, got {masks.shape}")
    if node_track.size != graph.n_nodes:
        raise DataError(
            f"node_track: expected one label per node ({graph.n_nodes}), got {node_track.size}"
        )
    if int(tail) != tail or tail < 0:
        raise ParameterError(f"tail must be an integer >= 0, got {tail!r}")


def save_track_movie(
    path: str | Path,
    image: np.ndarray,
    graph: TrackGraph,
    node_track: np.ndarray,
    *,
    masks: np.ndarray | None = None,
    tail: int = 5,
    frames: Sequence[int] | None = None,
    fps: float = 5.0,
    columns: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write tracked objects as an animated GIF or a PNG montage (by the file suffix).

    Frames are rendered by :func:`track_overlay_frames`. A ``.gif`` holds one image
    per frame, looping; a ``.png`` is a montage, frames left to right then top to
    bottom in ``columns`` columns (default: about square), separated by 2 white pixels.

    Parameters
    ----------
    path : str or Path
        Output file, ``.gif`` or ``.png``.
    image, graph, node_track, masks, tail, frames
        As in :func:`track_overlay_frames`.
    fps : float
        GIF frame rate.
    columns : int, optional
        Montage columns.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> import tempfile
    >>> from biakit.track import TrackGraph
    >>> g = TrackGraph(t=[0, 1], coords=[[4, 4], [5, 6]], edges=[[0, 1]])
    >>> out = save_track_movie(tempfile.mkdtemp() + "/t.gif", np.zeros((2, 12, 12)), g, [1, 1])
    >>> out.suffix
    '.gif'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".png"):
        raise ParameterError(f"path: expected a .gif or .png file, got {path.name!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"path {path} already exists; pass overwrite=True to replace it")
    if not (np.isfinite(fps) and fps > 0):
        raise ParameterError(f"fps must be a positive number, got {fps!r}")
    rgb = track_overlay_frames(image, graph, node_track, masks=masks, tail=tail, frames=frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        _write_png(path, _montage(rgb, columns))
    else:
        _write_gif(path, rgb, fps)
    return path


def _montage(rgb: np.ndarray, columns: int | None, gap: int = 2) -> np.ndarray:
    n, h, w = rgb.shape[:3]
    if columns is not None and (int(columns) != columns or columns < 1):
        raise ParameterError(f"columns must be an integer >= 1, got {columns!r}")
    cols = int(columns) if columns else max(int(np.ceil(np.sqrt(n))), 1)
    rows = max(int(np.ceil(n / cols)), 1)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, 3), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = rgb[i]
    return out


def _write_png(path: Path, rgb: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(rgb).save(path)


def _write_gif(path: Path, rgb: np.ndarray, fps: float) -> None:
    duration = 1000.0 / fps  # milliseconds per frame
    try:
        import imageio.v3 as iio
    except ImportError:  # pragma: no cover - imageio comes with scikit-image
        from PIL import Image

        images = [Image.fromarray(frame) for frame in rgb]
        images[0].save(path, save_all=True, append_images=images[1:], duration=duration, loop=0)
        return
    iio.imwrite(path, rgb, extension=".gif", duration=duration, loop=0)
