"""The demo's HTML report: scores, error counts, overlays, training curves and notes."""

from __future__ import annotations

import html
import os
import platform
import time
from pathlib import Path
from typing import Any

import pandas as pd

from biakit.demo._figures import comparison_figure

_STYLE = (
    "body{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222;line-height:1.4}"
    "table.t{border-collapse:collapse;margin:.5em 0}table.t td,table.t th{padding:4px 10px;"
    "border-bottom:1px solid #ddd;text-align:right}table.t td:first-child,"
    "table.t th:first-child{text-align:left}img{max-width:100%}"
    ".row{display:flex;gap:12px;flex-wrap:wrap}.row figure{margin:0;width:32%}"
    ".row img{width:100%;image-rendering:pixelated}figcaption{font-size:90%;color:#555}"
    ".sw{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;"
    "vertical-align:middle;border:1px solid #888}.fn{font-size:90%;color:#444}"
    ".box{background:#f3f6fa;border-left:4px solid #5a8dc8;padding:6px 12px}"
)

OUTCOME_HELP = (
    "true positive: matched one-to-one to a true object at IoU ≥ 0.5; false positive: a "
    "predicted object matching none; missed: a true object matched by none; merged: one "
    "predicted object holding more than half of each of two or more true objects (its true "
    "objects are outlined); split: one true object holding more than half of each of two or "
    "more predicted objects. Merged and split objects are the false positives and misses that "
    "come from wrong boundaries, so TP + FP + merged + fragments = objects found."
)


def comparison_table(comparison: Any) -> pd.DataFrame:
    """One row per method: F1, accuracy and panoptic quality at IoU 0.5 and 0.75, and time."""
    return pd.DataFrame([r.row() for r in comparison.results])


def error_table(comparison: Any) -> pd.DataFrame:
    """One row per method: the outcome counts at IoU 0.5, pooled over the test images."""
    rows = []
    for r in comparison.results:
        c = r.error_counts
        rows.append({"method": r.method, "true positive": c.tp, "false positive": c.fp,
                     "missed": c.missed, "merged (true objects)": f"{c.merged} ({c.merged_true})",
                     "split (fragments)": f"{c.split} ({c.split_pred})"})  # fmt: skip
    return pd.DataFrame(rows)


def training_sentence(result: Any, minutes: float) -> str:
    """How the deep network's training went, from the Trainer's summary when recorded."""
    summary = result.notes.get("training")
    if not summary:
        return (
            f"The U-Net trained for {result.notes.get('epochs')} epochs "
            f"(time budget {minutes:g} min)."
        )
    text = summary["message"][0].upper() + summary["message"][1:] + "."
    if summary["stop_reason"] == "max_time":
        share = 100 * summary["epochs_done"] / max(summary["epochs_planned"], 1)
        part = f"{share:.0f}%" if share >= 1 else "less than 1%"
        text += (
            f" That is {part} of the planned schedule: the scores above are those of a "
            "network still learning; a longer budget (biakit demo --minutes 10) improves them."
        )
    return text


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _table_html(frame: pd.DataFrame, reasons: dict[int, str] | None = None) -> str:
    """Render ``frame`` as HTML; an empty (NaN) cell shows ``–`` and a footnote saying why."""
    reasons = reasons or {}
    notes: list[str] = []
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for i, row in enumerate(frame.itertuples(index=False)):
        cells = []
        for value in row:
            if _missing(value):
                text = reasons.get(i, "not computed for this row")
                notes += [] if text in notes else [text]
                cells.append(f"<td>–<sup>{notes.index(text) + 1}</sup></td>")
            elif isinstance(value, float):
                cells.append(f"<td>{value:.3f}</td>")
            else:
                cells.append(f"<td>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = f"<table class='t'><tr>{head}</tr>{''.join(body)}</table>"
    if notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        table += f"<ol class='fn'>{items}</ol>"
    return table


def _legend_html(counts: Any = None) -> str:
    from biakit.visualize import error_legend

    return "<p>" + "".join(
        f"<span class='sw' style='background:rgb{c}'></span>{html.escape(t)}"
        for t, c in error_legend(counts)
    ) + "</p>"  # fmt: skip


def _figure(src: str, caption: str) -> str:
    return (
        f"<figure><img src='{html.escape(src)}' alt='{html.escape(caption)}'>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _classical_case(row: Any, output: Path) -> str:
    def rel(path: Path) -> str:
        return Path(os.path.relpath(path, output)).as_posix()

    shape = "x".join(map(str, row.shape))
    projected = " (maximum projection)" if len(row.shape) == 3 else ""
    parts = [f"<h3>{html.escape(row.case)} ({shape}){projected}</h3><div class='row'>"]
    if row.truth_overlay is not None:
        parts.append(_figure(rel(row.truth_overlay), f"ground truth: {row.n_true} objects"))
    parts.append(_figure(rel(row.overlay), f"classical pipeline: {row.n_found} objects"))
    if row.error_overlay is not None:
        parts.append(_figure(rel(row.error_overlay), "outcome of each object at IoU ≥ 0.5"))
    parts.append("</div>")
    if row.errors is not None:
        parts.append(_legend_html(row.errors))
    elif row.note:
        parts.append(f"<p class='fn'>No error overlay: {html.escape(row.note)}.</p>")
    return "".join(parts)


def write_report(output: Path, comparison: Any, classical: list[Any], *, minutes: float) -> Path:
    """Write ``report.html`` and ``comparison.png`` into ``output`` (images by relative path).

    Parameters
    ----------
    output : Path
        The demo's folder (holds ``instance_model/`` and ``classical/``).
    comparison : Comparison
        From :func:`iter_comparison`.
    classical : list of DemoRow
        From :func:`iter_demo`, written under ``output``.
    minutes : float
        The training budget, for the report's text.

    Returns
    -------
    Path
        The report file.
    """
    import biakit
    from biakit._atomic import atomic_write_text
    from biakit.demo._classical import rows_to_frame

    figure = comparison_figure(comparison, output / "comparison.png")
    deep = comparison.results[-1]
    n_test = len(comparison.data.test)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>biakit demo</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>biakit {html.escape(biakit.__version__)} demo</h1>",
        f"<p>{html.escape(time.strftime('%Y-%m-%d %H:%M'))} on {html.escape(platform.node())} "
        f"({html.escape(platform.machine())}, Python {platform.python_version()})</p>",
        "<h2>Instance segmentation of touching nuclei (held-out synthetic images)</h2>",
        f"<p>Scores pooled over the {n_test} test images with StarDist-compatible matching "
        "(F1, accuracy = TP/(TP+FP+FN), panoptic quality) at IoU 0.5 and 0.75.</p>",
        _table_html(comparison_table(comparison)),
        f"<p class='box'>{html.escape(training_sentence(deep, minutes))}</p>",
        "<h3>What each method got right and wrong (IoU ≥ 0.5, all test images)</h3>",
        _table_html(error_table(comparison)),
        f"<p class='fn'>{html.escape(OUTCOME_HELP)}</p>",
        "<h3>Overlays on a held-out image</h3>",
        "<p>Top: the objects each method found; a true nucleus and the object matched to it "
        "have the same colour in every panel. Bottom: each object coloured by its outcome.</p>",
        _legend_html(),
        f"<img src='{figure.name}' alt='plain and error-coded overlays'>",
    ]
    curves = output / "instance_model" / "training" / "curves.png"
    if curves.exists():
        parts += ["<h3>Training curves of the instance U-Net</h3>",
                  f"<img src='{curves.relative_to(output).as_posix()}'>"]  # fmt: skip
    reasons = {i: r.note for i, r in enumerate(classical) if r.note}
    parts += [
        "<h2>Classical pipelines on more images</h2>",
        _table_html(rows_to_frame(classical), reasons),
        *(_classical_case(row, output) for row in classical),
    ]
    painted = [r for r in comparison.results if "painted_fraction" in r.notes]
    if painted:
        share = 100 * painted[0].notes["painted_fraction"]
        parts += ["<h2>Notes</h2><ul>", f"<li>{html.escape(painted[0].method)}: {share:.2f}% "
                  "of the training pixels painted (two rounds of scribbles)</li></ul>"]  # fmt: skip
    parts.append("</body></html>")
    return atomic_write_text(output / "report.html", "\n".join(parts), overwrite=True)
