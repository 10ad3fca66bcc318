"""Save and load pixel classifiers as folders that cannot run code when loaded.

Layout of a model folder::

    config.json   feature spec, classes, classifier, seed, versions, training summary
    model.npz     forests: flat tree arrays (numpy, allow_pickle=False)
    model.skops   other classifiers: skops format, loaded with an explicit type allow-list
"""

from __future__ import annotations

import json
import platform
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from biakit.errors import ModelFileError
from biakit.pixel._estimators import FORESTS

FORMAT = "biakit.pixel_classifier"
FORMAT_VERSION = 1

# Types a saved non-forest classifier may contain; anything else is refused on load.
SKOPS_TRUSTED = [
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.svm._classes.SVC",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.link.Interval",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "builtins.slice",
    "numpy.dtype",
    "numpy.random.mtrand.RandomState",
    "numpy.random._mt19937.MT19937",
    "collections.OrderedDict",
    "math.inf",
]


def _versions() -> dict[str, str]:
    import sklearn

    import biakit

    return {
        "biakit": biakit.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
    }


def save_pixel_classifier(clf: Any, path: Path, *, overwrite: bool) -> Path:
    """Write ``clf`` to the folder ``path`` atomically."""
    from biakit._atomic import atomic_path

    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "features": clf.spec_.to_dict(),
        "feature_names": clf.feature_names_,
        "feature_subset": clf.feature_subset,
        "n_channels": clf.n_channels_,
        "spacing": clf.spacing_,
        "ndim": clf.ndim_,
        "classes": [int(c) for c in clf.classes_],
        "classifier": clf.classifier,
        "params": {
            "n_estimators": clf.n_estimators,
            "max_depth": clf.max_depth,
            "class_weight": clf.class_weight,
            "seed": clf.seed,
        },
        "preset": clf._preset,
        "training": clf.training_,
        "versions": _versions(),
    }
    with atomic_path(path, overwrite=overwrite, directory=True) as tmp:
        (tmp / "config.json").write_text(json.dumps(config, indent=2, default=_jsonable))
        if clf.classifier in FORESTS:
            np.savez_compressed(tmp / "model.npz", **clf.forest_.to_arrays())
        else:
            import skops.io as sio

            sio.dump(clf.estimator_, tmp / "model.skops")
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in config.json")


def load_pixel_classifier(cls: type, path: Path) -> Any:
    """Rebuild a classifier from a folder written by :func:`save_pixel_classifier`."""
    config = read_config(path)
    try:
        return _from_config(cls, path, config)
    except (KeyError, TypeError, AttributeError) as err:
        raise ModelFileError(
            f"{path / 'config.json'}: missing or invalid entry ({type(err).__name__}: {err}); "
            "the model folder is damaged"
        ) from None


def _from_config(cls: type, path: Path, config: dict[str, Any]) -> Any:
    from biakit.features import FeatureSpec

    params = config["params"]
    spec = FeatureSpec.from_dict(config["features"])
    clf = cls(
        config.get("preset") or spec,
        classifier=config["classifier"],
        n_estimators=params["n_estimators"],
        max_depth=params["max_depth"],
        class_weight=params["class_weight"],
        feature_subset=config["feature_subset"],
        seed=params["seed"],
    )
    clf.spec_, clf.ndim_, clf.n_channels_ = spec, config["ndim"], config["n_channels"]
    clf.spacing_ = None if config.get("spacing") is None else tuple(config["spacing"])
    clf.feature_names_ = list(config["feature_names"])
    clf.columns_ = clf._columns(clf.feature_names_)
    clf.classes_ = np.asarray(config["classes"])
    clf.training_ = config.get("training", {})
    if config["classifier"] in FORESTS:
        from biakit.pixel._forest import FastForest

        file = path / "model.npz"
        try:
            with open(file, "rb") as fh, np.load(fh, allow_pickle=False) as data:
                forest = FastForest.from_arrays(dict(data))
        except FileNotFoundError:
            raise ModelFileError(f"{file}: missing; the model folder is incomplete") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            raise ModelFileError(f"{file}: not a valid biakit forest ({err})") from None
        _check_classes(forest.classes_, clf.classes_, path)
        clf.forest_, clf.predictor_ = forest, forest.predict_proba
        clf.estimator_ = None
    else:
        clf.estimator_ = _load_skops(path / "model.skops")
        clf.predictor_ = clf.estimator_.predict_proba
    return clf


def read_config(path: Path) -> dict[str, Any]:
    """Read and check ``config.json`` of a model folder."""
    file = path / "config.json"
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: model folder not found")
    try:
        config = json.loads(file.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{file}: missing; is {path} a biakit pixel classifier?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{file}: not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{file}: expected a JSON object, got {type(config).__name__}")
    if config.get("format") != FORMAT:
        raise ValueError(f"{file}: not a biakit pixel classifier (format {config.get('format')!r})")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{file}: written by a newer biakit (format {config['format_version']}); upgrade biakit"
        )
    return config


def _check_classes(found: np.ndarray, expected: np.ndarray, path: Path) -> None:
    if not np.array_equal(np.asarray(found), expected):
        raise ValueError(f"{path}: model classes {list(found)} differ from config {list(expected)}")


def _load_skops(file: Path) -> Any:
    import skops.io as sio

    if not file.is_file():
        raise FileNotFoundError(f"{file}: missing")
    untrusted = [t for t in sio.get_untrusted_types(file=file) if t not in SKOPS_TRUSTED]
    if untrusted:
        raise ValueError(f"{file}: refuses to load unexpected types {untrusted}")
    return sio.load(file, trusted=SKOPS_TRUSTED)
