"""Feature specifications: which filters at which scales, with stable feature names."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DERIVATIVES = ("finite", "gradient", "gaussian")

# filter name -> (takes sigmas, allowed spatial dims, default params)
_FILTERS: dict[str, tuple[bool, tuple[int, ...], dict[str, Any]]] = {
    "intensity": (False, (2, 3), {}),
    "gaussian": (True, (2, 3), {}),
    "gradient_magnitude": (True, (2, 3), {}),
    "sobel": (True, (2, 3), {}),
    "laplacian": (True, (2, 3), {}),
    "dog": (True, (2, 3), {"ratio": None}),
    "hessian": (True, (2, 3), {}),
    "structure_tensor": (True, (2, 3), {"outer_ratio": 0.5}),
    "mean": (True, (2, 3), {}),
    "variance": (True, (2, 3), {}),
    "min": (True, (2, 3), {}),
    "max": (True, (2, 3), {}),
    "median": (True, (2, 3), {}),
    "entropy": (True, (2, 3), {"bins": 32}),
    "gabor": (True, (2,), {"n_orientations": 4}),
    "membrane": (False, (2,), {"patch_size": 19, "thickness": 1, "n_angles": 30}),
    "neighbours": (True, (2, 3), {}),
}
FILTER_NAMES: tuple[str, ...] = tuple(_FILTERS)
"""Names accepted by :class:`FilterSpec`."""

MEMBRANE_STATS = ("sum", "mean", "std", "median", "max", "min")


def fmt_sigma(value: float) -> str:
    """Format a scale for feature names: ``1.0``, ``0.3``, ``0.198``."""
    return repr(round(float(value), 4))


@dataclass(frozen=True)
class FilterSpec:
    """One filter family evaluated at one or more scales.

    Parameters
    ----------
    name : str
        One of :data:`FILTER_NAMES`.
    sigmas : sequence of float
        Scales (Gaussian sigma, or window radius for local statistics), in
        physical units when a spacing is given; empty for ``intensity`` and
        ``membrane``.
    params : mapping, optional
        Filter options: ``dog``: ``ratio`` (None = every pair ``s_i < s_j`` of
        ``sigmas``, a float = pairs ``(s, ratio * s)`` as ilastik with 0.66);
        ``structure_tensor``: ``outer_ratio`` (outer sigma = ratio x inner, 0.5
        is ilastik's convention); ``entropy``: ``bins``; ``gabor``:
        ``n_orientations``; ``membrane``: ``patch_size``, ``thickness``,
        ``n_angles``.

    Examples
    --------
    >>> FilterSpec("hessian", (1.0, 2.0)).names(2)
    ['hessian_eig1_s1.0', 'hessian_eig2_s1.0', 'hessian_eig1_s2.0', 'hessian_eig2_s2.0']

    """

    name: str
    sigmas: tuple[float, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in _FILTERS:
            raise ValueError(
                f"unknown filter name {self.name!r}; valid names: {', '.join(FILTER_NAMES)}"
            )
        scaled, _, defaults = _FILTERS[self.name]
        if isinstance(self.sigmas, (int, float)):
            object.__setattr__(self, "sigmas", (self.sigmas,))
        sigmas = tuple(float(s) for s in self.sigmas)
        if any(not s > 0 for s in sigmas):
            raise ValueError(f"sigmas of filter {self.name!r} must be > 0, got {sigmas}")
        if scaled and not sigmas:
            raise ValueError(f"filter {self.name!r} needs at least one sigma, got none")
        if not scaled and sigmas:
            raise ValueError(f"filter {self.name!r} takes no sigmas, got {sigmas}")
        unknown = sorted(set(self.params) - set(defaults))
        if unknown:
            raise ValueError(
                f"unknown params {unknown} for filter {self.name!r}; valid: {sorted(defaults)}"
            )
        object.__setattr__(self, "sigmas", sigmas)
        object.__setattr__(self, "params", {**defaults, **dict(self.params)})
        if self.name == "dog" and self.params["ratio"] is None and len(sigmas) < 2:
            raise ValueError(f"filter 'dog' without a ratio needs >= 2 sigmas, got {sigmas}")

    @property
    def dims(self) -> tuple[int, ...]:
        """Spatial dimensionalities this filter supports."""
        return _FILTERS[self.name][1]

    def dog_pairs(self) -> list[tuple[float, float]]:
        """Return the (smaller, larger-or-ratio) sigma pairs of a ``dog`` filter."""
        ratio = self.params["ratio"]
        if ratio is None:
            return list(itertools.combinations(sorted(self.sigmas), 2))
        return [(s, round(float(ratio) * s, 6)) for s in self.sigmas]

    def names(self, ndim: int) -> list[str]:
        """Feature names of this filter for an ``ndim``-D image, in output order."""
        n, s = self.name, [fmt_sigma(v) for v in self.sigmas]
        if n == "intensity":
            return ["intensity"]
        if n == "membrane":
            return [f"membrane_{stat}" for stat in MEMBRANE_STATS]
        if n == "dog":
            return [f"dog_s{fmt_sigma(a)}_{fmt_sigma(b)}" for a, b in self.dog_pairs()]
        if n in ("hessian", "structure_tensor"):
            return [f"{n}_eig{k + 1}_s{v}" for v in s for k in range(ndim)]
        if n == "gabor":
            m = int(self.params["n_orientations"])
            return [f"gabor_o{k}_s{v}" for v in s for k in range(m)]
        if n == "neighbours":
            return [f"neighbours_d{k}_s{v}" for v in s for k in range(3**ndim - 1)]
        return [f"{n}_s{v}" for v in s]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {"name": self.name, "sigmas": list(self.sigmas), "params": dict(self.params)}


@dataclass(frozen=True)
class FeatureSpec:
    """A filter bank: filters, scales and the derivative convention.

    Parameters
    ----------
    filters : sequence of FilterSpec
        Filters in output order.
    ndim : int, optional
        Spatial dimensionality (2 or 3); needed by :meth:`names` when a filter's
        output count depends on it (Hessian, structure tensor, neighbours) and
        checked against the image by :func:`compute_features`.
    derivatives : {"finite", "gradient", "gaussian"}
        How derivatives of the Gaussian-smoothed image are taken:
        ``"finite"`` smooths once per scale and uses 3-point central differences
        (fast; default), ``"gradient"`` uses ``np.gradient`` twice for second
        derivatives (skimage's ``multiscale_basic_features`` convention),
        ``"gaussian"`` uses sampled Gaussian-derivative kernels (scipy's
        ``gaussian_filter(order=...)``, ilastik/vigra's convention; slower).
    truncate : float
        Gaussian kernel radius in sigmas (scipy's default 4.0; 3.5 mimics
        ilastik's window ratio).

    Examples
    --------
    >>> spec = FeatureSpec([FilterSpec("gaussian", (1.0,)), FilterSpec("hessian", (1.0,))], ndim=2)
    >>> spec.names()
    ['gaussian_s1.0', 'hessian_eig1_s1.0', 'hessian_eig2_s1.0']
    >>> FeatureSpec.from_dict(spec.to_dict()) == spec
    True

    """

    filters: Sequence[FilterSpec]
    ndim: int | None = None
    derivatives: str = "finite"
    truncate: float = 4.0

    def __post_init__(self) -> None:
        filters = tuple(self.filters)
        if not filters:
            raise ValueError("filters must hold at least one FilterSpec, got none")
        for f in filters:
            if not isinstance(f, FilterSpec):
                raise TypeError(f"filters must be FilterSpec objects, got {type(f).__name__}")
        object.__setattr__(self, "filters", filters)
        if self.ndim is not None and self.ndim not in (2, 3):
            raise ValueError(f"ndim must be 2 or 3, got {self.ndim}")
        if self.derivatives not in DERIVATIVES:
            raise ValueError(f"derivatives must be one of {DERIVATIVES}, got {self.derivatives!r}")
        if not self.truncate > 0:
            raise ValueError(f"truncate must be > 0, got {self.truncate}")
        if self.ndim is not None:
            self.check_ndim(self.ndim)
        names = self.names(1, ndim=self.ndim or 2)
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate feature names {dup}; remove repeated filters or sigmas")

    def check_ndim(self, ndim: int) -> None:
        """Raise ValueError if a filter does not support ``ndim`` spatial dimensions."""
        for f in self.filters:
            if ndim not in f.dims:
                raise ValueError(
                    f"filter {f.name!r} supports only {f.dims[0]}-D images, got a {ndim}-D image"
                )

    def _ndim(self, ndim: int | None) -> int:
        nd = ndim if ndim is not None else self.ndim
        if nd is None:
            if any(f.name in ("hessian", "structure_tensor", "neighbours") for f in self.filters):
                raise ValueError("this spec's feature count depends on ndim; pass ndim=2 or 3")
            return 2
        return int(nd)

    def names(self, n_channels: int = 1, *, ndim: int | None = None) -> list[str]:
        """Stable, unique feature names in output order (``c0_``... prefixes with channels)."""
        nd = self._ndim(ndim)
        base = [name for f in self.filters for name in f.names(nd)]
        if n_channels == 1:
            return base
        return [f"c{c}_{name}" for c in range(n_channels) for name in base]

    def n_features(self, n_channels: int = 1, *, ndim: int | None = None) -> int:
        """Return the number of features (``len(names(...))``)."""
        return len(self.names(n_channels, ndim=ndim))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (see :meth:`from_dict`)."""
        return {
            "filters": [f.to_dict() for f in self.filters],
            "ndim": self.ndim,
            "derivatives": self.derivatives,
            "truncate": self.truncate,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureSpec:
        """Rebuild a spec from :meth:`to_dict` output."""
        if not isinstance(d, Mapping) or "filters" not in d:
            raise ValueError(f"expected a dict with a 'filters' list, got {d!r:.80}")
        filters = [
            FilterSpec(f["name"], tuple(f.get("sigmas", ())), dict(f.get("params", {})))
            for f in d["filters"]
        ]
        return cls(
            filters,
            ndim=d.get("ndim"),
            derivatives=d.get("derivatives", "finite"),
            truncate=float(d.get("truncate", 4.0)),
        )
