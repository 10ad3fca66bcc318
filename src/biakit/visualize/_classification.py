"""Pictures of an image classifier: one-vs-rest ROC curves and Grad-CAM heat maps.

* :func:`roc_curves` / :func:`plot_roc_curves`: for each class, the true
  positive rate against the false positive rate as the threshold on
  ``p_class`` falls (one class against the rest), from the per-image table
  of :meth:`ImageClassifier.evaluate`; the area under each curve is the
  one-vs-rest ROC AUC of its report.
* :func:`grad_cam`, :func:`grad_cam_overlay`, :func:`plot_grad_cams`: where
  in the image the network found the evidence for a class (Selvaraju et al.
  2017, "Grad-CAM: Visual explanations from deep networks via gradient-based
  localization"): the feature maps ``A_k`` of the last convolutional stage,
  weighted by the spatial mean of the class logit's gradient
  ``w_k = mean(d y_c / d A_k)``, summed and rectified, ``relu(sum_k w_k A_k)``,
  brought back to the image's pixels. Does the network look at the cell, or
  at the background?
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def roc_curves(y_true: Any, probabilities: Any) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """One-vs-rest ROC curve ``(fpr, tpr)`` per class (None where a side is missing).

    Every distinct score is a threshold (``p >= t`` counts as positive); the
    curves start at ``(0, 0)`` and end at ``(1, 1)``, so their trapezoid area
    is the ROC AUC with ties counted 1/2.

    Examples
    --------
    >>> fpr, tpr = roc_curves([0, 0, 1], [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]])[1]
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 1.0], [0.0, 1.0, 1.0, 1.0])
    """
    from biakit.metrics.classification import _labels

    t = _labels(y_true, "y_true")
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != t.size:
        raise ValueError(
            f"probabilities must have shape (n_images={t.size}, n_classes), got {p.shape}"
        )
    out: list[tuple[np.ndarray, np.ndarray] | None] = []
    for k in range(p.shape[1]):
        pos = t == k
        if pos.all() or not pos.any():
            out.append(None)
            continue
        order = np.argsort(-p[:, k], kind="stable")
        scores, hits = p[order, k], pos[order]
        last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]  # end of each tie run
        tp, fp = np.cumsum(hits)[last], np.cumsum(~hits)[last]
        out.append((np.r_[0.0, fp / fp[-1]], np.r_[0.0, tp / tp[-1]]))
    return out


def _area(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoid area under ``y(x)``."""
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def _evaluation_table(evaluation: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    table = getattr(evaluation, "per_image", evaluation)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected an Evaluation or its per_image table (a DataFrame), "
                        f"got {type(evaluation).__name__}")  # fmt: skip
    columns = [c for c in table.columns if str(c).startswith("p_")]
    if "true" not in table.columns or len(columns) < 2:
        raise ValueError(
            "the table needs a 'true' column (class ids) and a p_NAME column per class, as "
            f"ImageClassifier.evaluate writes; got {list(table.columns)}"
        )
    return table["true"].to_numpy(), table[columns].to_numpy(float), [c[2:] for c in columns]


def plot_roc_curves(evaluation: Any, path: str | Path | None = None, *,
                    title: str | None = None, dpi: int = 100) -> Any:  # fmt: skip
    """Plot one-vs-rest ROC curves of a classifier evaluation; save a PNG when ``path`` is given.

    Parameters
    ----------
    evaluation : Evaluation or pandas.DataFrame
        An :meth:`ImageClassifier.evaluate` result or its ``per_image`` table
        (columns ``true`` and ``p_NAME`` per class, in class-id order).
    path : str or Path, optional
        PNG file to write (folders created).
    title : str, optional
        Figure title (default: the macro ROC AUC).
    dpi : int
        Resolution of the PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> table = pd.DataFrame({"true": [0, 1, 1], "p_a": [.8, .3, .4], "p_b": [.2, .7, .6]})
    >>> fig = plot_roc_curves(table)
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['a (AUC 1.000)', 'b (AUC 1.000)', 'chance']
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    y, probs, names = _evaluation_table(evaluation)
    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.subplots()
    aucs = []
    for name, curve in zip(names, roc_curves(y, probs)):
        if curve is None:
            ax.plot([], [], " ", label=f"{name} (no ROC: one side missing)")
            continue
        auc = _area(*curve)
        aucs.append(auc)
        ax.plot(*curve, lw=1.6, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="0.6", lw=1, label="chance")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel="false positive rate",
           ylabel="true positive rate", aspect="equal")  # fmt: skip
    macro = f"macro AUC {np.mean(aucs):.3f}" if aucs else "no ROC curve"
    ax.set_title(title if title is not None else f"one-vs-rest ROC ({macro})", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig


def _target(classifier: Any, target: int | str | None, logits: Any) -> int:
    names = list(classifier.class_names)
    if target is None:
        return int(logits.argmax())
    if isinstance(target, str):
        if target not in names:
            raise ValueError(f"target {target!r} is not a class; classes: {names}")
        return names.index(target)
    if isinstance(target, bool) or not isinstance(target, int | np.integer):
        raise ValueError(f"target must be a class id, a class name or None, got {target!r}")
    if not 0 <= int(target) < len(names):
        raise ValueError(f"target must be a class id in 0..{len(names) - 1}, got {target}")
    return int(target)


def _back_to_image(cam: np.ndarray, shape: tuple[int, ...], mode: str) -> np.ndarray:
    """Undo ``fit_shape``: a map on the network input back onto the image's pixels."""
    if cam.shape == shape:
        return cam
    if mode == "resize":
        from skimage.transform import resize

        return resize(cam, shape, order=1, anti_aliasing=False, preserve_range=True)
    out = np.zeros(shape, cam.dtype)  # "pad": the image sat centred in the input (or was cut)
    src, dst = [], []
    for n, m in zip(shape, cam.shape):
        k = min(n, m)
        src.append(slice((n - k) // 2, (n - k) // 2 + k))
        dst.append(slice((m - k) // 2, (m - k) // 2 + k))
    out[tuple(src)] = cam[tuple(dst)]
    return out


def _as_maps(act: Any, grad: Any, shape: tuple[int, ...], model: Any) -> tuple[Any, Any]:
    """Feature maps ``(B, K, *grid)``: conv outputs as they are, ViT tokens laid on their grid.

    Tokens ``(B, N, D)`` of a patch transformer (``model.config.patch_size``)
    are put back on the patch grid, a leading class token dropped.
    """
    if act.dim() == len(shape) + 2:
        return act, grad
    patch = getattr(getattr(model, "config", None), "patch_size", None)
    if act.dim() != 3 or patch is None:
        axes = ", ".join("ZYX"[3 - len(shape) :])
        raise ValueError(
            f"the hooked layer gives shape {tuple(act.shape)}; expected feature maps "
            f"(B, K, {axes}) or patch tokens (B, N, D) of a model with config.patch_size"
        )
    grid = tuple(int(s) // int(patch) for s in shape)
    n = int(np.prod(grid))
    if act.shape[1] not in (n, n + 1):
        raise ValueError(f"{act.shape[1]} tokens do not fit the {grid} patch grid")
    act, grad = act[:, -n:], grad[:, -n:]  # drop the class token
    return (act.transpose(1, 2).reshape(act.shape[0], -1, *grid),
            grad.transpose(1, 2).reshape(grad.shape[0], -1, *grid))  # fmt: skip


def grad_cam(classifier: Any, image: Any, *, target: int | str | None = None,
             layer: Any = None) -> np.ndarray:  # fmt: skip
    """Grad-CAM heat map of one image for one class, on the image's pixels, in ``[0, 1]``.

    Parameters
    ----------
    classifier : ImageClassifier
        A trained classifier. Its network's ``blocks`` output is hooked: the
        ResNet's last stage, or a ViT's last tokens, laid back on the patch grid.
    image : array_like
        ``(*spatial)`` or ``(C, *spatial)``, as :meth:`ImageClassifier.predict` takes.
    target : int or str, optional
        Class id or name to explain (default: the predicted class).
    layer : torch.nn.Module, optional
        Module whose output feature maps are used (default ``model.blocks``).

    Returns
    -------
    heat : numpy.ndarray
        float32 of the image's spatial shape, divided by its maximum (all zero
        when no feature map speaks for the class).

    Examples
    --------
    >>> from biakit.data import phenotype_crops
    >>> from biakit.workflows import ClassificationConfig, ImageClassifier
    >>> crops = phenotype_crops(2, (16, 16), seed=0)
    >>> clf = ImageClassifier(ClassificationConfig(input_shape=(16, 16),
    ...     model={"base_filters": 2, "stages": [1]}, train={"epochs": 1}))
    >>> _ = clf.train(crops.images, crops.labels)
    >>> heat = grad_cam(clf, np.pad(crops.images[0], 4))
    >>> heat.shape, float(heat.min()) >= 0, float(heat.max()) <= 1
    ((24, 24), True, True)
    """
    import torch
    import torch.nn.functional as F

    if getattr(classifier, "task", None) != "classification":
        raise TypeError(f"classifier must be an ImageClassifier, got {type(classifier).__name__}")
    classifier._require_trained()
    x = classifier._checked(image, "image")
    shape = np.asarray(image).shape[-classifier.config.ndim :]
    model = classifier.model.eval()
    layer = layer if layer is not None else getattr(model, "blocks", None)
    if layer is None:
        raise ValueError("the network has no 'blocks' stage; pass layer= (a conv module)")
    store: dict[str, Any] = {}
    hook = layer.register_forward_hook(lambda module, args, out: store.update(a=out))
    try:
        with torch.enable_grad():
            device = next(model.parameters()).device
            logits = model(torch.from_numpy(x[None]).to(device))
            cls = _target(classifier, target, logits[0].detach().cpu().numpy())
            (grad,) = torch.autograd.grad(logits[0, cls], store["a"])
    finally:
        hook.remove()
    act, grad = _as_maps(store["a"].detach(), grad, x.shape[1:], model)
    weights = grad.mean(dim=tuple(range(2, grad.dim())), keepdim=True)
    cam = torch.relu((weights * act).sum(dim=1, keepdim=True))
    mode = "bilinear" if cam.dim() == 4 else "trilinear"
    cam = F.interpolate(cam, size=tuple(x.shape[1:]), mode=mode, align_corners=False)
    cam = cam[0, 0].cpu().numpy().astype(np.float32)
    cam = _back_to_image(cam, shape, classifier.config.resize)
    top = float(cam.max())
    return (cam / top if top > 0 else np.zeros_like(cam)).astype(np.float32)


def grad_cam_overlay(image: Any, heat: np.ndarray, *, alpha: float = 0.45,
                     cmap: str = "jet") -> np.ndarray:  # fmt: skip
    """Blend a heat map in ``[0, 1]`` over a grey rendering of the image: RGB uint8.

    The image (first channel; 3D: maximum projection along Z, the heat map
    too) is stretched to its 1st-99th percentiles.

    Examples
    --------
    >>> grad_cam_overlay(np.zeros((4, 5)), np.ones((4, 5))).shape
    (4, 5, 3)
    """
    import matplotlib

    heat = np.asarray(heat, dtype=np.float32)
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == heat.ndim + 1:
        img = img[0]
    if img.shape != heat.shape:
        raise ValueError(f"heat has shape {heat.shape} but the image {img.shape}; expected equal")
    if img.ndim == 3:
        img, heat = img.max(axis=0), heat.max(axis=0)
    lo, hi = np.percentile(img, (1, 99)) if img.size else (0.0, 1.0)
    grey = np.clip((img - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(img)
    colour = matplotlib.colormaps[cmap](np.clip(heat, 0, 1))[..., :3]
    out = (1 - alpha) * grey[..., None] + alpha * colour
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def plot_grad_cams(classifier: Any, images: Sequence[Any], labels: Sequence[Any] | None = None,
                   path: str | Path | None = None, *, n: int = 8, seed: int = 0,
                   dpi: int = 100) -> Any:  # fmt: skip
    """Grad-CAM overlays of a random sample of images (predicted class), with titles.

    Each panel: the image with the heat map of the predicted class, titled
    ``predicted p=0.93`` (and ``true: NAME`` when ``labels`` are given, class
    ids or names). ``n`` images are drawn without replacement with ``seed``.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Also saved as a PNG when ``path`` is given.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive int (images to show), got {n!r}")
    names = list(classifier.class_names)
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"labels has {len(labels)} entries for {len(images)} images")
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(images), size=min(n, len(images)), replace=False))
    cols = min(4, len(picks))
    rows = -(-len(picks) // cols)
    fig = Figure(figsize=(2.4 * cols, 2.6 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, i in zip(axes, picks):
        probs = classifier.predict_maps(images[i])
        k = int(probs.argmax())
        heat = grad_cam(classifier, images[i], target=k)
        ax.imshow(grad_cam_overlay(images[i], heat))
        title = f"{names[k]} p={probs[k]:.2f}"
        if labels is not None:
            true = labels[i] if isinstance(labels[i], str) else names[int(labels[i])]
            title += f"\ntrue: {true}"
        ax.set_title(title, fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig
