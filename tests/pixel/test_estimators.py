"""Out-of-bag votes computed after the fit, against scikit-learn's own."""

import warnings

import numpy as np
import pytest

from biakit.pixel import make_estimator
from biakit.pixel._estimators import oob_decision


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int) + (X[:, 1] > 1)
    return X, y


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_oob_decision_equals_sklearn_where_it_has_votes(class_weight):
    X, y = _data()
    ours = make_estimator("random_forest", n_estimators=3, seed=4, class_weight=class_weight)
    ours.fit(X, y)
    theirs = make_estimator(
        "random_forest", n_estimators=3, seed=4, class_weight=class_weight,
        params={"oob_score": True},
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3 trees leave rows without votes: sklearn warns
        theirs.fit(X, y)
    d = oob_decision(ours, X)
    voted = np.isfinite(d).all(axis=1)
    # 3 trees: each row is left out by none with probability ~ (1 - 1/e)^3 = 0.25
    assert 0.1 < 1 - voted.mean() < 0.4
    np.testing.assert_allclose(d[voted], theirs.oob_decision_function_[voted], atol=1e-12)
    assert np.all(theirs.oob_decision_function_[~voted] == 0)  # sklearn's zeros: no votes
    np.testing.assert_allclose(d[voted].sum(axis=1), 1.0)


def test_oob_decision_none_without_bootstrap_and_fit_without_warning():
    X, y = _data(100)
    assert oob_decision(make_estimator("extra_trees", n_estimators=2).fit(X, y), X) is None
    rf = make_estimator("random_forest", n_estimators=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rf.fit(X, y)  # few trees, no out-of-bag warning: nothing is scored during the fit
    assert oob_decision(rf, X).shape == (100, 3)
