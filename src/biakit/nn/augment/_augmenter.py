"""The Augmenter: sample one set of parameters, apply it to an image and its target."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from biakit.nn.augment import _geometry as geo
from biakit.nn.augment import _intensity as inten
from biakit.nn.augment._config import AugmentConfig

TargetKind = Literal["labels", "continuous"]


@dataclass(frozen=True, eq=False)
class AugmentParams:
    """One sampled augmentation, fully determining the output.

    Attributes
    ----------
    shape : tuple of int
        Spatial shape the parameters were sampled for.
    flip_axes : tuple of int
        Spatial axes flipped (0 = first spatial axis).
    rot90 : int
        Number of 90-degree rotations in the YX plane (``np.rot90`` sense).
    matrix, offset : numpy.ndarray or None
        Output → input affine map (:func:`scipy.ndimage.affine_transform`);
        ``None``: the identity (no rotation, tilt, shear, zoom nor translation).
    elastic : bool
        Whether an elastic field (drawn from ``seed``) is added.
    brightness, contrast, gamma, blur, gaussian_noise, poisson_noise : float
        Sampled intensity parameters (0, 1, 1, 0, 0, 0 mean "not applied").
    cutout : tuple of (int, int) or None
        ``(start, stop)`` of the zeroed box per spatial axis.
    seed : int
        Seed of the elastic field and noise draws.

    """

    shape: tuple[int, ...]
    flip_axes: tuple[int, ...] = ()
    rot90: int = 0
    matrix: np.ndarray | None = None
    offset: np.ndarray | None = None
    elastic: bool = False
    brightness: float = 0.0
    contrast: float = 1.0
    gamma: float = 1.0
    blur: float = 0.0
    gaussian_noise: float = 0.0
    poisson_noise: float = 0.0
    cutout: tuple[tuple[int, int], ...] | None = None
    seed: int = 0

    @property
    def resamples(self) -> bool:
        """Whether an interpolating resampling pass is needed."""
        if self.elastic:
            return True
        if self.offset is not None and bool(np.any(self.offset)):
            return True
        return self.matrix is not None and not np.allclose(self.matrix, np.eye(len(self.shape)))


class Augmenter:
    """Paired, label-safe augmentation of ``(C, *spatial)`` images and their targets.

    Parameters
    ----------
    config : AugmentConfig or dict, optional
        What to apply; default ``AugmentConfig()`` (flips and 90-degree turns).
    ndim : {2, 3}
        Number of spatial axes: ``(Y, X)`` or ``(Z, Y, X)``.

    Examples
    --------
    >>> import numpy as np
    >>> aug = Augmenter(AugmentConfig(rotation=20, elastic=2.0, p=1.0), ndim=2)
    >>> image = np.random.default_rng(0).random((1, 32, 32), dtype=np.float32)
    >>> labels = np.zeros((32, 32), np.int32); labels[8:20, 8:20] = 3
    >>> img, lab = aug(image, labels, rng=np.random.default_rng(1))
    >>> img.shape, lab.shape, set(np.unique(lab)) <= {0, 3}
    ((1, 32, 32), (32, 32), True)

    """

    def __init__(self, config: AugmentConfig | dict[str, Any] | None = None, ndim: int = 2):
        if config is None:
            config = AugmentConfig()
        elif isinstance(config, dict):
            config = AugmentConfig(**config)
        elif not isinstance(config, AugmentConfig):
            raise TypeError(
                f"config must be an AugmentConfig or a dict; got {type(config).__name__}"
            )
        if ndim not in (2, 3):
            raise ValueError(f"ndim must be 2 or 3 (spatial axes); got {ndim!r}")
        if ndim == 2 and config.tilt:
            raise ValueError(
                f"tilt rotates out of the YX plane and needs ndim=3; got tilt={config.tilt}"
            )
        self.config = config
        self.ndim = ndim

    def __repr__(self) -> str:
        return f"Augmenter({self.config!r}, ndim={self.ndim})"

    # -- sampling -------------------------------------------------------------------------------

    def _on(self, rng: np.random.Generator, enabled: Any) -> bool:
        return bool(enabled) and bool(rng.random() < self.config.p)

    def _sample_geometry(self, shape: tuple[int, ...], rng: np.random.Generator) -> dict[str, Any]:
        cfg, nd = self.config, self.ndim
        flippable = range(nd) if (nd == 2 or cfg.flip_z) else range(1, nd)
        flips = tuple(a for a in flippable if self._on(rng, cfg.flip))
        k90 = 0
        if self._on(rng, cfg.rotate90):
            k90 = int(rng.integers(1, 4)) if shape[-1] == shape[-2] else 2
        angle = rng.uniform(-cfg.rotation, cfg.rotation) if self._on(rng, cfg.rotation) else 0.0
        tilt = (0.0, 0.0)
        if self._on(rng, cfg.tilt):
            tilt = (rng.uniform(-cfg.tilt, cfg.tilt), rng.uniform(-cfg.tilt, cfg.tilt))
        shift = np.zeros(nd)
        if self._on(rng, cfg.translation):
            shift = rng.uniform(-cfg.translation, cfg.translation, nd) * np.asarray(shape)
        zoom = 1.0
        if self._on(rng, cfg.zoom != (1.0, 1.0)):
            zoom = float(np.exp(rng.uniform(*np.log(cfg.zoom))))
        shear = (0.0, 0.0)
        if self._on(rng, cfg.shear):
            shear = (rng.uniform(-cfg.shear, cfg.shear), rng.uniform(-cfg.shear, cfg.shear))
        plain = angle == 0.0 and tilt == (0.0, 0.0) and shear == (0.0, 0.0) and zoom == 1.0
        if plain and not shift.any():  # flips and 90-degree turns only: no affine map
            matrix, offset = None, None  # to build (0.2 ms per sample saved, issue 11)
        else:
            forward = geo.forward_matrix(nd, rotation=angle, tilt=tilt, shear=shear, zoom=zoom)
            matrix, offset = geo.inverse_affine(forward, shift, shape)
        return {
            "flip_axes": flips,
            "rot90": k90,
            "matrix": matrix,
            "offset": offset,
            "elastic": self._on(rng, cfg.elastic),
        }

    def _sample_intensity(self, shape: tuple[int, ...], rng: np.random.Generator) -> dict[str, Any]:
        cfg = self.config
        out: dict[str, Any] = {}
        if self._on(rng, cfg.brightness):
            out["brightness"] = float(rng.uniform(-cfg.brightness, cfg.brightness))
        if self._on(rng, cfg.contrast):
            out["contrast"] = float(rng.uniform(1 - cfg.contrast, 1 + cfg.contrast))
        if self._on(rng, cfg.gamma != (1.0, 1.0)):
            out["gamma"] = float(np.exp(rng.uniform(*np.log(cfg.gamma))))
        if self._on(rng, cfg.blur):
            out["blur"] = float(rng.uniform(0, cfg.blur))
        if self._on(rng, cfg.gaussian_noise):
            out["gaussian_noise"] = float(rng.uniform(0, cfg.gaussian_noise))
        if self._on(rng, cfg.poisson_noise):
            out["poisson_noise"] = float(rng.uniform(0, cfg.poisson_noise))
        if cfg.cutout and rng.random() < cfg.cutout:
            box = []
            for n in shape:
                size = int(rng.integers(1, max(1, round(cfg.cutout_size * n)) + 1))
                start = int(rng.integers(0, n - size + 1))
                box.append((start, start + size))
            out["cutout"] = tuple(box)
        return out

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator | int) -> AugmentParams:
        """Draw the parameters of one augmentation for a patch of spatial ``shape``.

        Parameters
        ----------
        shape : tuple of int
            Spatial shape ``(Y, X)`` or ``(Z, Y, X)``.
        rng : numpy.random.Generator or int
            Source of randomness (an int is used as a seed).

        Returns
        -------
        params : AugmentParams
            Pass to :meth:`apply`; the same params give the same output.

        """
        rng = _as_rng(rng)
        shape = tuple(int(n) for n in shape)
        if len(shape) != self.ndim:
            raise ValueError(f"shape must have {self.ndim} spatial axes; got {shape}")
        geometry = self._sample_geometry(shape, rng)
        intensity = self._sample_intensity(shape, rng)
        seed = int(rng.integers(0, 2**63 - 1))
        return AugmentParams(shape=shape, **geometry, **intensity, seed=seed)

    # -- application ----------------------------------------------------------------------------

    def __call__(
        self,
        image: np.ndarray,
        target: np.ndarray | None = None,
        *,
        rng: np.random.Generator | int,
        target_kind: TargetKind = "labels",
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Augment one image and its target with freshly sampled parameters.

        Parameters
        ----------
        image : numpy.ndarray
            ``(C, *spatial)`` image (cast to float32).
        target : numpy.ndarray, optional
            ``(*spatial)`` integer labels (``target_kind="labels"``) or
            ``(Ct, *spatial)`` float maps (``target_kind="continuous"``).
        rng : numpy.random.Generator or int
            Source of randomness (an int is used as a seed).
        target_kind : {"labels", "continuous"}
            Labels are resampled nearest-neighbour (no new values), continuous
            targets with ``config.continuous_order``.

        Returns
        -------
        image : numpy.ndarray
            float32, same shape as the input.
        target : numpy.ndarray or None
            Same shape and dtype as the input target.

        """
        image, target = self._check(image, target, target_kind)
        params = self.sample(image.shape[1:], rng)
        return self._apply_checked(image, target, params, target_kind)

    def apply(
        self,
        image: np.ndarray,
        target: np.ndarray | None,
        params: AugmentParams,
        *,
        target_kind: TargetKind = "labels",
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Apply sampled ``params`` (see :meth:`sample`); arguments as in ``__call__``."""
        image, target = self._check(image, target, target_kind)
        if tuple(image.shape[1:]) != params.shape:
            raise ValueError(
                f"params were sampled for spatial shape {params.shape}; image has {image.shape[1:]}"
            )
        return self._apply_checked(image, target, params, target_kind)

    def _apply_checked(
        self,
        image: np.ndarray,
        target: np.ndarray | None,
        params: AugmentParams,
        target_kind: TargetKind,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        image_out, target_out = self._apply_geometry(image, target, params, target_kind)
        image_out = self._apply_intensity(image_out, params)
        return image_out, target_out

    def _apply_geometry(
        self,
        image: np.ndarray,
        target: np.ndarray | None,
        params: AugmentParams,
        target_kind: TargetKind,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        cfg, nd = self.config, self.ndim
        image = geo.flip_rotate(image, params.flip_axes, params.rot90, nd)
        if target is not None:
            target = geo.flip_rotate(target, params.flip_axes, params.rot90, nd)
        if not params.resamples:
            image = np.array(image, dtype=np.float32, order="C")
            return image, None if target is None else np.ascontiguousarray(target).copy()
        matrix = np.eye(nd) if params.matrix is None else np.asarray(params.matrix, float)
        offset = np.zeros(nd) if params.offset is None else np.asarray(params.offset, float)
        coords = None
        if params.elastic:
            field_rng = np.random.default_rng(params.seed)
            field = geo.elastic_field(params.shape, cfg.elastic, cfg.elastic_sigma, field_rng)
            coords = geo.sample_coordinates(params.shape, matrix, offset, field)
        common = {"matrix": matrix, "offset": offset, "coords": coords}
        image_out = np.empty(image.shape, dtype=np.float32)
        for c in range(image.shape[0]):
            image_out[c] = geo.resample(image[c], **common, order=cfg.order, mode="reflect")
        if target is None:
            return image_out, None
        mode = cfg.target_mode
        if mode == "auto":
            mode = "constant" if target_kind == "labels" else "reflect"
        if target_kind == "labels":
            return image_out, geo.resample(target, **common, order=0, mode=mode)
        target_out = np.empty(target.shape, dtype=target.dtype)
        for c in range(target.shape[0]):
            target_out[c] = geo.resample(target[c], **common, order=cfg.continuous_order, mode=mode)
        return image_out, target_out

    def _apply_intensity(self, image: np.ndarray, params: AugmentParams) -> np.ndarray:
        noisy = params.gaussian_noise or params.poisson_noise  # only noise draws from it
        noise_rng = np.random.default_rng([params.seed, 1]) if noisy else None
        if params.brightness or params.contrast != 1.0:
            image = inten.brightness_contrast(image, params.brightness, params.contrast)
        if params.gamma != 1.0:
            image = inten.gamma_correct(image, params.gamma)
        if params.blur:
            image = inten.blur(image, params.blur)
        if params.gaussian_noise:
            image = inten.gaussian_noise(image, params.gaussian_noise, noise_rng)
        if params.poisson_noise:
            image = inten.poisson_noise(image, params.poisson_noise, noise_rng)
        if params.cutout is not None:
            image = inten.cutout(image, params.cutout)
        return image

    def _check(
        self, image: Any, target: Any, target_kind: str
    ) -> tuple[np.ndarray, np.ndarray | None]:
        nd = self.ndim
        spatial_axes = "Y, X" if nd == 2 else "Z, Y, X"
        image = np.asarray(image)
        if image.ndim != nd + 1:
            raise ValueError(
                f"image must have shape (C, {spatial_axes}) for ndim={nd}; got shape {image.shape} "
                "(add a channel axis with image[None] if needed)"
            )
        if not (np.issubdtype(image.dtype, np.number) or image.dtype == bool):
            raise TypeError(f"image must be numeric; got dtype {image.dtype}")
        if target_kind not in ("labels", "continuous"):
            raise ValueError(f"target_kind must be 'labels' or 'continuous'; got {target_kind!r}")
        image = image.astype(np.float32, copy=False)
        if target is None:
            return image, None
        target = np.asarray(target)
        if target_kind == "labels":
            if not (np.issubdtype(target.dtype, np.integer) or target.dtype == bool):
                raise TypeError(
                    f"target_kind='labels' needs an integer target; got dtype {target.dtype} "
                    "(use target_kind='continuous' for float maps)"
                )
            want, spatial = nd, target.shape
        else:
            if not np.issubdtype(target.dtype, np.floating):
                raise TypeError(
                    f"target_kind='continuous' needs a float target; got dtype {target.dtype}"
                )
            want, spatial = nd + 1, target.shape[1:]
        if target.ndim != want:
            expected = f"({spatial_axes})" if target_kind == "labels" else f"(Ct, {spatial_axes})"
            raise ValueError(
                f"{target_kind} target must have shape {expected} "
                f"for ndim={nd}; got shape {target.shape}"
            )
        if tuple(spatial) != tuple(image.shape[1:]):
            raise ValueError(
                f"target spatial shape {tuple(spatial)} does not match image spatial shape "
                f"{tuple(image.shape[1:])}"
            )
        return image, target


def _as_rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a numpy.random.Generator or an int seed; got {type(rng).__name__}"
    )
