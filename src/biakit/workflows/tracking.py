"""Tracking: a time-lapse of label images (or points) in, tracks and lineages out.

:class:`Tracker` follows the workflow contract without a network: its
``predict`` links one movie (:func:`biakit.track.track`), ``train`` calibrates
the linker's cut-offs on annotated sequences (CTC ground truth), ``evaluate``
scores with the Cell Tracking Challenge measures, ``predict_to_disk`` writes
what a biologist opens: a valid CTC result folder, a napari tracks CSV, the
per-track table, a lineage plot, a movie and a GEFF graph.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biakit.errors import DataError, ParameterError
from biakit.track import TrackGraph
from biakit.workflows._base import Workflow
from biakit.workflows._disk import FileOutcome, PredictionReport
from biakit.workflows._results import Evaluation
from biakit.workflows._tracking_config import TrackingConfig

_CALIBRATION_MARGIN = 1.25  # cut-offs = the largest annotated value times this


@dataclass(frozen=True, eq=False)
class TrackingResult:
    """One tracked movie.

    Attributes
    ----------
    graph : TrackGraph
        Detections and links (filled detections included).
    node_track : ndarray of int
        CTC segment label of every node.
    table : ndarray of int, shape (k, 4)
        ``L B E P`` rows.
    masks : ndarray or None
        Label images painted with the segment labels (None for points).
    """

    graph: TrackGraph
    node_track: np.ndarray
    table: np.ndarray
    masks: np.ndarray | None

    @property
    def n_tracks(self) -> int:
        """Number of CTC segments."""
        return len(self.table)

    @property
    def n_divisions(self) -> int:
        """Number of mothers with two or more daughters."""
        parents = self.table[:, 3][self.table[:, 3] > 0]
        return int(np.sum(np.bincount(parents) >= 2)) if parents.size else 0


class Tracker(Workflow):
    """Link detections of time-lapses into tracks with divisions.

    Works untrained (cut-offs from each movie's own detections); ``train`` on
    annotated sequences fixes the cut-offs to what the annotations show.

    Examples
    --------
    >>> m = np.zeros((3, 20, 20), np.uint8)
    >>> m[0, 2:5, 2:5] = 1; m[1, 3:6, 3:6] = 1; m[2, 4:7, 4:7] = 4
    >>> result = Tracker().predict(m)
    >>> result.table.tolist()
    [[1, 0, 2, 0]]
    """

    task = "tracking"
    config_class = TrackingConfig

    @property
    def is_trained(self) -> bool:
        """Always: an uncalibrated tracker derives its cut-offs from the data."""
        return True

    # ------------------------------------------------------------------ predict
    def _link_params(self) -> dict[str, Any]:
        params = self.config.linking.model_dump()
        params.update((self.thresholds or {}).get("linking", {}))
        return params

    def _spacing(self, meta_spacing: Sequence[float] | None) -> tuple[float, ...] | None:
        spacing = self.config.spacing
        if spacing is None:
            return tuple(meta_spacing) if meta_spacing is not None else None
        if isinstance(spacing, int | float):
            return (float(spacing),) * self.config.ndim
        if len(spacing) != self.config.ndim:
            raise ParameterError(
                f"spacing: expected {self.config.ndim} values (one per spatial axis), "
                f"got {len(spacing)}"
            )
        return tuple(float(s) for s in spacing)

    def predict(
        self,
        masks: Any = None,
        *,
        points: Any = None,
        image: Any = None,
        spacing: Sequence[float] | None = None,
        frame_interval: float | None = None,
    ) -> TrackingResult:
        """Track one movie of label images ``T(Z)YX`` (or points ``(t, (z,) y, x)``).

        ``spacing`` / ``frame_interval`` are used when the config leaves them
        None (e.g. from the file's metadata).
        """
        from biakit.track import fill_gaps, relabel_masks, to_ctc, track

        if masks is not None:
            masks = np.asarray(masks)
            if masks.ndim != self.config.ndim + 1:
                raise DataError(
                    f"masks: expected a {self.config.ndim}D time-lapse with axes "
                    f"{'TZYX' if self.config.ndim == 3 else 'TYX'}, got shape {masks.shape}"
                )
        interval = self.config.frame_interval or frame_interval or 1.0
        graph = track(masks, points, image, spacing=self._spacing(spacing),
                      frame_interval=interval, **self._link_params())  # fmt: skip
        if self.config.fill_gaps:
            graph, masks = fill_gaps(graph, masks)
        graph = _drop_short(graph, self.config.min_length)
        node_track, table = to_ctc(graph)
        painted = relabel_masks(masks, graph, node_track) if masks is not None else None
        return TrackingResult(graph, node_track, table, painted)

    # -------------------------------------------------------------------- train
    def train(
        self,
        masks: Sequence[Any],
        tables: Sequence[Any],
        *,
        output_dir: str | Path | None = None,
        overwrite: bool = False,
        **_: Any,
    ) -> dict[str, Any]:
        """Calibrate the cut-offs on annotated sequences (CTC ground truth).

        The largest step between consecutive frames (after the mean drift) and
        the largest mother-to-daughter distance seen in the annotations, times
        1.25, become ``max_speed`` and ``split_distance``; divisions are
        looked for only when the annotations have some. Config values the user
        set explicitly are kept.

        Returns
        -------
        dict
            The calibrated linking parameters (also in ``self.thresholds``).
        """
        from biakit.track import from_ctc

        if len(masks) != len(tables) or not len(masks):
            raise DataError(
                f"got {len(masks)} movie(s) and {len(tables)} table(s); need equal, > 0"
            )
        steps, splits, n_divisions = [], [], 0
        spacing = np.asarray(self._spacing(None) or (1.0,) * self.config.ndim)
        for m, tab in zip(masks, tables):
            graph = from_ctc(np.asarray(m), tab)
            s, d, k = _annotated_motion(graph, spacing)
            steps.append(s), splits.append(d)
            n_divisions += k
        step = np.concatenate(steps)
        if step.size < 2:
            raise DataError("the annotations hold fewer than 2 links; nothing to calibrate on")
        interval = self.config.frame_interval or 1.0
        learned: dict[str, Any] = {
            "max_speed": float(step.max() * _CALIBRATION_MARGIN / interval),
            "divisions": bool(n_divisions > 0),
        }
        split = np.concatenate(splits)
        if split.size:
            learned["split_distance"] = float(split.max() * _CALIBRATION_MARGIN)
        user_set = self.config.linking.model_fields_set
        learned = {k: v for k, v in learned.items() if k not in user_set}
        self.thresholds = {"linking": learned}
        self.training = {"movies": len(masks), "links": int(step.size), "divisions": n_divisions}
        if output_dir is not None:
            self.save(output_dir, overwrite=overwrite)
        return learned

    # ----------------------------------------------------------------- evaluate
    def evaluate(
        self, results: Sequence[Any], ground_truth: Sequence[tuple[Any, Any]]
    ) -> Evaluation:
        """Score tracking results against CTC ground truth (masks, ``L B E P`` table).

        ``results`` holds :class:`TrackingResult` objects or ``(masks, table)``
        pairs. Per movie and pooled: DET, TRA, LNK, CT, TF, BC(0..3), CCA as
        py-ctcmetrics computes them (pooled = mean over movies).
        """
        from biakit.metrics import tracking_metrics

        if len(results) != len(ground_truth) or not len(results):
            raise DataError(
                f"got {len(results)} result(s) and {len(ground_truth)} ground truth(s); need equal"
            )
        rows, metrics = [], []
        for i, (res, gt) in enumerate(zip(results, ground_truth)):
            res_masks, res_table = (
                (res.masks, res.table) if isinstance(res, TrackingResult) else res
            )
            if res_masks is None:
                raise DataError(f"results[{i}]: tracked from points; CTC measures need masks")
            scores = tracking_metrics(gt[0], gt[1], res_masks, res_table)
            metrics.append(scores)
            rows.append({"image": i, **scores.as_dict()})
        table = pd.DataFrame(rows)
        numeric = table.drop(columns="image").apply(pd.to_numeric, errors="coerce")
        summary = numeric.mean().to_frame().T
        return Evaluation(self.task, tuple(metrics), table, summary)

    # ---------------------------------------------------------- predict_to_disk
    def iter_predict_to_disk(  # type: ignore[override]
        self,
        inputs: Any,
        output_dir: str | Path,
        *,
        images: Sequence[str | Path] | None = None,
        overwrite: bool = False,
        axes: str | None = None,
        **_: Any,
    ) -> Iterator[FileOutcome]:
        """Yield one outcome per movie; see :meth:`predict_to_disk`."""
        from biakit.workflows._tracking_disk import iter_track_to_disk

        return iter_track_to_disk(self, inputs, output_dir, images=images,
                                  overwrite=overwrite, axes=axes)  # fmt: skip

    def predict_to_disk(  # type: ignore[override]
        self,
        inputs: Any,
        output_dir: str | Path,
        *,
        images: Sequence[str | Path] | None = None,
        overwrite: bool = False,
        axes: str | None = None,
        **_: Any,
    ) -> PredictionReport:
        """Track every movie and write its outputs into ``output_dir``.

        Parameters
        ----------
        inputs : path or list of paths
            Label movies (a ``TYX``/``TZYX`` file, a folder of per-frame
            files, a CTC ``SEQ_RES`` / ``SEQ_GT`` folder) or point CSVs
            (columns ``t``/``axis-0``, then ``(z,) y, x``).
        output_dir : path
            Receives per movie ``NAME_RES/`` (CTC result: ``maskNNN.tif`` +
            ``res_track.txt``), ``NAME_tracks.csv`` (napari tracks: track_id,
            t, (z,) y, x, parent), ``NAME_track_table.csv`` (one row per
            track, physical units), ``NAME_lineage.png``, ``NAME_tracks.gif``
            and ``NAME.geff`` as configured.
        images : list of paths, optional
            Intensity movies, one per input (mean intensities, movie backdrop).
        overwrite : bool
            Replace outputs of an earlier run (inputs are never touched).
        axes : str, optional
            Axes of stored stacks without metadata (``"TYX"``).
        """
        from biakit.workflows._tracking_disk import outputs_of

        outcomes = tuple(self.iter_predict_to_disk(inputs, output_dir, images=images,
                                                   overwrite=overwrite, axes=axes))  # fmt: skip
        return PredictionReport(outcomes, outputs_of(outcomes))


def _annotated_motion(graph: TrackGraph, spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Return one-frame steps (physical, drift removed), mother-daughter distances, divisions."""
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    out_deg = graph.out_degree()
    one = (graph.t[dst] - graph.t[src] == 1) & (out_deg[src] == 1)
    delta = (graph.coords[dst[one]] - graph.coords[src[one]]) * spacing
    if len(delta):
        delta = delta - delta.mean(axis=0)
    steps = np.linalg.norm(delta, axis=1)
    split = out_deg[src] >= 2
    dist = np.linalg.norm((graph.coords[dst[split]] - graph.coords[src[split]]) * spacing, axis=1)
    return steps, dist, int(np.sum(out_deg >= 2))


def _drop_short(graph: TrackGraph, min_length: int) -> TrackGraph:
    """Remove connected lineages of fewer than ``min_length`` detections with no division."""
    if min_length <= 1 or graph.n_nodes == 0:
        return graph
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = graph.n_nodes
    adj = coo_matrix((np.ones(len(graph.edges)), tuple(graph.edges.T)), shape=(n, n))
    _, comp = connected_components(adj, directed=False)
    size = np.bincount(comp)
    divides = np.zeros(size.size, bool)
    divides[comp[graph.out_degree() >= 2]] = True
    keep = (size[comp] >= min_length) | divides[comp]
    new_index = np.cumsum(keep) - 1
    edges = graph.edges[keep[graph.edges[:, 0]] & keep[graph.edges[:, 1]]]
    return TrackGraph(
        graph.t[keep],
        graph.coords[keep],
        graph.labels[keep],
        new_index[edges],
        {k: v[keep] for k, v in graph.features.items()},
    )
