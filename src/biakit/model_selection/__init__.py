"""Splits and cross-validation for image data.

Split a set of images into train / validation / test
(:func:`train_val_test_split`), one large image into spatially disjoint blocks
with leak-proof gaps (:func:`block_split`, :func:`block_kfold`,
:func:`patches_within`), and cross-validate any learner with ``fit(images,
targets)`` / ``predict(image)`` (:func:`cross_validate`,
:func:`iter_cross_validate`; scikit-learn estimators through
:class:`SklearnLearner`). Every random step takes a ``seed``.

Examples
--------
>>> from biakit.model_selection import kfold_indices, train_val_test_split
>>> s = train_val_test_split(20, val=0.1, test=0.2, seed=0)
>>> len(s.train), len(s.val), len(s.test)
(14, 2, 4)
>>> [len(test) for _, test in kfold_indices(10, k=3)]
[4, 3, 3]

"""

from biakit.model_selection._blocks import (
    EXCLUDED,
    TEST,
    TRAIN,
    VAL,
    BlockSplit,
    block_kfold,
    block_split,
    patches_within,
)
from biakit.model_selection._classifier_cv import (
    ClassifierCVResult,
    ClassifierFold,
    cross_validate_classifier,
    iter_cross_validate_classifier,
    stratified_kfold_indices,
)
from biakit.model_selection._cv import (
    CrossValidationResult,
    FoldResult,
    cross_validate,
    iter_cross_validate,
)
from biakit.model_selection._learners import Learner, SklearnLearner
from biakit.model_selection._metrics import default_metric, foreground_metrics
from biakit.model_selection._split import Split, kfold_indices, train_val_test_split

__all__ = [
    "EXCLUDED",
    "TEST",
    "TRAIN",
    "VAL",
    "BlockSplit",
    "ClassifierCVResult",
    "ClassifierFold",
    "CrossValidationResult",
    "FoldResult",
    "Learner",
    "SklearnLearner",
    "Split",
    "block_kfold",
    "block_split",
    "cross_validate",
    "cross_validate_classifier",
    "default_metric",
    "foreground_metrics",
    "iter_cross_validate",
    "iter_cross_validate_classifier",
    "kfold_indices",
    "patches_within",
    "stratified_kfold_indices",
    "train_val_test_split",
]
