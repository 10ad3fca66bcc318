"""Architecture source shipped inside a package: one self-contained Python file.

bioimage.io's ``pytorch_state_dict`` weights name a Python file and a callable
that builds the network. biakit's networks live in several modules
(``biakit.nn.models._unet`` imports ``_config`` and ``_layers``), so the file
written here holds a frozen copy of the source of every biakit module the
builder needs, imported under a private, versioned package name
(``_biakit_unet_v1``). The package therefore runs without biakit, and a later
biakit refactor cannot change the network its weights belong to.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

_TEMPLATE = '''"""{summary}

Frozen copy of biakit's architecture {arch_id!r} version {version} (biakit {biakit_version}),
built from the biakit source below under the private package name {prefix!r}.
Needs only PyTorch and pydantic. Call ``{callable_name}(**kwargs)`` with the
architecture's config fields (``ndim``, ``in_channels``, ``out_channels``, ...).
"""

import importlib.abc
import importlib.util
import sys

_PREFIX = {prefix!r}
_SOURCES = {sources!r}


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name != _PREFIX and not name.startswith(_PREFIX + "."):
            return None
        is_package = name not in _SOURCES
        return importlib.util.spec_from_loader(name, self, is_package=is_package)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        source = _SOURCES.get(module.__name__)
        if source is not None:
            exec(compile(source, module.__name__ + ".py", "exec"), module.__dict__)


if not any(isinstance(f, _Finder) and getattr(f, "prefix", None) == _PREFIX
           for f in sys.meta_path):
    _finder = _Finder()
    _finder.prefix = _PREFIX
    sys.meta_path.append(_finder)


def {callable_name}(**kwargs):
    """Build the network from its config fields (returns a ``torch.nn.Module``)."""
    module = importlib.import_module(_PREFIX + ".{module_tail}")
    return getattr(module, {class_name!r})({config_expr})
'''

# a network whose class takes only its validated config (not a mapping) gets it built here
_CONFIG_EXPR = (
    "getattr(importlib.import_module(_PREFIX + {module!r}), {name!r}).model_validate(kwargs)"
)


def _biakit_imports(tree: ast.AST, module: str) -> set[str]:
    """Names of the ``biakit`` modules ``tree`` imports (anywhere, also inside functions)."""
    package = module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "biakit"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base.split(".")[0] == "biakit":
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}  # submodule imports
    return found


def _module_file(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or spec.submodule_search_locations is not None:
        return None  # a package (its __init__ is not needed) or not a module
    return Path(spec.origin)


def collect_sources(module: str) -> dict[str, str]:
    """Source of ``module`` and of every biakit module it imports, transitively.

    Examples
    --------
    >>> sorted(collect_sources("biakit.nn.models._unet"))  # doctest: +ELLIPSIS
    ['biakit.nn.models._config', 'biakit.nn.models._layers', 'biakit.nn.models._unet']
    """
    sources: dict[str, str] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in sources:
            continue
        try:
            file = _module_file(name)
        except (ImportError, ValueError):
            file = None
        if file is None:
            continue
        text = file.read_text()
        sources[name] = text
        todo += sorted(_biakit_imports(ast.parse(text), name) - set(sources))
    return sources


def _rename(source: str, prefix: str) -> str:
    """Point ``biakit`` imports of ``source`` at the private package ``prefix``."""
    lines = []
    for line in source.splitlines(keepends=True):
        stripped = line.lstrip()
        if stripped.startswith(("from biakit.", "import biakit.", "from biakit ")):
            line = line.replace("biakit", f"{prefix}.biakit", 1)
        lines.append(line)
    return "".join(lines)


def architecture_file(arch_id: str, version: int, builder: str, summary: str,
                      config_class: str | None = None) -> tuple[str, str]:  # fmt: skip
    """Return ``(python_source, callable_name)`` of a self-contained architecture file.

    Parameters
    ----------
    arch_id, version : str, int
        The registry id and version the weights belong to (pinned in the names).
    builder : str
        ``"module:Class"`` of the network, taking its config mapping.
    summary : str
        First docstring line.
    config_class : str, optional
        ``"module:Class"`` of the pydantic config, for a network class that takes only
        its validated config: the callable validates ``kwargs`` with it first.
    """
    from biakit.workflows._versions import versions

    module, class_name = builder.split(":")
    prefix = f"_biakit_{arch_id}_v{version}"
    collected = collect_sources(module)
    config_expr = "kwargs"
    if config_class is not None:
        cfg_module, cfg_name = config_class.split(":")
        collected.update(collect_sources(cfg_module))
        config_expr = _CONFIG_EXPR.format(module="." + cfg_module, name=cfg_name)
    sources = {f"{prefix}.{name}": _rename(text, prefix) for name, text in collected.items()}
    callable_name = f"biakit_{arch_id}_v{version}"
    text = _TEMPLATE.format(
        summary=summary, arch_id=arch_id, version=version,
        biakit_version=versions().get("biakit", "?"), prefix=prefix, sources=sources,
        callable_name=callable_name, module_tail=module, class_name=class_name,
        config_expr=config_expr,
    )  # fmt: skip
    return text, callable_name
