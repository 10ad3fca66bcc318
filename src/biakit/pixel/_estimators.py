"""The scikit-learn estimators a pixel classifier can use, built from a name."""

from __future__ import annotations

from typing import Any

import numpy as np

CLASSIFIERS = ("random_forest", "extra_trees", "gradient_boosting", "svm", "mlp")
FORESTS = ("random_forest", "extra_trees")


def make_estimator(
    kind: str,
    *,
    n_estimators: int = 100,
    max_depth: int | None = None,
    class_weight: str | None = None,
    seed: int = 0,
    n_jobs: int | None = None,
    params: dict[str, Any] | None = None,
) -> Any:
    """Build an unfitted scikit-learn classifier by name.

    Parameters
    ----------
    kind : str
        One of ``random_forest`` (default of :class:`PixelClassifier`),
        ``extra_trees``, ``gradient_boosting`` (histogram gradient boosting),
        ``svm`` (RBF kernel, features standardised) or ``mlp`` (features standardised).
    n_estimators, max_depth : int
        Trees and depth for the forests (``max_iter`` / ``max_depth`` for boosting).
    class_weight : {None, "balanced"}
        Re-weight classes inversely to their number of painted pixels.
    seed : int
        Random state of every stochastic part.
    n_jobs : int, optional
        Threads for training forests.
    params : dict, optional
        Extra keyword arguments for the estimator.

    Returns
    -------
    estimator
        An unfitted scikit-learn classifier.
    """
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    params = dict(params or {})
    if kind not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {kind!r}; valid: {', '.join(CLASSIFIERS)}")
    if class_weight not in (None, "balanced"):
        raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}")
    if kind in FORESTS:
        cls = RandomForestClassifier if kind == "random_forest" else ExtraTreesClassifier
        defaults = {"bootstrap": kind == "random_forest"}  # out-of-bag: oob_decision
        return cls(
            n_estimators=n_estimators,
            max_depth=max_depth,
            class_weight=class_weight,
            random_state=seed,
            n_jobs=n_jobs,
            **(defaults | params),
        )
    if kind == "gradient_boosting":
        return HistGradientBoostingClassifier(
            max_iter=n_estimators, max_depth=max_depth, class_weight=class_weight,
            random_state=seed, **params,
        )  # fmt: skip
    if kind == "svm":
        svc = SVC(kernel="rbf", probability=True, class_weight=class_weight, random_state=seed)
        return make_pipeline(StandardScaler(), svc.set_params(**params))
    mlp = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=500, random_state=seed)
    return make_pipeline(StandardScaler(), mlp.set_params(**params))


def oob_decision(forest: Any, X: np.ndarray) -> np.ndarray | None:
    """Out-of-bag class probabilities of a fitted, bootstrapped forest; NaN rows without votes.

    Each training row is scored by the trees that did not draw it, the way
    scikit-learn's ``oob_decision_function_`` is, except that a row no tree left out
    is NaN (scikit-learn gives it zeros and a warning). Computed after the fit, so
    fitting needs no ``oob_score`` and raises no warning.

    Parameters
    ----------
    forest : sklearn forest classifier
        Fitted with ``bootstrap=True``; anything else returns None.
    X : ndarray, shape (n_samples, n_features)
        The rows it was fitted on.

    Returns
    -------
    ndarray or None
        ``(n_samples, n_classes)`` probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.r_[np.zeros((20, 1)), np.ones((20, 1))]; y = np.r_[[0] * 20, [1] * 20]
    >>> rf = make_estimator("random_forest", n_estimators=20).fit(X, y)
    >>> d = oob_decision(rf, X)
    >>> d.shape, bool(np.all(np.nan_to_num(d[:20, 0], nan=1.0) == 1.0))
    ((40, 2), True)
    """
    if not getattr(forest, "bootstrap", False) or not hasattr(forest, "estimators_"):
        return None
    n = X.shape[0]
    votes = np.zeros((n, len(forest.classes_)))
    counts = np.zeros(n, np.int64)
    for tree, drawn in zip(forest.estimators_, forest.estimators_samples_):
        left_out = np.ones(n, bool)
        left_out[drawn] = False
        rows = np.flatnonzero(left_out)
        votes[rows] += tree.predict_proba(X[rows])
        counts[rows] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return votes / counts[:, None]
