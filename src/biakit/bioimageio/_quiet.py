"""Run bioimageio.spec / .core quietly: their own known warnings only, nothing broader."""

from __future__ import annotations

import contextlib
import gc
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def quiet_bioimageio() -> Iterator[None]:
    """Ignore the warnings bioimageio's own code raises, then collect its leaked files.

    * ``ResourceWarning``: bioimageio.spec 0.5 hashes package files through
      handles it never closes (raised when they are freed, inside this block).
    * ``torch.jit.load is deprecated``: bioimageio.core's TorchScript backend.
    * ``Conversion of channel size ...``: bioimageio.spec converting a format 0.4
      output shape given relative to the input.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        warnings.filterwarnings("ignore", message="`torch.jit.load` is deprecated",
                                category=DeprecationWarning)  # fmt: skip
        warnings.filterwarnings("ignore", message="Conversion of channel size from an implicit")
        try:
            yield
        finally:
            gc.collect()


def test_package(source: str | Path, weight_format: str | None = None) -> Any:
    """``bioimageio.core.test_model`` of a package (offline for biakit's packages).

    Returns
    -------
    bioimageio.spec.ValidationSummary
        ``.status == "passed"`` when the package is valid and reproduces its test
        outputs with ``weight_format`` (default: every format it has).

    Examples
    --------
    >>> test_package("model.zip", "onnx").status  # doctest: +SKIP
    'passed'
    """
    from bioimageio.core import test_model

    with quiet_bioimageio():
        return test_model(source, weight_format=weight_format)


test_package.__test__ = False  # not a pytest test
