"""Lazy package exports: names imported from their sub-module on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any


def lazy_exports(
    package: str, attrs: dict[str, str], eager: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Build a package's ``__getattr__``, ``__dir__`` and ``__all__``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    attrs : dict of str to str
        Exported name -> sub-module (relative to ``package``) that defines it.
    eager : iterable of str
        Names the package already imports itself (listed in ``__all__`` too).

    Returns
    -------
    getattr, dir, all
        To assign to the package's ``__getattr__``, ``__dir__`` and ``__all__``.

    Examples
    --------
    >>> get, names, all_ = lazy_exports("biakit", {"ImageMeta": "io"})
    >>> get("ImageMeta").__name__, all_
    ('ImageMeta', ['ImageMeta'])
    """
    exported = sorted({*attrs, *eager})

    def __getattr__(name: str) -> Any:
        if name in attrs:
            return getattr(importlib.import_module(f"{package}.{attrs[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return exported

    return __getattr__, __dir__, exported
