"""K-fold cross-validation of any image learner, as a progress generator and a plain function."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from biakit.model_selection._learners import Learner
from biakit.model_selection._metrics import MetricFn, resolve_metric
from biakit.model_selection._split import kfold_indices

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, eq=False)
class FoldResult:
    """Scores of one cross-validation fold (yielded by :func:`iter_cross_validate`).

    Attributes
    ----------
    fold, k : int
        Index of this fold (from 0) and the number of folds.
    train, test : numpy.ndarray
        Indices of the training and test images.
    scores : dict of str to float
        Mean of each metric over the fold's test images.
    per_image : tuple of dict
        ``{"index": i, metric: value, ...}`` for every test image.

    """

    fold: int
    k: int
    train: np.ndarray
    test: np.ndarray
    scores: dict[str, float]
    per_image: tuple[dict[str, Any], ...] = field(default=())


@dataclass(frozen=True, eq=False)
class CrossValidationResult:
    """Per-fold scores of a cross-validation and their mean and spread.

    Attributes
    ----------
    folds : tuple of FoldResult
        One entry per fold.
    mean : dict of str to float
        Mean over folds of each metric.
    std : dict of str to float
        Sample standard deviation over folds (``ddof=1``, i.e. divided by
        ``k - 1``: the spread of a fold score around the mean; ``numpy.std`` and
        scikit-learn examples default to ``ddof=0``, smaller by ``sqrt((k-1)/k)``).

    """

    folds: tuple[FoldResult, ...]
    mean: dict[str, float]
    std: dict[str, float]

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Names of the metrics, in the order the metric returned them."""
        return tuple(self.mean)

    @property
    def fold_scores(self) -> list[dict[str, Any]]:
        """One dict per fold: ``fold``, ``n_train``, ``n_test`` and the metrics."""
        return [
            {"fold": f.fold, "n_train": len(f.train), "n_test": len(f.test), **f.scores}
            for f in self.folds
        ]

    @property
    def image_scores(self) -> list[dict[str, Any]]:
        """One dict per test image: ``fold``, ``index`` and the metrics."""
        return [{"fold": f.fold, **row} for f in self.folds for row in f.per_image]

    def to_dataframe(self, *, per_image: bool = False) -> pd.DataFrame:
        """Per-fold scores (or per-image scores) as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.image_scores if per_image else self.fold_scores)


def _check_inputs(images: Sequence[Any], targets: Sequence[Any]) -> int:
    """Return the number of images, checking that targets match."""
    try:
        n, n_targets = len(images), len(targets)
    except TypeError:
        raise TypeError("images and targets must be sequences (lists or stacked arrays)") from None
    if n != n_targets:
        raise ValueError(
            f"images has {n} items but targets has {n_targets}; pass one target per image"
        )
    return n


def _new_learner(make_learner: Callable[[], Any]) -> Any:
    """Call the factory and check the result has ``fit`` and ``predict``."""
    if not callable(make_learner):
        hint = ""
        if hasattr(make_learner, "fit"):
            hint = " (got a learner instance; pass a factory such as `lambda: learner`)"
        raise TypeError(
            f"make_learner must be a callable returning a new learner{hint}, "
            f"got {type(make_learner).__name__}"
        )
    learner = make_learner()
    if type(learner).__module__.startswith("sklearn."):
        raise TypeError(
            f"make_learner() returned the scikit-learn estimator {type(learner).__name__}, which "
            "fits feature matrices, not images; wrap it: "
            "lambda: biakit.model_selection.SklearnLearner(estimator)"
        )
    if not isinstance(learner, Learner):
        missing = [m for m in ("fit", "predict") if not callable(getattr(learner, m, None))]
        raise TypeError(
            f"make_learner() returned a {type(learner).__name__} without {' and '.join(missing)}; "
            "a learner needs fit(images, targets) and predict(image) "
            "(wrap scikit-learn estimators in biakit.model_selection.SklearnLearner)"
        )
    return learner


def iter_cross_validate(
    make_learner: Callable[[], Learner],
    images: Sequence[Any],
    targets: Sequence[Any],
    *,
    k: int | Literal["loo"] = 5,
    metric: MetricFn | str | Sequence[str] | None = None,
    seed: int = 0,
    fit_kwargs: Mapping[str, Any] | None = None,
) -> Iterator[FoldResult]:
    """Cross-validate a learner fold by fold, yielding each fold's scores as it finishes.

    Parameters are those of :func:`cross_validate` (without ``progress``).

    Yields
    ------
    result : FoldResult
        Scores of fold ``result.fold`` of ``result.k``.

    Examples
    --------
    >>> class Mean:
    ...     def fit(self, images, targets):
    ...         self.t = np.mean([im.mean() for im in images])
    ...     def predict(self, image):
    ...         return (image > self.t).astype(int)
    >>> ims = [np.array([[0.0, 1.0]])] * 4
    >>> [f.scores["iou"] for f in iter_cross_validate(Mean, ims, [np.array([[0, 1]])] * 4, k=2)]
    [1.0, 1.0]

    """
    n = _check_inputs(images, targets)
    scorer = resolve_metric(metric)
    splits = kfold_indices(n, k, shuffle=True, seed=seed)
    kwargs = dict(fit_kwargs or {})
    names: tuple[str, ...] | None = None
    for fold, (train, test) in enumerate(splits):
        learner = _new_learner(make_learner)
        learner.fit([images[i] for i in train], [targets[i] for i in train], **kwargs)
        rows = []
        for i in test:
            scores = scorer(targets[i], learner.predict(images[i]))
            if names is None:
                names = tuple(scores)
            elif tuple(scores) != names:
                raise ValueError(
                    f"metric returned keys {tuple(scores)} for image {int(i)} but {names} before; "
                    "a metric must return the same keys for every image"
                )
            rows.append({"index": int(i), **scores})
        means = {m: float(np.mean([r[m] for r in rows])) for m in names or ()}
        yield FoldResult(fold, len(splits), train, test, means, tuple(rows))


def cross_validate(
    make_learner: Callable[[], Learner],
    images: Sequence[Any],
    targets: Sequence[Any],
    *,
    k: int | Literal["loo"] = 5,
    metric: MetricFn | str | Sequence[str] | None = None,
    seed: int = 0,
    fit_kwargs: Mapping[str, Any] | None = None,
    progress: Callable[[FoldResult], Any] | None = None,
) -> CrossValidationResult:
    """K-fold cross-validation of any learner over a list of images.

    Images are dealt into folds with :func:`kfold_indices` (shuffled with
    ``seed``). For every fold a new learner from ``make_learner()`` is fitted on
    the training images, predicts each test image, and ``metric(target,
    prediction)`` is computed per image; a fold's score is the mean over its test
    images. ``mean`` and ``std`` (``ddof=1``) summarise the fold scores.

    Parameters
    ----------
    make_learner : callable
        Factory returning a fresh, unfitted :class:`Learner` (an object with
        ``fit(images, targets)`` and ``predict(image)``), e.g. a class, or
        ``lambda: SklearnLearner(RandomForestClassifier(random_state=0))``. Seed
        the learner's own randomness inside the factory for repeatable results.
    images, targets : sequence
        Images and their targets (label images for the default metric).
    k : int or "loo"
        Number of folds (``2 <= k <= len(images)``) or ``"loo"`` (leave-one-out).
    metric : callable, str, sequence of str or None
        ``None``: foreground IoU, Dice and pixel accuracy (0 = background; a
        ratio 0/0 counts as 1.0). A name or names among ``iou``, ``dice``, ``f1``,
        ``precision``, ``recall``, ``accuracy``. Or a callable ``metric(y_true,
        y_pred)`` returning a dict of floats, a dataclass with float fields or
        a number.
    seed : int
        Seed of the fold assignment; the same seed gives the same folds.
    fit_kwargs : dict, optional
        Extra keyword arguments for ``fit``.
    progress : callable, optional
        Called with each :class:`FoldResult` as its fold finishes.

    Returns
    -------
    result : CrossValidationResult
        Per-fold and per-image scores, ``mean`` and ``std`` per metric.

    Raises
    ------
    ValueError
        If ``k`` is out of range or images and targets differ in length.
    TypeError
        If ``make_learner`` is not callable or returns an object without
        ``fit`` / ``predict``.

    Examples
    --------
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from biakit.model_selection import SklearnLearner
    >>> rng = np.random.default_rng(0)
    >>> ims = [rng.random((8, 8)) for _ in range(4)]
    >>> labs = [(im > 0.5).astype(int) for im in ims]
    >>> res = cross_validate(lambda: SklearnLearner(DecisionTreeClassifier(random_state=0)),
    ...                      ims, labs, k=2, metric="accuracy")
    >>> res.mean["accuracy"] > 0.9
    True

    """
    folds = []
    for result in iter_cross_validate(
        make_learner, images, targets, k=k, metric=metric, seed=seed, fit_kwargs=fit_kwargs
    ):
        folds.append(result)
        if progress is not None:
            progress(result)
    names = tuple(folds[0].scores)
    table = np.array([[f.scores[m] for m in names] for f in folds], dtype=float)
    mean = dict(zip(names, table.mean(axis=0).tolist()))
    std = dict(zip(names, table.std(axis=0, ddof=1).tolist()))
    return CrossValidationResult(tuple(folds), mean, std)
