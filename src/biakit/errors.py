"""The user-error family: mistakes in inputs, parameters, configs and files.

Every error a user can fix (a wrong parameter, an unreadable file, an invalid
config, a tampered model folder) is a :class:`UserError`. Its message says
what was received, what was expected and which file or parameter it concerns;
the command line prints it as one line and exits with status 2. Anything else
is a bug in biakit: exit status 1 and a hint to re-run with ``BIAKIT_DEBUG=1``.

``UserError`` subclasses :class:`ValueError`, so code that catches
``ValueError`` (as scikit-image users do) keeps working.

>>> from biakit.errors import ConfigError, UserError
>>> issubclass(ConfigError, UserError), issubclass(UserError, ValueError)
(True, True)
>>> str(ConfigError("train.epochz: unknown key"))
'train.epochz: unknown key'
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "ImageReadError",
    "ImageWriteError",
    "ModelFileError",
    "ParameterError",
    "PipelineError",
    "UserError",
]


class UserError(ValueError):
    """A mistake the user can fix; the message names the file or parameter."""


class ParameterError(UserError):
    """A parameter has a value outside what the function accepts."""


class DataError(UserError):
    """Array data are unusable: NaN/Inf, wrong dimensionality, wrong label type, ..."""


class ConfigError(UserError):
    """A configuration (YAML, JSON, pydantic) is invalid; the message names the field."""


class ImageReadError(UserError):
    """A file could not be read as an image; the message names the file and the problem."""


class ImageWriteError(UserError):
    """An image could not be written; the message names the file and the problem."""


class ModelFileError(UserError):
    """A model folder is missing, incomplete, of another format or tampered with."""


class PipelineError(UserError):
    """A pipeline step failed on the given data; the message names the step."""
