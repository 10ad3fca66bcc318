"""``biakit evaluate --task classification``: score a predictions.csv against class labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from biakit.errors import DataError

REPORT_FILES = ("per_image.csv", "report.csv", "confusion_matrix.csv", "confusion_matrix.png",
                "roc_curves.png")  # fmt: skip


def truth_table(gt: Path) -> pd.DataFrame:
    """Return ``key`` (path relative to the class folders' root or the CSV) and ``class``."""
    if gt.is_dir():
        from biakit.io import list_images

        rows = [{"key": f"{d.name}/{p.name}", "class": d.name} for d in sorted(gt.iterdir())
                if d.is_dir() and not d.name.startswith(".") for p in list_images(d)]  # fmt: skip
        if not rows:
            raise DataError(f"{gt}: no images in class sub-folders (expected {gt}/CLASS/*.tif)")
        return pd.DataFrame(rows)
    if gt.suffix.lower() == ".csv" and gt.is_file():
        table = pd.read_csv(gt)
        missing = {"path", "class"} - set(table.columns)
        if missing:
            raise DataError(f"{gt}: missing column(s) {sorted(missing)}; expected path, class")
        return pd.DataFrame({"key": table["path"].astype(str), "class": table["class"].astype(str)})
    raise DataError(f"--gt {gt}: expected a folder of class sub-folders or a CSV (path, class)")


def _match(pred: pd.DataFrame, truth: pd.DataFrame, pred_path: Path) -> pd.DataFrame:
    """Pair prediction rows with truth rows: by relative path, else by unique file name."""
    files = pred["file"].astype(str).str.replace("\\", "/", regex=False)
    keys = truth["key"].str.replace("\\", "/", regex=False)
    by_key = dict(zip(keys, truth["class"]))
    names = keys.map(lambda k: k.rsplit("/", 1)[-1])
    unique = names[~names.duplicated(keep=False)]
    by_name = dict(zip(unique, truth.loc[unique.index, "class"]))
    classes = [by_key.get(f, by_key.get(f.split("/", 1)[-1], by_name.get(f.rsplit("/", 1)[-1])))
               for f in files]  # fmt: skip
    missing = [f for f, c in zip(files, classes) if c is None]
    if missing:
        raise DataError(
            f"{pred_path}: {len(missing)} prediction(s) have no ground truth, e.g. "
            f"{missing[0]!r}; name files as in --gt (CLASS/NAME or the CSV's path)"
        )
    return pred.assign(true_class=classes)


def evaluate_classification(gt: Path, pred: Path, output: Path, *, overwrite: bool) -> str:
    """Score ``pred`` (biakit's predictions.csv) against ``gt``; write the report; return a line."""
    from biakit._outputs import check_outputs, record_outputs, table_files
    from biakit.evaluation._plots import plot_confusion_matrix
    from biakit.measure import write_table
    from biakit.metrics.classification import classification_metrics
    from biakit.visualize import plot_roc_curves
    from biakit.workflows._classification_io import _save_figure

    pred_csv = pred / "predictions.csv" if pred.is_dir() else pred
    if not pred_csv.is_file():
        raise FileNotFoundError(f"{pred_csv}: not found (expected biakit's predictions.csv)")
    table = pd.read_csv(pred_csv)
    cols = [c for c in table.columns if c.startswith("p_")]
    if "file" not in table.columns or not cols:
        raise DataError(f"{pred_csv}: expected columns file and p_CLASS per class (biakit "
                        f"predict's predictions.csv), got {list(table.columns)}")  # fmt: skip
    names = [c[2:] for c in cols]
    paired = _match(table, truth_table(gt), pred_csv)
    unknown = sorted(set(paired["true_class"]) - set(names))
    if unknown:
        raise DataError(f"{gt}: class(es) {unknown} are not among the model's {names}")
    planned = [f for n in REPORT_FILES for f in (table_files(output / n) if n.endswith(".csv")
                                                 else [output / n])]  # fmt: skip
    check_outputs([gt, pred_csv], planned, overwrite=overwrite)
    y = paired["true_class"].map({n: i for i, n in enumerate(names)}).to_numpy()
    probs = paired[cols].to_numpy(float)
    m = classification_metrics(y, probabilities=probs, class_names=names)
    output.mkdir(parents=True, exist_ok=True)
    per_image = pd.DataFrame({"file": paired["file"], "true": y, "predicted": probs.argmax(1)})
    per_image = pd.concat([per_image, paired[cols].reset_index(drop=True)], axis=1)
    write_table(per_image, output / "per_image.csv", overwrite=True)
    write_table(m.report(), output / "report.csv", overwrite=True)
    write_table(m.confusion_table().reset_index(), output / "confusion_matrix.csv", overwrite=True)
    plot_confusion_matrix(np.asarray(m.confusion), np.asarray(m.class_names),
                          output / "confusion_matrix.png")  # fmt: skip
    _save_figure(plot_roc_curves(per_image[["true", *cols]]), output / "roc_curves.png")
    record_outputs(output, planned)
    return (f"{len(y)} images: accuracy {m.accuracy:.4f}, balanced accuracy "
            f"{m.balanced_accuracy:.4f}, macro F1 {m.macro_f1:.4f}, macro ROC AUC "
            f"{m.macro_roc_auc:.4f}")  # fmt: skip
