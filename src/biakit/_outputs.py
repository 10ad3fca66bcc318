"""Output safety: outputs never replace inputs, and ``overwrite`` replaces only biakit's own files.

Every command that writes into a folder records the names of the files it
wrote in a hidden ``.biakit-outputs.json`` in that folder. With
``overwrite=True`` an existing file is replaced only when it is recorded
there: a ground-truth ``x_labels.tif`` that happens to carry an output's
name is never destroyed. All checks run before any work.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

MANIFEST = ".biakit-outputs.json"


def table_files(csv: Path) -> list[Path]:
    """Return a table and its units sidecar, as :func:`biakit.measure.write_table` writes them.

    Examples
    --------
    >>> [p.name for p in table_files(Path("out/summary.csv"))]
    ['summary.csv', 'summary.units.json']
    """
    csv = Path(csv)
    return [csv, csv.with_suffix(".units.json")]


def recorded_outputs(folder: Path) -> set[str]:
    """Names of the files biakit recorded as written into ``folder`` (empty when none)."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return set()
    files = data.get("files") if isinstance(data, dict) else None
    return {str(f) for f in files} if isinstance(files, list) else set()


def record_outputs(folder: Path, written: Iterable[Path]) -> None:
    """Add ``written`` (files inside ``folder``) to the folder's record of biakit outputs."""
    from biakit._atomic import atomic_write_text

    folder = Path(folder)
    names = {Path(p).name for p in written if Path(p).parent.resolve() == folder.resolve()}
    if not names:
        return
    known = recorded_outputs(folder)
    if names <= known:
        return
    text = json.dumps({"written_by": "biakit", "files": sorted(known | names)}, indent=1)
    atomic_write_text(folder / MANIFEST, text + "\n", overwrite=True)


def is_inside(path: Path, folder: Path) -> bool:
    """Tell whether ``path`` is ``folder`` or lies inside it (pass resolved paths)."""
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def check_outputs(
    inputs: Sequence[Path], planned: Sequence[Path], *, overwrite: bool, option: str = "--output"
) -> None:
    """Refuse a run whose outputs would replace an input or a file biakit did not write.

    Parameters
    ----------
    inputs : sequence of Path
        Every input file (or folder) of the run.
    planned : sequence of Path
        Every file the run may write.
    overwrite : bool
        Whether existing outputs may be replaced (only those recorded as biakit's).
    option : str
        Name of the output option, used in messages.

    Raises
    ------
    FileExistsError
        An output is an input (or inside an input folder), two inputs give the
        same output name, an output exists and not ``overwrite``, or it exists
        and biakit has no record of writing it.

    Examples
    --------
    >>> check_outputs([Path("d/x.tif")], [Path("d/x.tif")], overwrite=True)
    Traceback (most recent call last):
    ...
    FileExistsError: d/x.tif: output would replace an input file; choose another --output
    """
    resolved_inputs = [Path(p).resolve() for p in inputs]
    input_set = set(resolved_inputs)
    seen: dict[Path, Path] = {}
    for out in planned:
        out = Path(out)
        real = out.resolve()
        if real in input_set or any(is_inside(real, i) for i in resolved_inputs if i.is_dir()):
            raise FileExistsError(
                f"{out}: output would replace an input file; choose another {option}"
            )
        if real in seen:
            raise FileExistsError(
                f"{out}: two inputs give this output name; rename or split the inputs"
            )
        seen[real] = out
        if not out.exists():
            continue
        if not overwrite:
            raise FileExistsError(
                f"{out}: output exists; pass --overwrite or choose another {option}"
            )
        if out.name not in recorded_outputs(out.parent):
            raise FileExistsError(
                f"{out}: exists and was not written by biakit (no record in "
                f"{out.parent / MANIFEST}); --overwrite replaces only biakit's own outputs: "
                f"move the file or choose another {option}"
            )
