"""Neural network architectures: U-Net (Ronneberger 2015) and 3D U-Net (Cicek 2016).

* :class:`UNetConfig`: validated architecture (pydantic), with the tiling geometry
  ``divisor``, ``check_patch`` and ``halo`` (analytic receptive field).
* :class:`UNet`: the ``torch.nn.Module`` (2D or 3D, batch / group / instance norm,
  residual blocks, attention gates, anisotropic pooling, transposed or
  interpolation up-sampling; N2V2's blur-pool and no top skip connection);
  :func:`unet` builds one for the common case.
* :func:`count_parameters`: number of trainable parameters.
* :class:`EDSRLite` / :class:`RCANLite` with :class:`EDSRConfig` / :class:`RCANConfig`:
  super-resolution networks with sub-pixel (pixel-shuffle) up-sampling, 2D and 3D.
* :func:`get_architecture`, :func:`build_network`, :func:`register_architecture`: the
  registry of versioned architecture ids that model folders refer to.

``UNetConfig`` imports without PyTorch; the other names need it and are imported on
first use.
"""

from __future__ import annotations

from biakit._lazy import lazy_exports

_ATTRS = {
    "UNetConfig": "_config",
    "UNet": "_unet",
    "unet": "_unet",
    "count_parameters": "_unet",
    "EDSRConfig": "_sr_config",
    "RCANConfig": "_sr_config",
    "SRConfig": "_sr_config",
    "EDSRLite": "_sr",
    "RCANLite": "_sr",
    "pixel_shuffle_nd": "_sr",
    "ResNetConfig": "_resnet_config",
    "ResNetSmall": "_resnet",
    "ViTConfig": "_vit_config",
    "ViTTiny": "_vit",
    "VideoNetConfig": "_video_config",
    "SimVPConfig": "_video_config",
    "ConvLSTMConfig": "_video_config",
    "SimVP": "_simvp",
    "ConvLSTM": "_convlstm",
    "ARCHITECTURES": "_registry",
    "Architecture": "_registry",
    "build_network": "_registry",
    "get_architecture": "_registry",
    "register_architecture": "_registry",
}


__getattr__, __dir__, __all__ = lazy_exports(__name__, _ATTRS)
