"""Synthetic cell-phenotype crops for image classification, classes set by a measurable property.

Each crop holds one cell, centred (with jitter), randomly oriented in the YX
plane, blurred at its edge and noisy. The class decides the shape:

* ``round``: one nucleus, axis ratio 1.0-1.2;
* ``elongated``: one nucleus, axis ratio 2.0-3.0 (same area range as ``round``);
* ``multinucleated``: 2-4 small round nuclei, separated by >= 1.2 radius;
* ``textured``: one round nucleus with 4-8 bright speckles (intensity x1.8).

The measured truth (axis ratio, number of nuclei) is returned with the crops,
so a test can check the classes without the generator's code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from biakit.data._common import as_shape

PHENOTYPES = ("round", "elongated", "multinucleated", "textured")


@dataclass(frozen=True)
class PhenotypeCrops:
    """Crops with their class ids and the properties that define the classes.

    Attributes
    ----------
    images : list of numpy.ndarray
        float32 crops ``(*shape)``.
    labels : numpy.ndarray
        int64 class ids ``(N,)`` (indices into ``class_names``).
    class_names : tuple of str
        The phenotypes, in class-id order.
    axis_ratio : numpy.ndarray
        Long / short semi-axis of each crop's (largest) nucleus.
    n_nuclei : numpy.ndarray
        Nuclei per crop.
    """

    images: list[np.ndarray]
    labels: np.ndarray
    class_names: tuple[str, ...]
    axis_ratio: np.ndarray
    n_nuclei: np.ndarray


def _ellipse(grid: list[np.ndarray], center: np.ndarray, semi: tuple, angle: float,
             edge: float) -> np.ndarray:  # fmt: skip
    """Soft ellipse / ellipsoid, long axis ``semi[-1]`` turned by ``angle`` in YX."""
    d = [g - c for g, c in zip(grid, center)]
    y, x = d[-2], d[-1]
    cos, sin = np.cos(angle), np.sin(angle)
    u, v = cos * x + sin * y, -sin * x + cos * y
    r2 = (u / semi[-1]) ** 2 + (v / semi[-2]) ** 2
    if len(grid) == 3:
        r2 = r2 + (d[0] / semi[-2]) ** 2
    dist = (np.sqrt(r2) - 1.0) * min(semi)  # about the distance to the edge in pixels
    return 1.0 / (1.0 + np.exp(dist / edge))


def _cell(kind: str, shape: tuple, grid: list, rng: np.random.Generator) -> tuple:
    """Render one crop's clean image; return it with its axis ratio and nucleus count."""
    size = min(shape[-2:])
    center = np.array(shape, dtype=float) / 2 - 0.5 + rng.uniform(-0.08, 0.08, len(shape)) * size
    angle = rng.uniform(0, np.pi)
    radius = rng.uniform(0.16, 0.22) * size
    if kind == "multinucleated":
        k = int(rng.integers(2, 5))
        small = radius * rng.uniform(0.42, 0.5)
        dist = 1.6 * small / np.sin(np.pi / k)
        phase = rng.uniform(0, 2 * np.pi)
        image = np.zeros(shape)
        for i in range(k):
            a = phase + 2 * np.pi * i / k
            c = center.copy()
            c[-2:] += dist * np.array([np.sin(a), np.cos(a)])
            image = np.maximum(image, _ellipse(grid, c, (small, small), 0.0, 1.0))
        return image, 1.0, k
    ratio = rng.uniform(2.0, 3.0) if kind == "elongated" else rng.uniform(1.0, 1.2)
    semi = (radius / np.sqrt(ratio), radius * np.sqrt(ratio))
    image = _ellipse(grid, center, semi, angle, 1.0)
    if kind == "textured":
        for _ in range(int(rng.integers(4, 9))):
            off = rng.uniform(-0.6, 0.6, len(shape)) * semi[0]
            image = image + 0.8 * image * _ellipse(grid, center + off, (1.5, 1.5), 0.0, 0.7)
    return image, ratio, 1


def phenotype_crops(
    n_per_class: int | Sequence[int] = 50,
    shape: Sequence[int] = (48, 48),
    *,
    classes: Sequence[str] = ("round", "elongated", "multinucleated"),
    noise: float = 0.05,
    seed: int = 0,
) -> PhenotypeCrops:
    """Generate labelled single-cell crops whose class is a measurable shape property.

    Parameters
    ----------
    n_per_class : int or sequence of int
        Crops per class (a sequence, one count per class, for imbalanced sets).
    shape : sequence of int
        ``(Y, X)`` or ``(Z, Y, X)`` crop shape.
    classes : sequence of str
        Phenotypes among ``"round"``, ``"elongated"``, ``"multinucleated"``,
        ``"textured"``; class id ``i`` is ``classes[i]``.
    noise : float
        Standard deviation of additive Gaussian noise (nuclei have intensity
        0.6-1.0 over a background of 0.1).
    seed : int
        Seed of every random choice; the same seed gives identical crops.

    Returns
    -------
    PhenotypeCrops
        Crops in class order (class 0 first), labels and the measured truth.

    Examples
    --------
    >>> crops = phenotype_crops(2, (32, 32), seed=0)
    >>> len(crops.images), crops.labels.tolist(), crops.images[0].dtype
    (6, [0, 0, 1, 1, 2, 2], dtype('float32'))
    """
    shape = as_shape(shape)
    classes = tuple(classes)
    unknown = [c for c in classes if c not in PHENOTYPES]
    if unknown or len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"classes must be distinct names among {PHENOTYPES}, got {classes}")
    counts = [n_per_class] * len(classes) if np.ndim(n_per_class) == 0 else list(n_per_class)
    if len(counts) != len(classes) or min(int(c) for c in counts) < 0:
        raise ValueError(
            f"n_per_class must be a count >= 0 or one per class ({len(classes)}), got {n_per_class}"
        )
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if min(shape[-2:]) < 16:
        raise ValueError(f"shape {shape} is too small for a cell; use at least 16 pixels in Y, X")
    rng = np.random.default_rng(seed)
    grid = list(np.indices(shape, dtype=float))
    images, labels, ratios, nuclei = [], [], [], []
    for label, (kind, count) in enumerate(zip(classes, counts)):
        for _ in range(int(count)):
            clean, ratio, k = _cell(kind, shape, grid, rng)
            image = 0.1 + rng.uniform(0.6, 1.0) * clean + rng.normal(0, noise, shape)
            images.append(image.astype(np.float32))
            labels.append(label)
            ratios.append(ratio)
            nuclei.append(k)
    return PhenotypeCrops(images, np.asarray(labels, dtype=np.int64), classes,
                          np.asarray(ratios), np.asarray(nuclei))  # fmt: skip
