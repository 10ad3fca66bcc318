"""Registry of network architectures: a stable, versioned id for every network biakit builds.

A model folder records the architecture id and version next to its weights,
so that a later release rebuilds exactly the network the weights belong to.
An architecture's ``version`` changes whenever a code change would make saved
weights load into a different function (renamed layers, changed defaults);
the old version stays registered (or gets a converter) so old folders keep
loading.

>>> from biakit.nn.models import get_architecture
>>> arch = get_architecture("unet")
>>> arch.id, arch.version, arch.config_class.__name__
('unet', 1, 'UNetConfig')
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from biakit.errors import ModelFileError, ParameterError


@dataclass(frozen=True)
class Architecture:
    """One registered network.

    Attributes
    ----------
    id : str
        Stable name (``"unet"``), written into model folders.
    version : int
        Weight-compatibility version of the implementation.
    config_class : type
        Pydantic model validating the architecture's options.
    builder : str
        ``"module:Class"`` of the ``torch.nn.Module`` taking the config (imported lazily,
        so the registry needs no PyTorch).
    summary : str
        One line for listings.
    """

    id: str
    version: int
    config_class: type
    builder: str
    summary: str

    def build(self, config: Any) -> Any:
        """Return a new ``torch.nn.Module`` for ``config`` (a config object or a mapping)."""
        if isinstance(config, Mapping):
            config = self.config_class.model_validate(dict(config))
        module_name, class_name = self.builder.split(":")
        return getattr(importlib.import_module(module_name), class_name)(config)


ARCHITECTURES: dict[str, Architecture] = {}


def register_architecture(arch: Architecture) -> Architecture:
    """Add ``arch`` to the registry (an id may be registered only once)."""
    if arch.id in ARCHITECTURES:
        raise ParameterError(f"architecture {arch.id!r} is registered already")
    ARCHITECTURES[arch.id] = arch
    return arch


def get_architecture(arch_id: str, version: int | None = None) -> Architecture:
    """Return the registered architecture ``arch_id`` (checking ``version`` when given).

    Raises
    ------
    ModelFileError
        Unknown id, or a version this release cannot build (a folder written
        by a newer biakit).
    """
    if arch_id not in ARCHITECTURES:
        raise ModelFileError(
            f"unknown network architecture {arch_id!r}; this biakit knows: "
            f"{', '.join(sorted(ARCHITECTURES))}"
        )
    arch = ARCHITECTURES[arch_id]
    if version is not None and int(version) > arch.version:
        raise ModelFileError(
            f"architecture {arch_id!r} version {version} was written by a newer biakit "
            f"(this one builds version {arch.version}); upgrade biakit"
        )
    return arch


def build_network(arch_id: str, config: Any, *, version: int | None = None) -> Any:
    """Build the network ``arch_id`` from its config (object or mapping).

    Examples
    --------
    >>> net = build_network("unet", {"ndim": 2, "depth": 1, "base_filters": 2})
    >>> type(net).__name__
    'UNet'
    """
    return get_architecture(arch_id, version).build(config)


def _register_builtin() -> None:
    from biakit.nn.models._config import UNetConfig

    register_architecture(
        Architecture(
            id="unet",
            version=1,
            config_class=UNetConfig,
            builder="biakit.nn.models._unet:UNet",
            summary="U-Net / 3D U-Net (Ronneberger 2015, Cicek 2016), residual and attention "
            "options",
        )
    )
    from biakit.nn.models._sr_config import EDSRConfig, RCANConfig

    register_architecture(
        Architecture(
            id="edsr_lite",
            version=1,
            config_class=EDSRConfig,
            builder="biakit.nn.models._sr:EDSRLite",
            summary="EDSR-lite super-resolution (Lim 2017), sub-pixel up-sampling, 2D / 3D",
        )
    )
    register_architecture(
        Architecture(
            id="rcan_lite",
            version=1,
            config_class=RCANConfig,
            builder="biakit.nn.models._sr:RCANLite",
            summary="RCAN-lite super-resolution (Zhang 2018), channel attention, 2D / 3D",
        )
    )

    from biakit.nn.models._resnet_config import ResNetConfig

    register_architecture(
        Architecture(
            id="resnet_small",
            version=1,
            config_class=ResNetConfig,
            builder="biakit.nn.models._resnet:ResNetSmall",
            summary="small ResNet classifier (He 2016), basic blocks, global average pooling, "
            "2D / 3D",
        )
    )

    from biakit.nn.models._video_config import ConvLSTMConfig, SimVPConfig

    register_architecture(
        Architecture(
            id="simvp",
            version=1,
            config_class=SimVPConfig,
            builder="biakit.nn.models._simvp:SimVP",
            summary="SimVP frame predictor (Gao 2022): per-frame conv encoder, inception "
            "translator, decoder; K frames at once, 2D / 3D",
        )
    )
    register_architecture(
        Architecture(
            id="convlstm",
            version=1,
            config_class=ConvLSTMConfig,
            builder="biakit.nn.models._convlstm:ConvLSTM",
            summary="ConvLSTM encoder-forecaster (Shi 2015), recurrent frame predictor, 2D / 3D",
        )
    )

    from biakit.nn.models._vit_config import ViTConfig

    register_architecture(
        Architecture(
            id="vit_tiny",
            version=1,
            config_class=ViTConfig,
            builder="biakit.nn.models._vit:ViTTiny",
            summary="tiny vision transformer classifier (Dosovitskiy 2021), patch embedding, "
            "sine-cosine positions, mean or class-token pooling, 2D / 3D",
        )
    )


_register_builtin()
