"""Stratified (group) k-fold cross-validation of the image classifier, with mean +- sd.

Folds keep the class proportions of the whole set (stratified) and, with
``groups`` (e.g. the source image of every crop), never split a group: all
crops of one image are in the same fold, so a score is never inflated by
near-duplicate crops on both sides. The fold assignment is scikit-learn's
``StratifiedGroupKFold`` heuristic (equal to it with ``shuffle=False``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from biakit.model_selection._cv import CrossValidationResult, FoldResult

if TYPE_CHECKING:
    from biakit.metrics.classification import ClassificationMetrics


def _check_k(k: Any, n_groups: int, what: str) -> int:
    if isinstance(k, bool | np.bool_) or not isinstance(k, int | np.integer) or k < 2:
        raise ValueError(f"k must be an int >= 2 (the number of folds), got {k!r}")
    if k > n_groups:
        raise ValueError(f"k={k} folds need at least {k} {what}, got {n_groups}; lower k")
    return int(k)


def stratified_kfold_indices(
    labels: Sequence[Any] | np.ndarray,
    k: int = 5,
    *,
    groups: Sequence[Any] | np.ndarray | None = None,
    shuffle: bool = True,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train / test indices of stratified k-fold cross-validation, optionally by group.

    Without ``groups`` the items of each class (shuffled with ``seed``) are
    dealt round-robin, one class after the other, so every class and every
    fold size differs by at most one item between folds. With ``groups`` the
    groups are taken in order of decreasing spread of their class counts
    (after a seeded shuffle) and each is put into the fold that keeps the
    per-class fractions ``count[fold, class] / count[class]`` most even
    (smallest mean over classes of their standard deviation over folds; ties:
    the fold with fewer items), as scikit-learn's ``StratifiedGroupKFold``.

    Parameters
    ----------
    labels : sequence
        One class label per item.
    k : int
        Number of folds, ``2 <= k <= number of groups``.
    groups : sequence, optional
        One group id per item (e.g. the source image of a crop); a group is
        never split between folds.
    shuffle : bool
        Shuffle the items or groups (with ``seed``) first; with ``False`` and
        ``groups`` the folds equal scikit-learn's ``StratifiedGroupKFold``.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    folds : list of (train_idx, test_idx)
        Sorted integer arrays; every item is in exactly one test fold.

    Raises
    ------
    ValueError
        If ``k`` is out of range or the lengths differ.

    Examples
    --------
    >>> folds = stratified_kfold_indices([0, 0, 0, 1, 1, 1], 3, shuffle=False)
    >>> [test.tolist() for _, test in folds]
    [[0, 3], [1, 4], [2, 5]]
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"labels must be a non-empty 1D sequence, got shape {y.shape}")
    g = np.asarray(groups) if groups is not None else y
    if g.shape != y.shape:
        raise ValueError(f"groups must have one id per item ({y.size}), got shape {g.shape}")
    _, y_inv, y_cnt = np.unique(y, return_inverse=True, return_counts=True)
    if groups is None:
        return _dealt(y_inv, _check_k(k, y.size, "items"), shuffle, seed)
    _, g_inv = np.unique(g, return_inverse=True)
    n_groups = int(g_inv.max()) + 1
    k = _check_k(k, n_groups, "groups")
    per_group = np.zeros((n_groups, y_cnt.size))
    np.add.at(per_group, (g_inv, y_inv), 1)
    order = np.arange(n_groups)
    if shuffle:
        order = np.random.default_rng(seed).permutation(n_groups)
    order = order[np.argsort(-np.std(per_group[order], axis=1), kind="stable")]
    per_fold = np.zeros((k, y_cnt.size))
    fold_of = np.empty(n_groups, np.intp)
    trial = np.repeat(per_fold[None], k, axis=0)  # trial[f]: per_fold with the group in fold f
    for gi in order:
        counts = per_group[gi]
        trial[:] = per_fold
        trial[np.arange(k), np.arange(k)] += counts
        scores = np.std(trial / y_cnt, axis=1).mean(axis=1)
        sizes = per_fold.sum(axis=1)
        best, best_score, best_size = 0, np.inf, np.inf
        for f in range(k):  # scikit-learn's comparison, tie on the smaller fold
            if scores[f] < best_score or (
                np.isclose(scores[f], best_score) and sizes[f] < best_size
            ):
                best, best_score, best_size = f, scores[f], sizes[f]
        per_fold[best] += counts
        fold_of[gi] = best
    item_fold = fold_of[g_inv]
    return [(np.flatnonzero(item_fold != f).astype(np.intp),
             np.flatnonzero(item_fold == f).astype(np.intp)) for f in range(k)]  # fmt: skip


def _dealt(y_inv: np.ndarray, k: int, shuffle: bool, seed: int) -> list:
    """Items of each class in turn (shuffled within the class), dealt round-robin to the folds."""
    rng = np.random.default_rng(seed)
    per_class = [np.flatnonzero(y_inv == c) for c in range(int(y_inv.max()) + 1)]
    order = np.concatenate([rng.permutation(idx) if shuffle else idx for idx in per_class])
    fold_of = np.empty(y_inv.size, np.intp)
    fold_of[order] = np.arange(y_inv.size) % k
    return [(np.flatnonzero(fold_of != f).astype(np.intp),
             np.flatnonzero(fold_of == f).astype(np.intp)) for f in range(k)]  # fmt: skip


@dataclass(frozen=True, eq=False)
class ClassifierFold(FoldResult):
    """One fold of :func:`cross_validate_classifier`: scores, metrics and probabilities.

    ``scores`` holds the fold's pooled averages (``ClassificationMetrics.summary``
    without ``n_images``); ``per_image`` one row per test image (``index``,
    ``true``, ``predicted``, ``p_NAME``...).
    """

    metrics: ClassificationMetrics | None = None
    probabilities: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class ClassifierCVResult(CrossValidationResult):
    """Cross-validation of a classifier: per-fold scores, mean and sd, out-of-fold predictions.

    Attributes
    ----------
    folds : tuple of ClassifierFold
        One entry per fold (with its :class:`ClassificationMetrics`).
    mean, std : dict of str to float
        Mean and sample standard deviation (``ddof=1``) over folds of each
        score; a score undefined in a fold (ROC AUC without both sides of a
        class) is left out of its mean.
    class_names : tuple of str
    labels : numpy.ndarray
        True class ids of all images.
    probabilities : numpy.ndarray
        Out-of-fold probabilities ``(N, n_classes)``: each image scored by the
        model that did not see it.
    """

    class_names: tuple[str, ...] = ()
    labels: np.ndarray | None = None
    probabilities: np.ndarray | None = None

    def pooled(self) -> ClassificationMetrics:
        """Scores of all out-of-fold predictions together (one confusion matrix)."""
        from biakit.metrics.classification import classification_metrics

        return classification_metrics(self.labels, probabilities=self.probabilities,
                                      class_names=self.class_names)  # fmt: skip

    def describe(self, metric: str = "f1") -> str:
        """Return ``"f1 0.912 +- 0.034 over 5 folds"`` (macro averages)."""
        if metric not in self.mean:
            raise ValueError(f"metric must be one of {list(self.mean)}, got {metric!r}")
        return (f"{metric} {self.mean[metric]:.3f} +- {self.std[metric]:.3f} over "
                f"{len(self.folds)} folds")  # fmt: skip


def _mean_sd(folds: Sequence[FoldResult]) -> tuple[dict[str, float], dict[str, float]]:
    mean, std = {}, {}
    for name in folds[0].scores:
        values = np.array([f.scores[name] for f in folds], dtype=float)
        values = values[np.isfinite(values)]
        mean[name] = float(values.mean()) if values.size else float("nan")
        std[name] = float(values.std(ddof=1)) if values.size > 1 else float("nan")
    return mean, std


def _setup(config: Any, images: Sequence[Any], labels: Sequence[Any],
           class_names: Sequence[str] | None) -> tuple:  # fmt: skip
    from biakit.workflows._classification_config import ClassificationConfig
    from biakit.workflows._classification_io import _class_ids

    if isinstance(config, Mapping):
        config = ClassificationConfig.model_validate(dict(config))
    if not isinstance(config, ClassificationConfig):
        raise TypeError(f"config must be a ClassificationConfig (or a dict of one), "
                        f"got {type(config).__name__}")  # fmt: skip
    if isinstance(images, str | bytes) or hasattr(images, "shape"):
        raise TypeError("images must be a list of images (one array per image)")
    names = class_names or config.class_names
    y, names = _class_ids(labels, names, config.n_classes, "labels")
    if len(y) != len(images):
        raise ValueError(f"images has {len(images)} items but labels has {len(y)}; "
                         "pass one label per image")  # fmt: skip
    return config, y, names


def iter_cross_validate_classifier(
    config: Any,
    images: Sequence[Any],
    labels: Sequence[Any],
    *,
    k: int = 5,
    seed: int = 0,
    groups: Sequence[Any] | None = None,
    class_names: Sequence[str] | None = None,
) -> Iterator[ClassifierFold]:
    """Cross-validate fold by fold, yielding each :class:`ClassifierFold` as it finishes.

    Parameters are those of :func:`cross_validate_classifier` (without ``progress``).
    """
    from biakit.metrics.classification import classification_metrics
    from biakit.workflows.classification import ImageClassifier

    config, y, names = _setup(config, images, labels, class_names)
    splits = stratified_kfold_indices(y, k, groups=groups, seed=seed)
    for fold, (train, test) in enumerate(splits):
        clf = ImageClassifier(config)
        clf.train([images[i] for i in train], y[train], class_names=names)
        probs = clf.predict_proba([images[i] for i in test])
        m = classification_metrics(y[test], probabilities=probs, n_classes=len(names),
                                   class_names=names)  # fmt: skip
        scores = {key: float(v) for key, v in m.summary().items() if key != "n_images"}
        rows = tuple({"index": int(i), "true": int(y[i]), "predicted": int(p.argmax()),
                      **{f"p_{n}": float(v) for n, v in zip(names, p)}}
                     for i, p in zip(test, probs))  # fmt: skip
        yield ClassifierFold(fold, len(splits), train, test, scores, rows, m, probs)


def cross_validate_classifier(
    config: Any,
    images: Sequence[Any],
    labels: Sequence[Any],
    *,
    k: int = 5,
    seed: int = 0,
    groups: Sequence[Any] | None = None,
    class_names: Sequence[str] | None = None,
    progress: Callable[[ClassifierFold], Any] | None = None,
) -> ClassifierCVResult:
    """Stratified (group) k-fold cross-validation of an :class:`ImageClassifier` config.

    For each fold of :func:`stratified_kfold_indices` a new classifier is
    trained from ``config`` on the other folds (its own validation split, class
    weighting and augmentation as configured) and scored on the fold with
    :func:`biakit.metrics.classification.classification_metrics`.

    Parameters
    ----------
    config : ClassificationConfig or dict
        The training configuration (``seed`` seeds every fold's training).
    images : list of array_like
        Images or object crops (any size, as :meth:`ImageClassifier.train` takes).
    labels : sequence of int or str
        Class ids or class names, one per image.
    k : int
        Number of folds.
    seed : int
        Seed of the fold assignment.
    groups : sequence, optional
        Source id per image (e.g. the image a crop came from): a group stays in
        one fold (StratifiedGroupKFold semantics).
    class_names : sequence of str, optional
        Names in class-id order (default: the config's, else from the labels).
    progress : callable, optional
        Called with each :class:`ClassifierFold` as it finishes.

    Returns
    -------
    result : ClassifierCVResult
        Per-fold scores (``accuracy``, ``balanced_accuracy``, macro ``precision``,
        ``recall``, ``f1``, weighted ones, ``roc_auc``), their ``mean`` and
        ``std`` (``ddof=1``), the out-of-fold probabilities; ``describe("f1")``.

    Examples
    --------
    >>> from biakit.data import phenotype_crops
    >>> from biakit.workflows import ClassificationConfig
    >>> crops = phenotype_crops(4, (16, 16), seed=0)
    >>> cfg = ClassificationConfig(input_shape=(16, 16),
    ...     model={"base_filters": 2, "stages": [1]}, train={"epochs": 1})
    >>> res = cross_validate_classifier(cfg, crops.images, crops.labels, k=2)
    >>> len(res.folds), sorted(res.mean)[:3], res.probabilities.shape
    (2, ['accuracy', 'balanced_accuracy', 'f1'], (12, 3))
    """
    folds = []
    for fold in iter_cross_validate_classifier(config, images, labels, k=k, seed=seed,
                                               groups=groups, class_names=class_names):  # fmt: skip
        folds.append(fold)
        if progress is not None:
            progress(fold)
    _, y, names = _setup(config, images, labels, class_names)
    probs = np.zeros((len(y), len(names)), np.float32)
    for fold in folds:
        probs[fold.test] = fold.probabilities
    mean, std = _mean_sd(folds)
    return ClassifierCVResult(tuple(folds), mean, std, names, y, probs)
