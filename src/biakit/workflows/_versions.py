"""Library versions recorded beside every saved artefact."""

from __future__ import annotations

import platform


def versions() -> dict[str, str]:
    """Versions of Python, biakit and the numerical stack (torch only when imported)."""
    import sys

    import numpy as np

    import biakit

    found = {
        "python": platform.python_version(),
        "biakit": biakit.__version__,
        "numpy": np.__version__,
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        found["torch"] = torch.__version__
    return found
