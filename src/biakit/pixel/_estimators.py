"""The scikit-learn estimators a pixel classifier can use, built from a name."""

from __future__ import annotations

from typing import Any

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
        defaults = {"oob_score": kind == "random_forest", "bootstrap": kind == "random_forest"}
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
