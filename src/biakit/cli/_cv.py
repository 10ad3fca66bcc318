"""``biakit cross-validate``: stratified (group) k-fold cross-validation of a classifier config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from biakit.cli._batch import AxesOption


def _groups(source: str, n: int) -> np.ndarray | None:
    """Return the ``group`` column of a CSV data source (one per image), or None."""
    import pandas as pd

    path = Path(source)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return None
    table = pd.read_csv(path)
    if "group" not in table.columns:
        return None
    groups = table["group"].astype(str).to_numpy()
    if len(groups) != n:
        raise ValueError(f"{path}: the group column has {len(groups)} rows for {n} images")
    return groups


def cross_validate(
    config: Annotated[Path, typer.Argument(help="YAML classification config (task, data, ...).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    folds: Annotated[int, typer.Option("--folds", "-k", help="Number of folds (>= 2).")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment.")] = 0,
    overwrite: Annotated[
        bool, typer.Option(help="Replace the outputs of an earlier run (never inputs).")
    ] = False,
    axes: AxesOption = None,
) -> None:
    """Cross-validate a classification config; write per-fold scores, mean +- sd and plots.

    Every fold trains a new classifier from CONFIG on the other folds and scores
    the held-out one. Folds keep the class proportions; when ``data.images`` is a
    CSV with a ``group`` column (e.g. the source image of each crop), a group is
    never split between folds. Writes ``folds.csv`` (one row per fold),
    ``summary.csv`` (mean and sd of every score), ``predictions.csv`` (out-of-fold
    probabilities of every image), ``report.csv``, ``confusion_matrix.csv/.png``
    and ``roc_curves.png`` of the pooled out-of-fold predictions.
    """
    from biakit._outputs import check_outputs, record_outputs, table_files
    from biakit.cli._progress import track
    from biakit.model_selection import iter_cross_validate_classifier
    from biakit.model_selection._classifier_cv import ClassifierCVResult, _mean_sd, _setup
    from biakit.workflows import load_workflow_config
    from biakit.workflows._classification_io import classification_training_data

    cfg = load_workflow_config(config)
    if cfg.task != "classification":
        raise ValueError(f"{config}: task is {cfg.task!r}; cross-validate takes a classification "
                         "config (task: classification)")  # fmt: skip
    names = ["folds.csv", "summary.csv", "predictions.csv", "report.csv",
             "confusion_matrix.csv", "confusion_matrix.png", "roc_curves.png"]  # fmt: skip
    if cfg.data is None:
        raise ValueError(f"{config}: no 'data' section (data: {{images: CLASS_FOLDERS/ or a CSV}})")
    sources = [config, Path(cfg.data.images)]
    planned = [f for n in names for f in (table_files(output / n) if n.endswith(".csv")
                                          else [output / n])]  # fmt: skip
    check_outputs(sources, planned, overwrite=overwrite)
    (images, labels), _ = classification_training_data(cfg, axes)
    groups = _groups(cfg.data.images, len(images))
    how = f", grouped by {len(set(groups))} groups" if groups is not None else ""
    typer.echo(f"classification: {folds}-fold cross-validation of {len(images)} image(s){how}")
    gen = iter_cross_validate_classifier(cfg, images, labels, k=folds, seed=seed, groups=groups)
    done = list(track(gen, folds, "folds"))
    _, y, classes = _setup(cfg, images, labels, None)
    probs = np.zeros((len(y), len(classes)), np.float32)
    for fold in done:
        probs[fold.test] = fold.probabilities
    mean, std = _mean_sd(done)
    result = ClassifierCVResult(tuple(done), mean, std, classes, y, probs)
    _write(result, output, groups)
    record_outputs(output, planned)
    typer.echo(f"{result.describe('f1')} (macro F1); balanced accuracy "
               f"{mean['balanced_accuracy']:.3f} +- {std['balanced_accuracy']:.3f}")  # fmt: skip
    typer.echo(f"wrote {output}")


def _write(result: Any, output: Path, groups: np.ndarray | None) -> None:
    """Write the fold table, the mean +- sd summary, out-of-fold predictions and the plots."""
    import pandas as pd

    from biakit.evaluation._plots import plot_confusion_matrix
    from biakit.measure import write_table
    from biakit.visualize import plot_roc_curves
    from biakit.workflows._classification_io import _save_figure

    output.mkdir(parents=True, exist_ok=True)
    write_table(result.to_dataframe(), output / "folds.csv", overwrite=True)
    summary = pd.DataFrame({"score": list(result.mean), "mean": list(result.mean.values()),
                            "sd": [result.std[k] for k in result.mean]})  # fmt: skip
    write_table(summary, output / "summary.csv", overwrite=True)
    fold_of = np.empty(len(result.labels), np.int64)
    for fold in result.folds:
        fold_of[fold.test] = fold.fold
    table = pd.DataFrame({"index": np.arange(len(result.labels)), "fold": fold_of,
                          "true": result.labels,
                          "predicted": result.probabilities.argmax(1)})  # fmt: skip
    if groups is not None:
        table.insert(2, "group", groups)
    for k, name in enumerate(result.class_names):
        table[f"p_{name}"] = result.probabilities[:, k]
    write_table(table, output / "predictions.csv", overwrite=True)
    pooled = result.pooled()
    report = pooled.report()
    write_table(report, output / "report.csv", overwrite=True)
    write_table(pooled.confusion_table().reset_index(), output / "confusion_matrix.csv",
                overwrite=True)  # fmt: skip
    plot_confusion_matrix(np.asarray(pooled.confusion), np.asarray(pooled.class_names),
                          output / "confusion_matrix.png")  # fmt: skip
    _save_figure(plot_roc_curves(table[["true", *[f"p_{n}" for n in result.class_names]]]),
                 output / "roc_curves.png")  # fmt: skip
