"""The test movies of a frame-prediction training run: checked first, scored after training.

``FramePredictor.train(..., test_movies=...)`` (or ``data.test_movies`` of its
config) scores held-out movies with :meth:`FramePredictor.evaluate`'s defaults
and writes the report into the model folder, named as the other tasks' test
reports (see :data:`~biakit.workflows._frame_eval.TEST_REPORT_FILES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biakit.errors import DataError
from biakit.workflows._frame_tools import movie_list
from biakit.workflows._results import Evaluation


def check_test_movies(fp: Any, given: Sequence[Any] | None) -> list[Any]:
    """Return the test movies: ``given``, else the files of ``config.data.test_movies``.

    ``given=()`` means none. Every movie must be longer than the context of
    the first forecast, ``max(n_input, 2)`` frames; this is checked before
    training, so a bad test set fails fast.

    Examples
    --------
    >>> import numpy as np
    >>> from biakit.workflows.frame_prediction import FramePredictor
    >>> [m.shape for m in check_test_movies(FramePredictor(), [np.zeros((5, 8, 8))])]
    [(5, 8, 8)]
    """
    from biakit.workflows._frame_disk import read_movies

    cfg = fp.config
    if given is None:
        source = cfg.data.test_movies if cfg.data is not None else None
        given = read_movies(source) if source else []
    if hasattr(given, "shape") or isinstance(given, str | bytes):
        raise DataError(
            "test_movies must be a list of movies (one (T, *spatial) array per movie), got "
            f"{type(given).__name__}"
        )
    if not len(given):
        return []
    need = max(cfg.n_input, 2)
    for i, m in enumerate(movie_list(given, cfg.ndim, "test_movies")):
        if len(m) <= need:
            raise DataError(
                f"test_movies[{i}] has {len(m)} frames; scoring needs more than "
                f"max(n_input, 2) = {need} (the context of the first forecast)"
            )
    return list(given)  # as given: the default data range follows the dtype (255 for uint8)


def score_test_movies(fp: Any, test: list[Any], folder: Path | None) -> Evaluation:
    """Evaluate ``test`` with the defaults; record the headline, write the report into ``folder``.

    ``fp.training["test"]`` gets the movies' count, ``n_context``, ``horizon``
    and the headline (horizon 1); with ``folder`` (the unfinished model folder)
    and on the main process, the report files are written there.
    """
    from biakit.nn.train import _distributed as dd
    from biakit.workflows._frame_eval import write_test_report

    cfg = fp.config
    ev = fp.evaluate(test)
    fp.training["test"] = {"movies": len(test), "n_context": max(cfg.n_input, 2),
                           "horizon": cfg.forecast_horizon, "headline": ev.headline()}  # fmt: skip
    if folder is not None and dd.distributed_context().is_main:
        write_test_report(ev, folder)
    return ev
