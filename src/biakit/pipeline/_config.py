"""Pydantic configuration of a classical pipeline, validated at the edge.

A pipeline config in YAML::

    name: nuclei
    channel: 0              # which channel to segment when the image has several
    spacing: [2.0, 0.5, 0.5]  # optional override of the file's spacing (Z, Y, X)
    steps:
      - step: gaussian
        sigma: 1.0
      - step: threshold
        method: otsu
      - step: fill_holes
      - step: split_touching
    outputs: {labels: true, measurements: true, overlays: true}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from biakit.errors import ConfigError
from biakit.pipeline._steps import STEPS, params_model, step_names


class StepConfig(BaseModel):
    """One step: a registered name and its parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _flat_params(cls, data: Any) -> Any:
        # Accept the flat YAML form {"step": "gaussian", "sigma": 1.0}.
        if isinstance(data, str):
            return {"step": data}
        if isinstance(data, dict) and "step" in data and "params" not in data:
            rest = {k: v for k, v in data.items() if k != "step"}
            return {"step": data["step"], "params": rest}
        return data

    @model_validator(mode="after")
    def _check_step(self) -> StepConfig:
        if self.step not in STEPS:
            raise ValueError(f"unknown step {self.step!r}; valid steps: {', '.join(step_names())}")
        model = params_model(self.step)
        unknown = sorted(set(self.params) - set(model.model_fields))
        if unknown:
            valid = ", ".join(model.model_fields) or "(none)"
            raise ValueError(
                f"step {self.step!r} has no parameter {', '.join(map(repr, unknown))}; "
                f"valid: {valid}"
            )
        try:
            model(**self.params)
        except pydantic.ValidationError as err:
            first = err.errors()[0]
            param = first["loc"][0] if first["loc"] else "?"
            raise ValueError(
                f"step {self.step!r} parameter {param!r}: {first['msg']} "
                f"(got {first.get('input')!r})"
            ) from None
        return self


class OutputConfig(BaseModel):
    """Which files a pipeline run writes per image."""

    model_config = ConfigDict(extra="forbid")

    labels: bool = True
    measurements: bool = True
    overlays: bool = True


class PipelineConfig(BaseModel):
    """A classical pipeline: ordered steps plus input and output options."""

    model_config = ConfigDict(extra="forbid")

    name: str = "pipeline"
    channel: int | None = Field(default=None, ge=0)
    spacing: tuple[float, ...] | None = None
    steps: list[StepConfig] = Field(min_length=1)
    outputs: OutputConfig = Field(default_factory=OutputConfig)

    @field_validator("spacing")
    @classmethod
    def _positive_spacing(cls, v: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if v is not None and (len(v) not in (2, 3) or any(s <= 0 for s in v)):
            raise ValueError(f"spacing must be 2 or 3 positive numbers (Y, X or Z, Y, X), got {v}")
        return v


def format_validation_error(err: pydantic.ValidationError, source: str) -> str:
    """One line naming the source, the field and the problem of the first error."""
    first = err.errors()[0]
    loc = ".".join(str(x) for x in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    where = f" at {loc}" if loc else ""
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{source}: invalid config{where}: {msg}{more}"


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a YAML pipeline config.

    Raises
    ------
    ConfigError
        Missing file, malformed YAML or an invalid field; the message names
        the file and the offending field.

    """
    data = read_yaml_mapping(path, "a 'steps' list")
    return parse_config(data, source=str(path))


MAX_CONFIG_BYTES = 1 << 20
"""Largest YAML config read (1 MiB): configs are a few hundred bytes."""
MAX_CONFIG_VALUES = 100_000
"""Most values a YAML config may expand to through its aliases (stops "billion laughs")."""


def read_yaml_mapping(path: str | Path, expected: str) -> dict[str, Any]:
    r"""Read a YAML file that must hold a mapping; errors name the file and what was expected.

    The file is parsed safely (no Python tags), must be UTF-8, at most
    :data:`MAX_CONFIG_BYTES` long, hold one document without duplicate keys or
    recursive aliases, and expand to at most :data:`MAX_CONFIG_VALUES` values.

    Raises
    ------
    ConfigError
        The file is missing, unreadable, too large, not valid YAML (the message
        gives the line and column), an alias bomb, or does not hold a mapping
        (``expected`` says what the mapping should contain).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "c.yaml"
    >>> _ = p.write_text("steps:\n  - fill_holes\n")
    >>> read_yaml_mapping(p, "a 'steps' list")
    {'steps': ['fill_holes']}
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise ConfigError(f"{path}: config file {what}")
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{path}: {size} bytes is too large for a config (at most {MAX_CONFIG_BYTES})"
            )
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not a UTF-8 text file (byte {err.start}); expected a YAML config"
        ) from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config ({err.strerror or err})") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_node(node, path)
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({_yaml_problem(err)})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML (nested too deeply)") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with {expected} at the top level")
    return data


def _yaml_problem(err: yaml.YAMLError) -> str:
    """One line: the problem and where (line and column, 1-based)."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or getattr(err, "context", None) or str(err)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + " ".join(str(problem).split())


def _check_node(root: yaml.Node, path: Path) -> None:
    """Refuse recursive aliases, alias bombs and duplicate keys in a composed YAML document."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ConfigError(f"{path}: line {node.start_mark.line + 1}: recursive YAML alias")
        active.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in seen:
                        raise ConfigError(
                            f"{path}: line {k.start_mark.line + 1}: duplicate key {k.value!r}"
                        )
                    seen.add(k.value)
                total += size(k) + size(v)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(v) for v in node.value)
        active.discard(key)
        if total > MAX_CONFIG_VALUES:
            raise ConfigError(
                f"{path}: the YAML expands to more than {MAX_CONFIG_VALUES} values through its "
                f"aliases (&anchor / *alias); expected a small config"
            )
        sizes[key] = total
        return total

    size(root)


def parse_config(data: dict[str, Any], *, source: str = "config") -> PipelineConfig:
    """Validate a config given as a dictionary (e.g. parsed YAML)."""
    try:
        return PipelineConfig.model_validate(data)
    except pydantic.ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None
